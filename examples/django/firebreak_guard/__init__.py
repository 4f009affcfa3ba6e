"""Firebreak guard: Django middleware that enforces the state Firebreak writes into Redis."""

from .middleware import (
    LOCKDOWN_BODY,
    LOCKDOWN_KEY,
    REVOKED_BEFORE_ALL_KEY,
    FirebreakGuardMiddleware,
    ban_key,
    covering_networks,
    revoked_before_user_key,
    revoked_jti_key,
)

__all__ = [
    "LOCKDOWN_BODY",
    "LOCKDOWN_KEY",
    "REVOKED_BEFORE_ALL_KEY",
    "FirebreakGuardMiddleware",
    "ban_key",
    "covering_networks",
    "revoked_before_user_key",
    "revoked_jti_key",
]
