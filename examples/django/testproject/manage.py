#!/usr/bin/env python3
"""
The test project's manage.py. From the repository root, with Django from `npm run setup`:

  PYTHONPATH=.tools/django python3 examples/django/testproject/manage.py runserver --noreload 127.0.0.1:8000
"""

import os
import sys

if __name__ == "__main__":
    # examples/django: where the testproject and firebreak_guard packages live.
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
