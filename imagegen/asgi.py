"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from imagegen.core.umask import set_private_umask

set_private_umask()  # files this server creates (database, WAL, stored images) are 0600
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")
application = get_asgi_application()
