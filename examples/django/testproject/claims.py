"""
TEST ONLY. The test sends the claims of an "already verified" token as JSON in the
X-Test-Claims header, so it can exercise FirebreakGuardMiddleware's token checks without a
JWT library. Never do this in an app: anyone could send any claims. A real callable returns
the claims of a token whose signature and expiry it verified (see examples/django/README.md).
"""

import json
from typing import Any

from django.http import HttpRequest


def claims_from_test_header(request: HttpRequest) -> dict[str, Any] | None:
    raw = request.headers.get("X-Test-Claims")
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None
