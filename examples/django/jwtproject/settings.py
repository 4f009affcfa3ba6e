"""
Django + REST framework + simplejwt project for Firebreak's integration test of refresh-token
revocation (firebreak_guard.simplejwt) and the reader heartbeat. Not a template for production
settings: a throwaway SECRET_KEY, a fast (weak) password hasher, sqlite.

Environment (set by test/integration/django-refresh.test.ts):
  FIREBREAK_TEST_KEY_PREFIX   cache KEY_PREFIX (Firebreak's redis.keyPrefix)
  FIREBREAK_TEST_KEY_VERSION  cache VERSION (Firebreak's redis.keyVersion), default 1
  FIREBREAK_TEST_REDIS_URL    default redis://127.0.0.1:6379/0
  FIREBREAK_TEST_DB           sqlite file for the app's own database (users, blacklist tables)
  FIREBREAK_TEST_MIDDLEWARE   "0": leave FirebreakGuardMiddleware out (only the refresh serializer checks)
  FIREBREAK_TEST_FAIL_OPEN    "1": FIREBREAK_FAIL_OPEN = True
  FIREBREAK_TEST_STOCK_REFRESH "1": simplejwt's own refresh serializer (shows the gap it closes)
  FIREBREAK_TEST_BLACKLIST    "1": install rest_framework_simplejwt.token_blacklist, rotate
                              refresh tokens and blacklist them after rotation
"""

import os
from datetime import timedelta

SECRET_KEY = "test-only-not-secret-but-long-enough-for-hs256-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "jwtproject.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

BLACKLIST = os.environ.get("FIREBREAK_TEST_BLACKLIST") == "1"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    *(["rest_framework_simplejwt.token_blacklist"] if BLACKLIST else []),
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("FIREBREAK_TEST_DB", "jwtproject.sqlite3"),
    }
}

# TEST ONLY: logins in milliseconds. Never in an app.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

MIDDLEWARE = [
    # First: a lockdown or a ban answers before anything else runs.
    *([] if os.environ.get("FIREBREAK_TEST_MIDDLEWARE") == "0" else ["firebreak_guard.middleware.FirebreakGuardMiddleware"]),
    "django.middleware.common.CommonMiddleware",
]
FIREBREAK_FAIL_OPEN = os.environ.get("FIREBREAK_TEST_FAIL_OPEN") == "1"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("FIREBREAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": os.environ.get("FIREBREAK_TEST_KEY_PREFIX", ""),
        "VERSION": int(os.environ.get("FIREBREAK_TEST_KEY_VERSION", "1")),
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

# The bearer access token, validated by simplejwt, for the middleware's token checks.
FIREBREAK_TOKEN_CLAIMS = "firebreak_guard.simplejwt.verified_claims"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": BLACKLIST,
    "BLACKLIST_AFTER_ROTATION": BLACKLIST,
    # The piece Firebreak ships: refresh checks the same Redis keys as the middleware.
    "TOKEN_REFRESH_SERIALIZER": (
        "rest_framework_simplejwt.serializers.TokenRefreshSerializer"
        if os.environ.get("FIREBREAK_TEST_STOCK_REFRESH") == "1"
        else "firebreak_guard.simplejwt.FirebreakTokenRefreshSerializer"
    ),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"firebreak_guard": {"handlers": ["stderr"], "level": "WARNING"}},
}
