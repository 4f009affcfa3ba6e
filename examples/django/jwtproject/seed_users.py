#!/usr/bin/env python3
"""
Migrates the JWT test project's database and creates users, printing {"username": id, ...}:

  python3 seed_users.py alice:secret bob:secret

Same environment as the server (FIREBREAK_TEST_DB, FIREBREAK_TEST_BLACKLIST).
"""

import json
import os
import sys

sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jwtproject.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", interactive=False, verbosity=0)
User = get_user_model()
ids = {}
for spec in sys.argv[1:]:
    username, password = spec.split(":", 1)
    ids[username] = User.objects.create_user(username=username, password=password).pk
print(json.dumps(ids))
