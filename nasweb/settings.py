"""Django settings. Everything configurable comes from environment variables; the defaults are
safe for a local run (SQLite beside the code, Redis on localhost, DEBUG on)."""

from __future__ import annotations

from pathlib import Path

from .env import database_from_url, env_bool, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "frontend",
    "nasweb.searches",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nasweb.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "nasweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL", "sqlite:///db.sqlite3")
DATABASES = {"default": database_from_url(DATABASE_URL, BASE_DIR)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, Celery workers) share the file: wait for locks instead of failing,
    # take the write lock when a transaction starts (no deadlocking lock upgrades), and let
    # readers run beside a writer (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": int(env_str("SQLITE_BUSY_TIMEOUT", "30")),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits 5 s per BZPOPMIN; redis-py 8 also times reads out after 5 s by
        # default, which kills an idle consumer: give reads more time than the wait.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                   "prefix": env_str("UNAS_CHANNEL_PREFIX", "asgi")},
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("UNAS_CELERY_QUEUE", "unas")
# A task runs longer than this (seconds) is handed to another worker by Redis; the candidate
# claim keeps that from training it twice. Keep it above the longest evaluation.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env_str("UNAS_BROKER_VISIBILITY_TIMEOUT", "7200"))}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "unas-reap": {"task": "nasweb.searches.tasks.reap",
                  "schedule": float(env_str("UNAS_REAPER_INTERVAL", "30"))},
}

# Where local data sets (MNIST IDX files, ...) are read from; nothing is downloaded at run time.
DATASETS_DIR = Path(env_str("UNAS_DATASETS_DIR", str(BASE_DIR.parent / "shared" / "datasets")))

# --- REST API (nasweb/searches) ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",  # browser; enforces CSRF
        "rest_framework.authentication.TokenAuthentication",  # scripts
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "nasweb.searches.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "nasweb.searches.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "μNAS Web API",
    "DESCRIPTION": "Neural architecture search for microcontrollers: projects, searches, "
                   "candidates, artifacts, data sets and MCU presets.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"SearchStateEnum": "nasweb.searches.models.SearchState",
                            "CandidateStateEnum": "nasweb.searches.models.CandidateState"},
}

# --- Searches: Celery evaluation, leases, uploads (docs/web.md) ---------------------------------
UNAS_EVALUATOR = env_str("UNAS_EVALUATOR", "search_engine.search.evaluate:evaluate_candidate")
UNAS_PRECHECK = env_str("UNAS_PRECHECK", "analytic")  # "analytic" or "none"
UNAS_HEARTBEAT_SECONDS = float(env_str("UNAS_HEARTBEAT_SECONDS", "10"))
UNAS_LEASE_SECONDS = float(env_str("UNAS_LEASE_SECONDS", "60"))
UNAS_QUEUED_LEASE_SECONDS = float(env_str("UNAS_QUEUED_LEASE_SECONDS", "300"))
UNAS_MAX_ATTEMPTS = int(env_str("UNAS_MAX_ATTEMPTS", "3"))
UNAS_STOP_GRACE_SECONDS = float(env_str("UNAS_STOP_GRACE_SECONDS", "10"))
UNAS_WORK_DIR = Path(env_str("UNAS_WORK_DIR", str(BASE_DIR / ".run" / "work")))
UNAS_ARTIFACT_MAX_BYTES = int(env_str("UNAS_ARTIFACT_MAX_BYTES", str(16 * 1024 * 1024)))
UNAS_UPLOAD_MAX_BYTES = int(env_str("UNAS_UPLOAD_MAX_BYTES", str(256 * 1024 * 1024)))
UNAS_UPLOAD_QUOTA_BYTES = int(env_str("UNAS_UPLOAD_QUOTA_BYTES", str(1024 * 1024 * 1024)))
UNAS_SIGNUP_OPEN = env_bool("UNAS_SIGNUP_OPEN", True)
# Image zips: decode every image at upload, in a child process with TensorFlow
# (search_engine/train/datasets/decode_check.py), cut after this many seconds.
UNAS_DECODE_UPLOADED_IMAGES = env_bool("UNAS_DECODE_UPLOADED_IMAGES", True)
UNAS_IMAGE_DECODE_TIMEOUT = float(env_str("UNAS_IMAGE_DECODE_TIMEOUT", "300"))
# Request bodies (nasweb/gate.py): at most this many bytes anywhere but the upload endpoint;
# bodies and uploaded files above FILE_UPLOAD_MAX_MEMORY_SIZE are kept on disk, not in memory.
UNAS_MAX_BODY_BYTES = int(env_str("UNAS_MAX_BODY_BYTES", str(2_621_440)))
FILE_UPLOAD_MAX_MEMORY_SIZE = int(env_str("UNAS_UPLOAD_MEMORY_BYTES", str(1024 * 1024)))

# --- Pages (frontend/) ---------------------------------------------------------------------------
LOGIN_URL = "/signin/"
LOGIN_REDIRECT_URL = "/projects/"
# plotly.min.js comes from the installed plotly package (frontend/finders.py), not from git.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "frontend.finders.PlotlyFinder",
]
# Behind an HTTPS reverse proxy (docs/deploy.md): the public origin(s) for CSRF checks, and
# trusting the proxy's X-Forwarded-Proto header.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
if env_bool("DJANGO_BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
