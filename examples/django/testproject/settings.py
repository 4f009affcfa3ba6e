"""
Minimal Django project for Firebreak's integration test of FirebreakGuardMiddleware.
Not a template for production settings: no database, no apps, a throwaway SECRET_KEY.

Environment (set by test/integration/django-middleware.test.ts):
  FIREBREAK_TEST_KEY_PREFIX   cache KEY_PREFIX, unique per test run (Firebreak's redis.keyPrefix)
  FIREBREAK_TEST_REDIS_URL    default redis://127.0.0.1:6379/0
  FIREBREAK_TEST_FAIL_OPEN    "1" to fail open when Redis is unreachable
"""

import os

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ROOT_URLCONF = "testproject.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
USE_TZ = True

MIDDLEWARE = [
    # First: a lockdown or a ban answers before anything else runs.
    "firebreak_guard.middleware.FirebreakGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]

CACHES = {
    "default": {
        # Django's built-in Redis backend stores ints raw, so Firebreak's integer values read as ints.
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("FIREBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Must equal the Firebreak target's redis.keyPrefix / redis.keyVersion.
        "KEY_PREFIX": os.environ.get("FIREBREAK_TEST_KEY_PREFIX", ""),
        "VERSION": 1,
        "OPTIONS": {
            # A security check in the request path: give up quickly, then FIREBREAK_FAIL_OPEN decides.
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
        },
    }
}

FIREBREAK_FAIL_OPEN = os.environ.get("FIREBREAK_TEST_FAIL_OPEN") == "1"
FIREBREAK_MIN_PREFIX_V4 = 16
FIREBREAK_MIN_PREFIX_V6 = 48
# TEST ONLY: takes claims from a request header. A real app returns claims of a token it verified.
FIREBREAK_TOKEN_CLAIMS = "testproject.claims.claims_from_test_header"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"firebreak_guard": {"handlers": ["stderr"], "level": "WARNING"}},
}
