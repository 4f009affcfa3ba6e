"""
Firebreak revocation for djangorestframework-simplejwt, on the paths the middleware cannot see.

A refresh token travels in the body of ``POST /api/token/refresh/``, not in the
``Authorization`` header, so ``FirebreakGuardMiddleware`` never checks it, and the access token
simplejwt mints from it is brand new (its own ``jti``, ``iat`` = now), so it passes every
revocation check. Without simplejwt's ``token_blacklist`` app nothing else stops a revoked
user from minting access tokens until the refresh token expires. This module closes that:

``FirebreakRefreshToken`` / ``FirebreakSlidingToken``
    simplejwt's token classes whose ``verify()`` (signature, expiry, blacklist when installed)
    also reads Firebreak's keys for the token with ONE ``cache.get_many`` -- ``fb:revoked:jti:<jti>``,
    ``fb:revoked_before:user:<user_id>``, ``fb:revoked_before:all`` -- and raises ``TokenError``
    ("Token revoked.") when they revoke it; simplejwt's views answer that with 401.

``FirebreakTokenRefreshSerializer`` / ``FirebreakTokenRefreshSlidingSerializer``
    simplejwt's refresh serializers using those classes. Wire them with::

        SIMPLE_JWT = {
            "TOKEN_REFRESH_SERIALIZER": "firebreak_guard.simplejwt.FirebreakTokenRefreshSerializer",
            # sliding tokens:
            "SLIDING_TOKEN_REFRESH_SERIALIZER": "firebreak_guard.simplejwt.FirebreakTokenRefreshSlidingSerializer",
        }

    Everything else (rotation, blacklisting after rotation, the user-is-active rule) is
    simplejwt's own code path.

``verified_claims``
    A ``FIREBREAK_TOKEN_CLAIMS`` callable for the middleware: the claims of the request's
    bearer access token, validated by simplejwt (signature, expiry), or None.

Same settings as the middleware: ``FIREBREAK_CACHE_ALIAS`` (default ``"default"``) and
``FIREBREAK_FAIL_OPEN`` (default False: an unreadable cache answers 503, never a fresh token).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer, TokenRefreshSlidingSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, SlidingToken

from .middleware import token_keys, token_revoked

logger = logging.getLogger("firebreak_guard")

REVOKED_DETAIL = "Token revoked."


class RevocationUnavailable(APIException):
    """The cache cannot be read, so nobody can tell whether the token is revoked."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable."
    default_code = "revocation_unavailable"


def check_not_revoked(payload: dict[str, Any]) -> None:
    """Raises TokenError when Firebreak's keys revoke a token with this (verified) payload."""
    alias = getattr(settings, "FIREBREAK_CACHE_ALIAS", "default")
    jti = payload.get(api_settings.JTI_CLAIM) if api_settings.JTI_CLAIM else None
    user_id = payload.get(api_settings.USER_ID_CLAIM)
    keys = token_keys(jti, user_id)
    try:
        found = caches[alias].get_many(keys)
        revoked = token_revoked(found, jti, user_id, payload.get("iat"))
    except Exception as exc:  # connection refused, timeout, unpicklable value, non-integer epoch
        if getattr(settings, "FIREBREAK_FAIL_OPEN", False):
            logger.warning("firebreak guard cannot check a %s token, failing open: %s: %s", payload.get(api_settings.TOKEN_TYPE_CLAIM), type(exc).__name__, exc)
            return
        logger.error("firebreak guard cannot check a %s token, failing closed (503): %s: %s", payload.get(api_settings.TOKEN_TYPE_CLAIM), type(exc).__name__, exc)
        raise RevocationUnavailable() from None
    if revoked:
        raise TokenError(REVOKED_DETAIL)


class FirebreakRefreshToken(RefreshToken):
    def verify(self, *args: Any, **kwargs: Any) -> None:
        super().verify(*args, **kwargs)  # signature/expiry/type, and the blacklist when installed
        check_not_revoked(self.payload)


class FirebreakSlidingToken(SlidingToken):
    def verify(self, *args: Any, **kwargs: Any) -> None:
        super().verify(*args, **kwargs)
        check_not_revoked(self.payload)


class FirebreakTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = FirebreakRefreshToken


class FirebreakTokenRefreshSlidingSerializer(TokenRefreshSlidingSerializer):
    token_class = FirebreakSlidingToken


_jwt = JWTAuthentication()


def verified_claims(request: Any) -> dict[str, Any] | None:
    """FIREBREAK_TOKEN_CLAIMS for simplejwt: DRF authenticates inside the view, after middleware."""
    try:
        header = _jwt.get_header(request)
        raw = _jwt.get_raw_token(header) if header else None
        if raw is None:
            return None
        token = _jwt.get_validated_token(raw)  # signature and expiry
    except (AuthenticationFailed, InvalidToken, TokenError):
        return None  # DRF answers 401 for it in the view
    return {
        "jti": token.get(api_settings.JTI_CLAIM),
        "user_id": token.get(api_settings.USER_ID_CLAIM),
        "iat": token.get("iat"),
    }
