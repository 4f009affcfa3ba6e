#!/usr/bin/env python3
"""
The JWT test project's manage.py. From the repository root, with Django from `npm run setup`:

  FIREBREAK_TEST_DB=/tmp/jwt.sqlite3 PYTHONPATH=.tools/django python3 examples/django/jwtproject/manage.py migrate
  FIREBREAK_TEST_DB=/tmp/jwt.sqlite3 PYTHONPATH=.tools/django python3 examples/django/jwtproject/manage.py runserver --noreload 127.0.0.1:8000
"""

import os
import sys

if __name__ == "__main__":
    # examples/django: where the jwtproject and firebreak_guard packages live.
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jwtproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
