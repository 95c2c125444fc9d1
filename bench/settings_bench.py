"""Settings for benchmark processes (the bench itself, and the servers and workers it starts).

The production settings, unchanged where they matter for speed (DEBUG off, the real SQLite
pragmas, a real django-q cluster, worker threads), with three conveniences: static files are
served from the app folders (no collectstatic into the developer's tree), passwords use a
fast hasher (the bench creates hundreds of users) and the bench's own secrets are defaults.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-0123456789-0123456789")
os.environ.setdefault("ENCRYPTION_KEY", "bench-encryption-key-0123456789-0123456789-01")
os.environ["ENV_FILE"] = os.devnull  # a developer's .env must not leak into a benchmark

from imagegen.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
