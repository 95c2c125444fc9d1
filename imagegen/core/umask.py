"""The file-creation mask every process of the app runs under.

The database (with live session keys), its WAL/SHM files, backups and stored images are
private to the account the app runs as: umask 077 gives new files 0600 and folders 0700.
Set as early as possible in every entry point: ``manage.py`` (every command, ``serve`` and
``qcluster`` included), ``imagegen.wsgi``/``imagegen.asgi`` (gunicorn, any WSGI server) and the
supervisor's children. Plain Python, no Django: the supervisor imports it too.
"""

import os

PRIVATE_UMASK = 0o077


def set_private_umask() -> None:
    os.umask(PRIVATE_UMASK)
