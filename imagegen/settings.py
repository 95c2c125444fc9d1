"""Settings for the imagegen project, all read from the environment (and a ``.env`` file).

Every variable is documented in ``.env.example`` and the README. A bad value stops start-up
with an ``ImproperlyConfigured`` error naming the variable (see ``imagegen/core/config.py``).
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from imagegen.core.config import (
    env_bool,
    env_choice,
    env_decimal,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    require_https_or_loopback,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file next to manage.py is read first; real environment variables win over it.
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

# --- Core -----------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

# Placeholders that .env.example ships with; never acceptable outside DEBUG.
INSECURE_PLACEHOLDERS = {"", "change-me", "changeme", "insecure", "secret"}
SECRET_KEY = env_str("SECRET_KEY", "")
ENCRYPTION_KEY = env_str("ENCRYPTION_KEY", "")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-secret-key-do-not-use-in-production"
    ENCRYPTION_KEY = ENCRYPTION_KEY or "insecure-development-encryption-key"
else:
    for _name, _value in (("SECRET_KEY", SECRET_KEY), ("ENCRYPTION_KEY", ENCRYPTION_KEY)):
        if _value.lower() in INSECURE_PLACEHOLDERS or _value.startswith("insecure"):
            raise ImproperlyConfigured(
                f"{_name}: set a long random value (DEBUG is false). "
                "`make run` writes one into .env on first run."
            )
if ENCRYPTION_KEY == SECRET_KEY:
    raise ImproperlyConfigured("ENCRYPTION_KEY: must differ from SECRET_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
if HOST not in ("0.0.0.0", "::") and HOST not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(HOST)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    # Two-factor sign-in (settings_app/two_factor.py): the authenticator device is
    # settings_app's own (its secret encrypted); otp_static holds the recovery codes' digests.
    # Before settings_app, whose admin takes the static-device admin off (no second-factor
    # secret is shown there).
    "django_otp",
    "django_otp.plugins.otp_static",
    "imagegen.core",
    "generation",
    "gallery",
    "projects",
    "settings_app",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The current request for the audit trail's entries (address, client).
    "imagegen.core.middleware.AuditRequestMiddleware",
    "settings_app.middleware.UserTimeZoneMiddleware",
    "settings_app.middleware.TwoFactorEnrolmentMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "imagegen.urls"
WSGI_APPLICATION = "imagegen.wsgi.application"
ASGI_APPLICATION = "imagegen.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "settings_app.context_processors.preferences",
                "settings_app.context_processors.sign_in",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_env = environ.Env()
try:
    _db = _env.db_url("DATABASE_URL", default="sqlite:///database/app.db")
except Exception as exc:  # django-environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL: cannot parse it: {exc}") from exc

SUPPORTED_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
if _db.get("ENGINE") not in SUPPORTED_ENGINES:
    raise ImproperlyConfigured(
        "DATABASE_URL: use sqlite:///path/to/file.db or postgres://user:password@host:5432/name"
    )
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _name = _db["NAME"]
    if _name != ":memory:" and not Path(_name).is_absolute():
        _db["NAME"] = str(BASE_DIR / _name)
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at BEGIN so a
    # read-then-write transaction never fails half way with "database is locked"; the busy
    # timeout makes writers wait for each other instead of failing.
    _db["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=134217728;"
            "PRAGMA cache_size=-32000"
        ),
    }
else:
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generate"
LOGOUT_REDIRECT_URL = "login"
ADMIN_USERNAME = env_str("ADMIN_USERNAME")
ADMIN_PASSWORD = env_str("ADMIN_PASSWORD")
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30, minimum=1)
# Self sign-up at /signup/ (off: only administrators create accounts).
ALLOW_SIGNUP = env_bool("ALLOW_SIGNUP", False)
# Desktop mode (desktop.py sets these; docs/desktop.md): one local user, signed in by a
# one-time ticket that only the launcher's window holds. The file holds the ticket's SHA-256.
DESKTOP = env_bool("DESKTOP", False)
DESKTOP_USER = env_str("DESKTOP_USER")
DESKTOP_TICKET_FILE = env_str("DESKTOP_TICKET_FILE")
DESKTOP_TICKET_SECONDS = env_int("DESKTOP_TICKET_SECONDS", 120, minimum=5)
# How long closing the window waits for generations in flight before it stops them (they
# are queued again and run at the next start).
DESKTOP_STOP_SECONDS = env_int("DESKTOP_STOP_SECONDS", 15, minimum=1)
# Browsers send a cookie for 127.0.0.1 to every port of it: desktop.py names its session
# cookie after its data folder, and a desktop session ends with the browser (or window).
SESSION_COOKIE_NAME = env_str("SESSION_COOKIE_NAME", "sessionid")
SESSION_EXPIRE_AT_BROWSER_CLOSE = DESKTOP
# Two-factor sign-in (docs/two-factor.md): optional per user; with this on, staff who sign in
# with a password must set it up before they can use any other page.
MFA_REQUIRED_FOR_STAFF = env_bool("MFA_REQUIRED_FOR_STAFF", False)
# The name authenticator apps show beside the account (settings_app.devices reads it, under
# django-otp's setting name).
OTP_TOTP_ISSUER = "imagegen"
# django-otp's own admins are not registered (settings_app/admin.py); should one ever be,
# it shows no key or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]

STORAGE_DIR = Path(env_str("STORAGE_DIR", "./storage"))
if not STORAGE_DIR.is_absolute():
    STORAGE_DIR = (BASE_DIR / STORAGE_DIR).resolve()
MAX_IMAGE_SIZE = env_int("MAX_IMAGE_SIZE", 10 * 1024 * 1024, minimum=1024)
THUMBNAIL_SIZE = env_int("THUMBNAIL_SIZE", 256, minimum=32, maximum=2048)
# Decoded pixels an image may have before it is refused as a decompression bomb.
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 4096 * 4096, minimum=64 * 64)

STORAGES = {
    # Files are never served from a public URL: only through access-checked views.
    "default": {
        "BACKEND": "imagegen.core.storage.ContentAddressedStorage",
        "OPTIONS": {"location": str(STORAGE_DIR)},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

# S3-compatible storage instead of STORAGE_DIR (see README "S3-compatible storage"). Objects
# stay private: files reach users only through the access-checked views.
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "local", ("local", "s3"))
S3_SIGNED_REDIRECT = env_bool("S3_SIGNED_REDIRECT", False)
S3_SIGNED_URL_TTL = env_int("S3_SIGNED_URL_TTL", 60, minimum=1, maximum=3600)
if STORAGE_BACKEND == "s3":
    for _name in ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        if not env_str(_name):
            raise ImproperlyConfigured(f"{_name}: required when STORAGE_BACKEND=s3")
    _endpoint = env_str("S3_ENDPOINT_URL")
    STORAGES["default"] = {
        "BACKEND": "imagegen.core.storage_s3.ContentAddressedS3Storage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET"),
            "endpoint_url": _endpoint,
            "access_key": env_str("S3_ACCESS_KEY_ID"),
            "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
            "region_name": env_str("S3_REGION"),
            "location": (env_str("S3_PREFIX") or "").strip("/"),
            # Path-style URLs work with every S3-compatible server (MinIO, Ceph, moto).
            "addressing_style": "path" if _endpoint else None,
            "querystring_expire": S3_SIGNED_URL_TTL,
            "signature_version": "s3v4",
        },
    }

# --- Generation -----------------------------------------------------------------------------
GENERATION_TIMEOUT = env_int("GENERATION_TIMEOUT", 120, minimum=1)
# How long a /v1 gateway answer's signed image link stays valid, in seconds (OpenAI: an hour).
GATEWAY_LINK_SECONDS = env_int("GATEWAY_LINK_SECONDS", 3600, minimum=60)
GENERATION_MAX_CONCURRENT = env_int("GENERATION_MAX_CONCURRENT", 3, minimum=1)
# Generations one worker process keeps in flight at once (threads); 0 runs each generation
# inline in the worker process, one at a time. See docs/architecture.md.
GENERATION_THREADS = env_int("GENERATION_THREADS", 32, minimum=0, maximum=512)
# A running generation whose heartbeat is older than the timeout plus this grace is stale.
GENERATION_STALE_GRACE = env_int("GENERATION_STALE_GRACE", 30, minimum=1)
# How many times a generation may be started; a worker crash re-queues it until this is used.
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 2, minimum=1, maximum=10)
DEFAULT_STEPS = env_int("DEFAULT_STEPS", 20, minimum=1, maximum=500)
DEFAULT_CFG_SCALE = env_float("DEFAULT_CFG_SCALE", 7.5, minimum=0, maximum=50)
ITEMS_PER_PAGE = env_int("ITEMS_PER_PAGE", 20, minimum=1, maximum=100)
OFFLINE_PROVIDER_DELAY_MS = env_int("OFFLINE_PROVIDER_DELAY_MS", 0, minimum=0)

# --- Cloud providers ------------------------------------------------------------------------
# Base URLs are settings so that a team can route through a gateway and tests can point at
# local fakes. Plain http is allowed only to a configured base URL's own host.
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "https://api.openai.com/v1")
OPENROUTER_BASE_URL = env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
REPLICATE_BASE_URL = env_str("REPLICATE_BASE_URL", "https://api.replicate.com")
FAL_QUEUE_BASE_URL = env_str("FAL_QUEUE_BASE_URL", "https://queue.fal.run")
FAL_API_BASE_URL = env_str("FAL_API_BASE_URL", "https://api.fal.ai/v1")
# Seconds between polls of a queued provider job (Replicate, fal), growing to 4x this.
PROVIDER_POLL_INTERVAL = env_float("PROVIDER_POLL_INTERVAL", 1.0, minimum=0.01)
# Longest a result download may take, in seconds (also bounded by GENERATION_TIMEOUT).
FETCH_TIMEOUT = env_int("FETCH_TIMEOUT", 60, minimum=1)

# --- Self-hosted GPU backends (docs/self-hosted-backends.md) ----------------------------------
# Admins add backends in the admin; these add one backend per URL (a comma-separated list
# makes a pool) at every start, named from the host, without credentials.
COMFYUI_BASE_URL = env_str("COMFYUI_BASE_URL")
A1111_BASE_URL = env_str("A1111_BASE_URL")
OPENAI_COMPATIBLE_BASE_URL = env_str("OPENAI_COMPATIBLE_BASE_URL")
# How long one job on a team's own GPU may take, in seconds (GENERATION_TIMEOUT is for clouds).
BACKEND_TIMEOUT = env_int("BACKEND_TIMEOUT", 600, minimum=1)
# Seconds between progress polls (A1111's /sdapi/v1/progress, ComfyUI's history without a
# WebSocket) and the timeout of one health check.
BACKEND_POLL_INTERVAL = env_float("BACKEND_POLL_INTERVAL", 0.5, minimum=0.01)
BACKEND_CHECK_TIMEOUT = env_float("BACKEND_CHECK_TIMEOUT", 5.0, minimum=0.1)

# glibc malloc arenas for the processes `manage.py serve` starts (0: glibc's default of up to
# 8 per core). Many threads decoding images each keep an arena of freed memory otherwise.
MALLOC_ARENA_MAX = env_int("MALLOC_ARENA_MAX", 2, minimum=0, maximum=64)

# --- Job queue (django-q2) ------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
Q_WORKERS = env_int("Q_WORKERS", 2, minimum=1, maximum=64)
_task_timeout = max(GENERATION_TIMEOUT, BACKEND_TIMEOUT) + 60
# A distinct name keeps a cluster (e.g. a benchmark's) off another's queue on shared Redis.
Q_CLUSTER_NAME = env_str("Q_CLUSTER_NAME", "imagegen")
Q_CLUSTER = {
    "name": Q_CLUSTER_NAME,
    "workers": Q_WORKERS,
    "timeout": _task_timeout,
    # Must exceed timeout, or a slow task is delivered twice (our claim makes that harmless).
    "retry": _task_timeout + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    # Workers keep generations in flight on threads after the task returns; recycling a
    # worker would end them, so recycle only by memory (see docs/architecture.md).
    "recycle": 1_000_000,
    # Database broker only: the pusher looks for new jobs this often while the queue is
    # empty, so a job waits Q_POLL/2 on average before it starts (bench figure 2). 0.05 s is
    # 20 small SELECTs a second when idle (0.1 s: 10); Redis's pickup is immediate anyway.
    "poll": env_float("Q_POLL", 0.05, minimum=0.01),
    "sync": env_bool("Q_SYNC", False),
    "label": "Job queue",
}
# A daily job that refreshes the model catalog from the providers' listings (new models
# arrive disabled; retired ones are hidden). Off by default: it calls the providers with the
# team keys. Applied at the next start (migrate creates or removes the schedule).
CATALOG_REFRESH_DAILY = env_bool("CATALOG_REFRESH_DAILY", False)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "settings_app.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "imagegen.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "imagegen.core.api.exception_handler",
    # Every list endpoint pages the same way, in the size the user chose.
    "DEFAULT_PAGINATION_CLASS": "settings_app.pagination.PreferredPageSizePagination",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# knox's token model is swappable; naming it lets other apps' migrations refer to it.
KNOX_TOKEN_MODEL = "knox.AuthToken"
SPECTACULAR_SETTINGS = {
    "TITLE": "imagegen API",
    "DESCRIPTION": "Generate, browse and manage a team's AI images.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The default hook, plus: paths kept as aliases of a moved one are marked deprecated.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "imagegen.core.routes.mark_deprecated_aliases",
        "generation.gateway.schema.add_gateway",
    ],
}

# --- Encryption of stored secrets -------------------------------------------------------------
# django-cryptography derives its key from CRYPTOGRAPHY_KEY; ours is ENCRYPTION_KEY, never
# SECRET_KEY, so rotating one does not lose the other.
CRYPTOGRAPHY_KEY = ENCRYPTION_KEY

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "imagegen": {"level": LOG_LEVEL},
        "generation": {"level": LOG_LEVEL},
        "gallery": {"level": LOG_LEVEL},
        "django_q": {"level": "WARNING" if LOG_LEVEL != "DEBUG" else "INFO"},
    },
}

# --- Budgets (dashboard) ----------------------------------------------------------------------
# Unset means unlimited. Per-user values in the admin (Dashboard → User budgets) win.
DEFAULT_MONTHLY_BUDGET_USD = env_decimal("DEFAULT_MONTHLY_BUDGET_USD", None, minimum=0)
DEFAULT_DAILY_IMAGE_LIMIT = env_int("DEFAULT_DAILY_IMAGE_LIMIT", None, minimum=0)
TEAM_MONTHLY_BUDGET_USD = env_decimal("TEAM_MONTHLY_BUDGET_USD", None, minimum=0)
# --- Audit trail (docs/audit.md) -------------------------------------------------------------
# Days an audit entry is kept; a daily job (django-q2 schedule) deletes older ones.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)

# --- Prompt tools (style presets, enhancement, history, variations) -------------------------
# Enhancement talks to OPENAI_BASE_URL / OPENROUTER_BASE_URL (see "Cloud providers" above).
# Chat models that enhance prompts (low-cost defaults); the user's own key pays.
PROMPT_ENHANCE_MODEL_OPENROUTER = env_str("PROMPT_ENHANCE_MODEL_OPENROUTER", "openai/gpt-4o-mini")
PROMPT_ENHANCE_MODEL_OPENAI = env_str("PROMPT_ENHANCE_MODEL_OPENAI", "gpt-4o-mini")
PROMPT_ENHANCE_TIMEOUT = env_int("PROMPT_ENHANCE_TIMEOUT", 30, minimum=1, maximum=300)
# Enhancement spends like a generation (the team's or the server's key may pay): it passes the
# same budget gate (generation.usage.gate) and its cost counts against the monthly budgets.
# Models a request may name besides the two above (comma-separated; empty: only those two).
PROMPT_ENHANCE_ALLOWED_MODELS = env_list("PROMPT_ENHANCE_ALLOWED_MODELS", [])
# Enhancements per user ("N/second|minute|hour|day"; "off": no limit), a DRF throttle.
PROMPT_ENHANCE_RATE = env_rate("PROMPT_ENHANCE_RATE", "30/hour")
# What one call of a model with no known price is counted at, in USD (OPENAI_CHAT_PRICES
# prices the others from their token limits), until the provider reports its cost.
PROMPT_ENHANCE_UNPRICED_COST_USD = env_decimal(
    "PROMPT_ENHANCE_UNPRICED_COST_USD", Decimal("0.05"), minimum=0
)
# Most generations one {a|b} variation prompt may fan out to.
PROMPT_VARIATIONS_MAX = env_int("PROMPT_VARIATIONS_MAX", 16, minimum=1, maximum=256)
# Most generations one user may have queued or running at once (0: no cap); a submission
# that would pass it is a 429 (generation.usage.budgets.check_queued).
MAX_QUEUED_GENERATIONS_PER_USER = env_int("MAX_QUEUED_GENERATIONS_PER_USER", 20, minimum=0)

# A NUL in a query parameter is a 400 before any view (PostgreSQL cannot compare it).
MIDDLEWARE += [
    "imagegen.core.middleware.RejectNulInQueryMiddleware",
    "imagegen.core.middleware.ServiceErrorMiddleware",
]
# --- Production hardening (see docs/deploy.md) ----------------------------------------------
# Defaults suit the quick start on http://127.0.0.1:8000; docs/deploy.md lists the values for
# a server behind TLS, with which `manage.py check --deploy --fail-level WARNING` passes.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and X-Forwarded-For): trust it.
# Never turn this on when clients can reach the app server directly.
TRUST_PROXY_HEADERS = env_bool("TRUST_PROXY_HEADERS", False)
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
SILENCED_SYSTEM_CHECKS = []
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The proxy redirects http to https, so Django's own redirect (W008) is not needed.
    SILENCED_SYSTEM_CHECKS.append("security.W008")

# Content-Security-Policy for pages (django-csp). The file views send their own, stricter
# sandboxing policy (gallery/views.py), which this middleware leaves alone.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
MIDDLEWARE.append("csp.middleware.CSPMiddleware")

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES; after AXES_IP_FAILURE_LIMIT
# failures from one address, whatever the usernames, the address is (imagegen/core/
# login_throttle.py). Covers the login page, the admin, the browsable API's login and
# POST /api/auth/token; DRF's throttle on the token endpoint stays as well.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # must come last
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # With OIDC_ONLY, refuses a password for anyone but a superuser (settings_app/oidc/).
    "settings_app.oidc.backends.PasswordGate",
    "django.contrib.auth.backends.ModelBackend",
    # OpenID Connect sign-in; it answers only the callback's credentials, so it does nothing
    # while OIDC_ISSUER / OIDC_DISCOVERY_URL are empty.
    "settings_app.oidc.backends.OidcBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 20, minimum=1, maximum=100000)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "imagegen.core.login_throttle.LoginThrottleHandler"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "imagegen.core.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The failure records keep the form fields of a failed attempt: never a second-factor code.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# --- OpenID Connect sign-in (docs/identity.md) --------------------------------------------
# Off while both are empty. The provider's discovery document is read at the first sign-in
# (ISSUER/.well-known/openid-configuration unless OIDC_DISCOVERY_URL names it), then cached.
# Both https:// (plain http only to a loopback host: a provider on this machine).
OIDC_ISSUER = require_https_or_loopback("OIDC_ISSUER", (env_str("OIDC_ISSUER") or "").rstrip("/"))
OIDC_DISCOVERY_URL = require_https_or_loopback(
    "OIDC_DISCOVERY_URL", env_str("OIDC_DISCOVERY_URL", "")
)
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
# Also read from OIDC_CLIENT_SECRET_FILE (a path), like every secret.
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
# The claim that lists the user's groups (e.g. "groups"); empty: group memberships are left
# to the admin.
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "")
# Email domains that may sign in (comma-separated; empty: any).
OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env_list("OIDC_ALLOWED_DOMAINS", [])]
# Hide the password form; only superusers may still sign in with a password (/login/?local=1).
OIDC_ONLY = env_bool("OIDC_ONLY", False)
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
# Seconds to wait for the provider (discovery, token, keys, userinfo).
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0, minimum=0.1, maximum=120)
if (OIDC_ISSUER or OIDC_DISCOVERY_URL) and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE): required when "
        "OIDC_ISSUER or OIDC_DISCOVERY_URL is set"
    )
if OIDC_ONLY and not (OIDC_ISSUER or OIDC_DISCOVERY_URL):
    raise ImproperlyConfigured("OIDC_ONLY: needs OIDC_ISSUER or OIDC_DISCOVERY_URL")

# Backups (`manage.py backup PATH` / `manage.py restore PATH`, see docs/deploy.md).
INSTALLED_APPS.append("backups")

# How file views hand files over: "django" streams them; "x-accel" answers with an empty body
# and X-Accel-Redirect: X_ACCEL_PREFIX + storage name, for nginx to send (local storage only).
FILE_SERVING = env_choice("FILE_SERVING", "django", ("django", "x-accel"))
X_ACCEL_PREFIX = env_str("X_ACCEL_PREFIX", "/protected/")
if not (X_ACCEL_PREFIX.startswith("/") and X_ACCEL_PREFIX.endswith("/")):
    raise ImproperlyConfigured(
        f"X_ACCEL_PREFIX: must start and end with '/', got {X_ACCEL_PREFIX!r}"
    )
if FILE_SERVING == "x-accel" and STORAGE_BACKEND != "local":
    raise ImproperlyConfigured(
        "FILE_SERVING: x-accel needs STORAGE_BACKEND=local (on S3 use S3_SIGNED_REDIRECT)"
    )
# Stored files are private to the app's account (every process runs under umask 077, see
# imagegen/core/umask.py); nginx sending them itself (x-accel) reads them through the group.
FILE_UPLOAD_PERMISSIONS = 0o640 if FILE_SERVING == "x-accel" else 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750 if FILE_SERVING == "x-accel" else 0o700
