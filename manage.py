#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    # Every file a command creates (the SQLite database and its WAL, backups, stored files)
    # is private to this account; serve's supervisor and workers inherit the mask.
    from imagegen.core.umask import set_private_umask

    set_private_umask()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - load the settings: a bad value is one clear line
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
