#!/usr/bin/env python3
"""
Reads contract keys through Django's cache the way the middleware does, and prints JSON:

  python3 check_contract.py EMERGENCY_LOCKDOWN fb:revoked_before:all ...
  -> {"get": {"EMERGENCY_LOCKDOWN": {"type": "int", "value": 1}, ...}, "get_many": {...}, "made_key": {...}}

A key that is absent has {"type": "NoneType", "value": null} under "get" and is missing
from "get_many". Run with PYTHONPATH=.tools/django and the same environment
as the test project's server (FIREBREAK_TEST_KEY_PREFIX).
"""

import json
import os
import sys

sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402


def describe(value):
    return {
        "type": type(value).__name__,
        "value": value if isinstance(value, (int, str, type(None))) else repr(value),
    }


keys = sys.argv[1:]
print(
    json.dumps(
        {
            "get": {k: describe(cache.get(k)) for k in keys},
            "get_many": {k: describe(v) for k, v in cache.get_many(keys).items()},
            "made_key": {k: cache.make_key(k) for k in keys},
        }
    )
)
