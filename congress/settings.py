"""Django settings for Congress Bot.

Every value is read once, here, through one ``environ.Env`` reader (CONTRACT
§2). With no environment variables at all the project runs on its embedded
default: SQLite, an in-process cache and locks, eager Celery, console e-mail
and the offline answerer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file is read when present; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _example_values(path: Path) -> frozenset[str]:
    """Every value ``.env.example`` ships, read the way ``.env`` is read.

    They are placeholders by definition: production refuses them as secrets
    (a copied-but-unedited ``.env`` must not reach the internet).
    """

    class ExampleEnv(environ.Env):
        ENVIRON: dict[str, str] = {}  # a scratch dict instead of os.environ

    ExampleEnv.read_env(path)
    values = set(ExampleEnv.ENVIRON.values())
    values.update(part.strip() for value in ExampleEnv.ENVIRON.values() for part in value.split(","))
    return frozenset(value for value in values if value)


EXAMPLE_ENV_VALUES = _example_values(BASE_DIR / ".env.example")


def is_placeholder(value: str) -> bool:
    """True for a value nobody should run production with: ``change-me…`` or one copied from .env.example."""
    return value.lower().startswith("change-me") or value in EXAMPLE_ENV_VALUES


def refuse_placeholders(values: dict[str, str | list[str]]) -> None:
    """Raise ImproperlyConfigured naming (never printing) every variable of ``values`` that holds a placeholder."""
    names = [
        name
        for name, value in values.items()
        if any(item and is_placeholder(item) for item in ([value] if isinstance(value, str) else value))
    ]
    if not names:
        return
    raise ImproperlyConfigured(
        f"ENV=prod refuses placeholder values in {', '.join(names)}: they start with 'change-me' or are "
        "copied from .env.example. Set real values in the environment or in .env (a secret: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'). Running it on your own machine? "
        "Local development needs no .env: delete it, or set ENV=dev in it."
    )


ENV = env.str("ENV", default="dev")
if ENV not in ("dev", "prod"):
    raise ImproperlyConfigured(f"ENV must be 'dev' or 'prod', not {ENV!r}")
PRODUCTION = ENV == "prod"

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-4f1c2b9e8a7d6c5b"  # noqa: S105 (dev-only, refused in prod)
SECRET_KEY = env.str("SECRET_KEY", default="")
BOT_API_KEY = env.str("BOT_API_KEY", default="")
if PRODUCTION:
    missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("BOT_API_KEY", BOT_API_KEY)) if not value]
    if missing:
        raise ImproperlyConfigured(f"ENV=prod requires {', '.join(missing)} to be set")
    if SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("ENV=prod requires a SECRET_KEY of at least 50 random characters")
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
if PRODUCTION and not ALLOWED_HOSTS:
    # Django would answer every request with 400 and say why only in a log line.
    raise ImproperlyConfigured(
        "ENV=prod requires ALLOWED_HOSTS: the domain(s) this site answers, e.g. ALLOWED_HOSTS=inscricoes.example.com.br"
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if PRODUCTION and sys.argv[1:2] == ["runserver"] and os.environ.get("RUN_MAIN") != "true":
    # A developer with a production .env (ENV=prod) would otherwise see only
    # "Bad Request (400)" or an HTTPS redirect for http://127.0.0.1:8000/.
    sys.stderr.write(
        f"Warning: ENV=prod. This server answers only Host headers in ALLOWED_HOSTS ({', '.join(ALLOWED_HOSTS) or 'none'}) "
        "and redirects HTTP to HTTPS, so http://127.0.0.1:8000/ gets 400. For local development set ENV=dev "
        "(or remove .env).\n"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "axes",
    "congress",
    "chatbot",
    "registrations",
    "whatsapp",
    "inbox",
    "payments",
]

MIDDLEWARE = [
    "congress.middleware.RequestIDMiddleware",
    "congress.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before CommonMiddleware validates the Host: the container's own health
    # probe (curl 127.0.0.1:8000/health) carries no production domain.
    "congress.health.LocalHealthProbeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # Static files for the admin, served by the app itself (after collectstatic).
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware")

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "congress.urls"
WSGI_APPLICATION = "congress.wsgi.application"
ASGI_APPLICATION = "congress.asgi.application"

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
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if PRODUCTION:
    # POSTGRES_PASSWORD reaches Django inside DATABASE_URL (docker compose) and
    # through env_file; the domain settings are checked with the secrets, since
    # the example domain in production answers every request with 400.
    refuse_placeholders(
        {
            "SECRET_KEY": SECRET_KEY,
            "BOT_API_KEY": BOT_API_KEY,
            "GATEWAY_API_KEY": env.str("GATEWAY_API_KEY", default=""),
            "DATABASE_URL (its password)": str(DATABASES["default"].get("PASSWORD") or ""),
            "POSTGRES_PASSWORD": env.str("POSTGRES_PASSWORD", default=""),
            "ALLOWED_HOSTS": ALLOWED_HOSTS,
            "CSRF_TRUSTED_ORIGINS": CSRF_TRUSTED_ORIGINS,
        }
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when PostgreSQL is unreachable, so /health answers 503 quickly.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT_S", default=5))
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, eager tasks) write to the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# Short socket timeouts: when Redis is down the bot must keep answering (it
# falls back to PostgreSQL), not hang on every call.
REDIS_SOCKET_TIMEOUT_S = env.float("REDIS_SOCKET_TIMEOUT_S", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "congress",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT_S,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT_S,
                # The cache is an optimisation: a Redis outage reads as a miss.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "congress"}}

# --- Conversation & pipeline limits (CONTRACT §2) ----------------------------
SESSION_TTL_SECONDS = env.int("SESSION_TTL_SECONDS", default=604800)
SESSION_MAX_STORED_TURNS = env.int("SESSION_MAX_STORED_TURNS", default=30)
DEDUPE_TTL_SECONDS = env.int("DEDUPE_TTL_SECONDS", default=21600)
LOCK_TTL_SECONDS = env.int("LOCK_TTL_SECONDS", default=60)
MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=4096)
MAX_AUDIO_BYTES = env.int("MAX_AUDIO_BYTES", default=8 * 1024 * 1024)

# --- OpenAI ------------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OPENAI_TRANSCRIBE_MODEL = env.str("OPENAI_TRANSCRIBE_MODEL", default="whisper-1")
OPENAI_TIMEOUT_S = env.float("OPENAI_TIMEOUT_S", default=20.0)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=3)
# Our own retries (the SDK's are off): exponential backoff with full jitter,
# honouring Retry-After up to a cap.
OPENAI_BACKOFF_BASE_S = env.float("OPENAI_BACKOFF_BASE_S", default=0.5)
OPENAI_BACKOFF_CAP_S = env.float("OPENAI_BACKOFF_CAP_S", default=8.0)
OPENAI_RETRY_AFTER_CAP_S = env.float("OPENAI_RETRY_AFTER_CAP_S", default=10.0)

# --- Celery ------------------------------------------------------------------
# Three timeouts must agree (DESIGN.md):
#   LLM worst case  = OPENAI_TIMEOUT_S x (OPENAI_MAX_RETRIES + 1) + backoff
#                   = 20 s x 4 + ~7 s  ~= 87 s per call at the defaults
#   lock TTL        a held lock is renewed every TTL/3 by a keeper thread
#                     (congress.locks.LockKeeper) while a turn runs, on the
#                     drain task and on the sync paths alike, so a turn may
#                     outlast LOCK_TTL_SECONDS (60 s); the TTL bounds how long a
#                     dead worker's chat stays blocked.
#   visibility      > lock TTL and > the longest task: one drain handles at most
#                     WA_DRAIN_BATCH (20) messages, 20 x 87 s ~= 29 min < 2 h, so
#                     a task that is still running is never handed to a second
#                     worker. A task lost with a killed worker is not waited for:
#                     the sweeper re-enqueues from PostgreSQL after WA_SWEEP_AGE_S.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
# Eager mode (embedded default): retries run inline and a failing task is logged,
# never turned into an error of the web request that enqueued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No task sets a rate limit: skip the worker's per-task rate-limit bookkeeping.
CELERY_WORKER_DISABLE_RATE_LIMITS = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=7200)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep worker database connections across tasks (Celery's Django fix-up would
# close them around every task); whatsapp.tasks closes broken or aged ones
# (CONN_MAX_AGE) instead, as Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = "America/Sao_Paulo"
# Keep Django's LOGGING (masking filter, request ids) in worker processes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The WhatsApp pipeline (whatsapp/services.py). Backoffs are exponential with
# jitter: WA_RETRY_BACKOFF_S x 2^(attempt-1), capped at WA_RETRY_BACKOFF_MAX_S.
WA_DRAIN_BATCH = env.int("WA_DRAIN_BATCH", default=20)
WA_PROCESS_MAX_ATTEMPTS = env.int("WA_PROCESS_MAX_ATTEMPTS", default=5)
WA_RETRY_BACKOFF_S = env.float("WA_RETRY_BACKOFF_S", default=2.0)
WA_RETRY_BACKOFF_MAX_S = env.float("WA_RETRY_BACKOFF_MAX_S", default=300.0)
WA_SWEEP_INTERVAL_S = env.float("WA_SWEEP_INTERVAL_S", default=15.0)
WA_SWEEP_AGE_S = env.float("WA_SWEEP_AGE_S", default=10.0)
WA_SWEEP_LIMIT = env.int("WA_SWEEP_LIMIT", default=1000)
CELERY_BEAT_SCHEDULE: dict = {
    # `celery -A congress worker -B` (or a separate `celery -A congress beat`).
    "whatsapp-sweep": {"task": "whatsapp.tasks.sweep", "schedule": WA_SWEEP_INTERVAL_S},
    # Confirmation e-mails whose queue message was lost (a Redis restart).
    "sweep-confirmation-emails": {"task": "registrations.tasks.sweep_confirmation_emails", "schedule": 300},
    # LGPD retention: anonymize after the event, erase old message bodies.
    "purge-personal-data": {"task": "registrations.tasks.purge_personal_data_task", "schedule": 24 * 3600},
    # Handoffs: close idle ones, e-mail the organizers about new ones (batched).
    "inbox-sweep": {"task": "inbox.tasks.sweep", "schedule": env.float("HANDOFF_SWEEP_INTERVAL_S", default=60.0)},
    # Payments: reminders, expiries (seats released), waitlist offers passed on.
    "payments-sweep": {"task": "payments.tasks.sweep", "schedule": env.float("PAYMENTS_SWEEP_INTERVAL_S", default=60.0)},
}

# --- Paid registration (payments) ---------------------------------------------
# Static Pix: the key, the merchant name and city printed in the BR Code
# (no payment provider: organizers review the receipts participants send).
PIX_KEY = env.str("PIX_KEY", default="")
PIX_MERCHANT_NAME = env.str("PIX_MERCHANT_NAME", default="")
PIX_MERCHANT_CITY = env.str("PIX_MERCHANT_CITY", default="")
# A PSP's Pix API (the Central Bank's standard): takes precedence when set.
PIX_API_URL = env.str("PIX_API_URL", default="").rstrip("/")
PIX_CLIENT_ID = env.str("PIX_CLIENT_ID", default="")
PIX_CLIENT_SECRET = env.str("PIX_CLIENT_SECRET", default="")
PIX_CERT_FILE = env.str("PIX_CERT_FILE", default="")  # mTLS client certificate (PEM), where the PSP needs it
PIX_CERT_KEY_FILE = env.str("PIX_CERT_KEY_FILE", default="")
PIX_TIMEOUT_S = env.float("PIX_TIMEOUT_S", default=10.0)
# The last path segment of the webhook URL registered at the PSP.
PIX_WEBHOOK_SECRET = env.str("PIX_WEBHOOK_SECRET", default="")
PAYMENT_EXPIRY_HOURS = env.float("PAYMENT_EXPIRY_HOURS", default=72.0)
# The reminder goes this many hours before the charge expires.
PAYMENT_REMINDER_HOURS = env.float("PAYMENT_REMINDER_HOURS", default=24.0)
WAITLIST_CLAIM_HOURS = env.float("WAITLIST_CLAIM_HOURS", default=24.0)
# The prefix of registration codes (CBAS-7F3K2).
REGISTRATION_CODE_PREFIX = env.str("REGISTRATION_CODE_PREFIX", default="CBAS")
# Receipts and proofs sent in the chat: larger files are refused.
MAX_ATTACHMENT_BYTES = env.int("MAX_ATTACHMENT_BYTES", default=5 * 1024 * 1024)

# --- Handoff to a person (inbox) ---------------------------------------------
# A handoff closes itself after this long without staff activity.
HANDOFF_IDLE_HOURS = env.float("HANDOFF_IDLE_HOURS", default=24.0)
# The site's public address, for links in e-mails to the organizers
# (empty: https://<first ALLOWED_HOSTS entry>).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
# Who is e-mailed when handoffs open (comma-separated); empty = the event's contact e-mail.
HANDOFF_NOTIFY_EMAILS = env.list("HANDOFF_NOTIFY_EMAILS", default=[])
# At most one e-mail per this many minutes: a busy hour is one e-mail, not fifty.
HANDOFF_NOTIFY_INTERVAL_MINUTES = env.float("HANDOFF_NOTIFY_INTERVAL_MINUTES", default=60.0)
# While a handoff is open, "recebemos sua mensagem" at most once per this many minutes.
HANDOFF_ACK_MINUTES = env.float("HANDOFF_ACK_MINUTES", default=30.0)

# --- Outbound ----------------------------------------------------------------
GATEWAY_URL = env.str("GATEWAY_URL", default="")
GATEWAY_TIMEOUT_S = env.float("GATEWAY_TIMEOUT_S", default=10.0)
# Key sent to GATEWAY_URL/send-text and required by our own gateway's
# /send-text; the original gateway shares BOT_API_KEY.
GATEWAY_API_KEY = env.str("GATEWAY_API_KEY", default="") or BOT_API_KEY
# 20 attempts with the backoff above: a gateway may be down for about an hour
# before a reply is marked failed (then "retry" in the admin).
WA_SEND_MAX_ATTEMPTS = env.int("WA_SEND_MAX_ATTEMPTS", default=20)
# Outbound pacing per WhatsApp number (all workers together; 0 = off): at most
# WA_SEND_RATE_PER_S replies a second, bursts of WA_SEND_BURST. WhatsApp's own
# limits are far below what the pipeline can do (docs/benchmarks.md).
WA_SEND_RATE_PER_S = env.float("WA_SEND_RATE_PER_S", default=20.0)
WA_SEND_BURST = env.int("WA_SEND_BURST", default=20)
# The neonize gateway (python manage.py whatsapp_gateway).
WA_GATEWAY_HOST = env.str("WA_GATEWAY_HOST", default="127.0.0.1")
WA_GATEWAY_PORT = env.int("WA_GATEWAY_PORT", default=3000)
WA_SESSION = env.str("WA_SESSION", default="")  # postgres DSN or SQLite path; derived from DATABASE_URL when empty
WA_ACCEPT_GROUPS = env.bool("WA_ACCEPT_GROUPS", default=False)
WA_TYPING_INDICATOR = env.bool("WA_TYPING_INDICATOR", default=True)
# Bursts: a chat's messages that arrive within this many ms of each other are
# answered as one turn with one reply (every WhatsApp channel, never /chat);
# 0 = each message answered on its own. whatsapp/debounce.py has the rules.
WA_DEBOUNCE_MS = env.int("WA_DEBOUNCE_MS", default=1500)
if WA_DEBOUNCE_MS < 0:
    raise ImproperlyConfigured(f"WA_DEBOUNCE_MS must be 0 (off) or a number of milliseconds, not {WA_DEBOUNCE_MS}")
# --- WhatsApp Cloud API (issue 13; whatsapp/channels/cloud.py, docs/whatsapp-cloud-api.md) ---
# Token + phone number id both set = the Cloud API channel sends; the app
# secret authenticates the webhook (/whatsapp/cloud: X-Hub-Signature-256), the
# verify token answers its GET handshake. Unset = that part is off.
WA_CLOUD_ACCESS_TOKEN = env.str("WA_CLOUD_ACCESS_TOKEN", default="")
WA_CLOUD_PHONE_NUMBER_ID = env.str("WA_CLOUD_PHONE_NUMBER_ID", default="")
WA_CLOUD_APP_SECRET = env.str("WA_CLOUD_APP_SECRET", default="")
WA_CLOUD_VERIFY_TOKEN = env.str("WA_CLOUD_VERIFY_TOKEN", default="")
WA_CLOUD_API_URL = env.str("WA_CLOUD_API_URL", default="https://graph.facebook.com/v23.0")
WA_CLOUD_TIMEOUT_S = env.float("WA_CLOUD_TIMEOUT_S", default=10.0)
# Read receipts and the typing indicator are best effort: a short timeout, so
# a slow Graph API never delays a reply by more than this.
WA_CLOUD_READ_TIMEOUT_S = env.float("WA_CLOUD_READ_TIMEOUT_S", default=2.0)
# --- end WhatsApp Cloud API ---

# --- E-mail ------------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587/?tls=True) or an anymail backend via
# EMAIL_BACKEND + ANYMAIL_* variables; console by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_BACKEND)  # noqa: F821 (set by email_url)
ANYMAIL = {key[len("ANYMAIL_"):]: value for key, value in env.ENVIRON.items() if key.startswith("ANYMAIL_")}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Congresso <nao-responda@congresso.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if PRODUCTION:
    # Confirmation e-mails carry this sender: the example's address would bounce or be marked as spam.
    refuse_placeholders({"DEFAULT_FROM_EMAIL": DEFAULT_FROM_EMAIL})

# --- Auth / admin --------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"

# --- i18n --------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
# pt-BR only until another language has its translations: offering "en"
# would let an English browser get Django's admin chrome in English around
# our pt-BR labels (LocaleMiddleware picks from this list).
LANGUAGES = [("pt-br", _("Português (Brasil)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["congress.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["congress.api_auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "congress.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "congress.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Per conversation here; per IP for keyless requests in ApiKeyAuthentication.
    "DEFAULT_THROTTLE_CLASSES": ["congress.throttles.ConversationRateThrottle"],
    # Client IP from X-Forwarded-For behind this many proxies (0 = REMOTE_ADDR).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0) if env.str("NUM_PROXIES", default="") else None,
}
THROTTLE_CONVERSATION_RATE = env.str("THROTTLE_CONVERSATION_RATE", default="30/min")
THROTTLE_ANON_IP_RATE = env.str("THROTTLE_ANON_IP_RATE", default="30/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Congress Bot API",
    "DESCRIPTION": "WhatsApp assistant and registration back-office of an agribusiness congress.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from this app (no CDN): works offline and behind strict CSPs.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Request bodies: base64 audio is ~4/3 of MAX_AUDIO_BYTES, plus JSON overhead.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(max(MAX_AUDIO_BYTES, MAX_ATTACHMENT_BYTES) * 4 / 3) + 64 * 1024  # base64 audio or file
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- Security (prod) ----------------------------------------------------------
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# /health is probed over plain HTTP by load balancers and docker healthchecks.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logging -----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "congress.logging.RequestIDFilter"},
        "mask_pii": {"()": "congress.logging.MaskPIIFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "mask_pii"],
            "formatter": "json" if LOG_JSON else "text",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "whatsmeow": {"level": "WARNING"},
        # The gateway sends text only; ffmpeg (voice notes, stickers, video)
        # is not in the image, and neonize warns about it on every connect.
        "neonize.utils.ffmpeg": {"level": "ERROR"},
        # Celery's own "Task ... received" / "... succeeded" lines: two per
        # task, each through the masking filter, saying less than the
        # whatsapp.* lines the pipeline logs per message. Failures still log.
        "celery.app.trace": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
        "celery.worker.strategy": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
    },
}

# --- Metrics -----------------------------------------------------------------
# Database gauges computed at each scrape of GET /metrics, in this order; each
# app defines its own (congress.metrics serves them).
METRICS_COLLECTORS = [
    "whatsapp.metrics.MessageCollector",
    "whatsapp.metrics.ChannelAlertCollector",
    "registrations.metrics.RegistrationCollector",
]

# --- Event defaults -----------------------------------------------------------
PRIVACY_NOTICE_VERSION = env.str("PRIVACY_NOTICE_VERSION", default="2026-11")
PRIVACY_NOTICE_URL = env.str("PRIVACY_NOTICE_URL", default="")  # default: this app's /privacidade
RETENTION_AFTER_EVENT_DAYS = env.int("RETENTION_AFTER_EVENT_DAYS", default=90)
MESSAGE_BODY_RETENTION_DAYS = env.int("MESSAGE_BODY_RETENTION_DAYS", default=30)
