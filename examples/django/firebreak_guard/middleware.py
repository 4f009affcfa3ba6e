"""
FirebreakGuardMiddleware: enforces the state Firebreak writes into the app's Redis cache.

The contract (keys are Django cache keys, ``<KEY_PREFIX>:<VERSION>:<key>``, values integers):

* ``EMERGENCY_LOCKDOWN`` truthy            -> 503 ``{"error": "System under maintenance for security updates."}``
* ``fb:ban:<network CIDR>`` present        -> 403 for a client address inside that network
* ``fb:revoked:jti:<jti>`` present         -> 401 for the token with that ``jti``
* ``fb:revoked_before:user:<id>`` = epoch  -> 401 for that user's tokens with ``iat <= epoch``
* ``fb:revoked_before:all`` = epoch        -> 401 for every token with ``iat <= epoch``

Checked in that order, with ONE cache round trip per request (``cache.get_many``, an MGET
on Django's RedisCache). Token checks run only when the token-claims callable returns
claims for the request. The middleware never verifies a token itself.

Reader heartbeat: at most every 10 s per process (a time check on the request path, no
thread), after a successful read, the middleware also writes
``cache.set("fb:reader:<hostname>:<pid>", <unix seconds>, timeout=60)`` so Firebreak can
see that an app process reads exactly this namespace. A failed write never fails a request.

Refresh tokens never pass through here (they travel in the refresh endpoint's body): see
``firebreak_guard.simplejwt`` for the refresh serializer that checks the same keys.

Settings (all optional):

``FIREBREAK_CACHE_ALIAS``     cache holding Firebreak's keys (default ``"default"``); its
                              ``KEY_PREFIX``/``VERSION`` must equal the Firebreak target's
                              ``redis.keyPrefix``/``redis.keyVersion``.
``FIREBREAK_TOKEN_CLAIMS``    dotted path to ``callable(request) -> dict | None`` returning the
                              already-verified claims ``{"jti", "user_id", "iat"}``.
``FIREBREAK_CLIENT_IP``       dotted path to ``callable(request) -> str``; default
                              ``request.META["REMOTE_ADDR"]``. Set it when behind a proxy.
``FIREBREAK_MIN_PREFIX_V4``   broadest IPv4 ban Firebreak may write (default 16).
``FIREBREAK_MIN_PREFIX_V6``   broadest IPv6 ban Firebreak may write (default 48).
``FIREBREAK_FAIL_OPEN``       default False: when the cache cannot be read (or the client
                              address is unusable) answer 503. True lets the request through.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

logger = logging.getLogger("firebreak_guard")

LOCKDOWN_KEY = "EMERGENCY_LOCKDOWN"
REVOKED_BEFORE_ALL_KEY = "fb:revoked_before:all"
# The agreed reader heartbeat: TTL 60 s, rewritten at most every 10 s per process.
HEARTBEAT_TTL_SECONDS = 60
HEARTBEAT_INTERVAL_SECONDS = 10
# Exactly the body of the hardening guide's EmergencyLockdownMiddleware.
LOCKDOWN_BODY = {"error": "System under maintenance for security updates."}
BANNED_BODY = {"error": "Forbidden."}
REVOKED_BODY = {"error": "Token revoked."}
UNAVAILABLE_BODY = {"error": "Service temporarily unavailable."}


def revoked_jti_key(jti: str) -> str:
    return f"fb:revoked:jti:{jti}"


def revoked_before_user_key(user_id: Any) -> str:
    return f"fb:revoked_before:user:{user_id}"


def ban_key(network: str) -> str:
    return f"fb:ban:{network}"


def reader_key(hostname: str, pid: int) -> str:
    return f"fb:reader:{hostname}:{pid}"


def token_keys(jti: Any, user_id: Any) -> list[str]:
    """The revocation keys that apply to a token with these claims (global epoch first)."""
    keys = [REVOKED_BEFORE_ALL_KEY]
    if jti:
        keys.append(revoked_jti_key(str(jti)))
    if user_id is not None and user_id != "":
        keys.append(revoked_before_user_key(str(user_id)))
    return keys


class RevocationUndecidable(Exception):
    """A revoked-before epoch that is not an integer: the caller fails closed (or open)."""


def token_revoked(found: dict[str, Any], jti: Any, user_id: Any, iat: Any) -> bool:
    """
    Whether ``found`` (a ``get_many`` result over ``token_keys(jti, user_id)``) revokes the
    token: its jti is listed, or an epoch applies and ``iat`` is not after it. A token
    without a usable ``iat`` cannot prove it is newer than the epoch, so it is revoked.
    """
    if jti and revoked_jti_key(str(jti)) in found:
        return True
    keys = [REVOKED_BEFORE_ALL_KEY]
    if user_id is not None and user_id != "":
        keys.append(revoked_before_user_key(str(user_id)))
    epochs = [found[k] for k in keys if k in found]
    for epoch in epochs:
        if type(epoch) is not int:
            raise RevocationUndecidable(f"a revoked-before epoch is not an integer: {type(epoch).__name__}")
    if not epochs:
        return False
    return type(iat) not in (int, float) or not math.isfinite(iat) or any(iat <= e for e in epochs)


class ReaderHeartbeat:
    """
    Writes ``fb:reader:<hostname>:<pid>`` = unix seconds (TTL 60 s) into a cache at most every
    ``HEARTBEAT_INTERVAL_SECONDS`` per process. The pid is read at each beat, so a worker forked
    after the middleware was built writes its own key at once.
    """

    def __init__(self, cache_alias: str):
        self.cache_alias = cache_alias
        self.hostname = socket.gethostname()
        self._lock = threading.Lock()
        self._last: tuple[int, float] | None = None  # (pid, monotonic time of the last beat)

    def maybe_beat(self) -> None:
        pid = os.getpid()
        now = time.monotonic()
        with self._lock:
            last = self._last
            if last is not None and last[0] == pid and now - last[1] < HEARTBEAT_INTERVAL_SECONDS:
                return
            # Claimed before the write: concurrent requests do not all write, and a failing
            # Redis is not retried on every request.
            self._last = (pid, now)
        try:
            caches[self.cache_alias].set(
                reader_key(self.hostname, pid), int(time.time()), timeout=HEARTBEAT_TTL_SECONDS
            )
        except Exception as exc:  # never fail a request over the heartbeat
            logger.warning("firebreak guard: reader heartbeat not written: %s: %s", type(exc).__name__, exc)


def covering_networks(ip: str, min_prefix_v4: int = 16, min_prefix_v6: int = 48) -> list[str]:
    """
    Every network containing ``ip`` from the full length down to the minimum prefix, in the
    canonical form Firebreak stores (``203.0.113.7/32``, ``2001:db8::/48``; RFC 5952).
    An IPv4-mapped IPv6 address (``::ffff:203.0.113.7``) is treated as the IPv4 address and a
    zone (``%eth0``) is dropped. Raises ValueError for anything that is not an IP address.
    """
    addr = ipaddress.ip_address(ip.strip().split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    lowest = min_prefix_v4 if addr.version == 4 else min_prefix_v6
    return [
        str(ipaddress.ip_network((addr, prefix), strict=False))
        for prefix in range(addr.max_prefixlen, lowest - 1, -1)
    ]


def _remote_addr(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _setting_callable(name: str) -> Callable[[HttpRequest], Any] | None:
    value = getattr(settings, name, None)
    if value is None:
        return None
    fn = import_string(value) if isinstance(value, str) else value
    if not callable(fn):
        raise ImproperlyConfigured(f"{name} must be a dotted path to a callable (or a callable)")
    return fn


def _prefix_setting(name: str, default: int, maximum: int) -> int:
    value = getattr(settings, name, default)
    if type(value) is not int or not 0 <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be an integer from 0 to {maximum}, not {value!r}")
    return value


def _json(body: dict, status: int, **headers: str) -> HttpResponse:
    response = JsonResponse(body, status=status)
    # A cache in front of the app must not keep serving a lockdown or a ban after it ends.
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class _GuardError(Exception):
    pass


class FirebreakGuardMiddleware:
    """Put it first in ``MIDDLEWARE``: a lockdown must answer even when the database is down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.cache_alias = getattr(settings, "FIREBREAK_CACHE_ALIAS", "default")
        self.min_prefix_v4 = _prefix_setting("FIREBREAK_MIN_PREFIX_V4", 16, 32)
        self.min_prefix_v6 = _prefix_setting("FIREBREAK_MIN_PREFIX_V6", 48, 128)
        self.fail_open = bool(getattr(settings, "FIREBREAK_FAIL_OPEN", False))
        self.token_claims = _setting_callable("FIREBREAK_TOKEN_CLAIMS")
        self.client_ip = _setting_callable("FIREBREAK_CLIENT_IP") or _remote_addr
        self.heartbeat = ReaderHeartbeat(self.cache_alias)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            refusal = self.check(request)
        except _GuardError as exc:
            if self.fail_open:
                logger.warning("firebreak guard cannot decide, failing open: %s", exc)
                return self.get_response(request)
            logger.error("firebreak guard cannot decide, failing closed (503): %s", exc)
            return _json(UNAVAILABLE_BODY, 503)
        return refusal if refusal is not None else self.get_response(request)

    def check(self, request: HttpRequest) -> HttpResponse | None:
        """The refusal for this request, or None to let it through. Raises _GuardError."""
        ip = self.client_ip(request)
        try:
            networks = covering_networks(str(ip or ""), self.min_prefix_v4, self.min_prefix_v6)
        except ValueError:
            raise _GuardError(
                f"client address {ip!r} is not an IP address (check FIREBREAK_CLIENT_IP)"
            ) from None

        claims = self.token_claims(request) if self.token_claims else None
        jti = user_id = None
        if claims is not None:
            jti = claims.get("jti") or None
            user_id = claims.get("user_id")
            user_id = None if user_id is None or user_id == "" else str(user_id)

        ban_keys = [ban_key(n) for n in networks]
        keys = [LOCKDOWN_KEY, *ban_keys]
        if claims is not None:
            keys.extend(token_keys(jti, user_id))

        try:
            # One MGET on RedisCache. Missing keys are absent from the result.
            found = caches[self.cache_alias].get_many(keys)
        except Exception as exc:  # connection refused, timeout, a value that does not unpickle
            raise _GuardError(f"cache {self.cache_alias!r} unreadable: {type(exc).__name__}: {exc}") from None
        self.heartbeat.maybe_beat()

        # Truthiness, exactly like the guide's `if cache.get("EMERGENCY_LOCKDOWN")`.
        if found.get(LOCKDOWN_KEY):
            return _json(LOCKDOWN_BODY, 503)
        if any(k in found for k in ban_keys):
            return _json(BANNED_BODY, 403)
        if claims is None:
            return None
        try:
            revoked = token_revoked(found, jti, user_id, claims.get("iat"))
        except RevocationUndecidable as exc:
            raise _GuardError(str(exc)) from None
        return self._revoked() if revoked else None

    @staticmethod
    def _revoked() -> HttpResponse:
        return _json(
            REVOKED_BODY,
            401,
            WWW_Authenticate='Bearer error="invalid_token", error_description="The access token has been revoked"',
        )
