"""Settings for the test suite: the real settings with fast, isolated, synchronous parts."""

import os
import tempfile

# Defaults only: a test run may still point DATABASE_URL at PostgreSQL.
os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-suite-only-0123456789")
os.environ.setdefault("ENCRYPTION_KEY", "test-encryption-key-for-the-suite-only-012345")
os.environ.setdefault("DATABASE_URL", "sqlite:///database/test.db")
os.environ["ENV_FILE"] = os.devnull  # a developer's .env must not leak into tests
os.environ.setdefault("STORAGE_DIR", tempfile.mkdtemp(prefix="imagegen-test-storage-"))

from imagegen.settings import *  # noqa: E402,F403
from imagegen.settings import Q_CLUSTER  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in the calling thread; generations run inline rather than on worker threads.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
GENERATION_THREADS = 0
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No collectstatic in tests: serve static files from the app folders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Threaded tests (cancel while running) need a real file, not a shared-cache memory database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "database" / "test_suite.db")}  # noqa: F405

# Throttle counts live in the (per-process) cache and user ids repeat from test to test, so a
# per-user rate would carry over between tests; the tests of the rate limit set their own.
PROMPT_ENHANCE_RATE = None
