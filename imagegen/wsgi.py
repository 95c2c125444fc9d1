"""WSGI entry point (gunicorn imagegen.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from imagegen.core.umask import set_private_umask

set_private_umask()  # files this server creates (database, WAL, stored images) are 0600
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
application = get_wsgi_application()
