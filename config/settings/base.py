"""Settings shared by every environment; everything that differs comes from the environment."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

from config.db import database_settings
from config.periodic import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# DATABASE_URL, plus optional DATABASE_REPLICA_URL (analytics reads) and DB_POOL: see config/db.py.
DATABASES = database_settings(env, default_url=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASE_ROUTERS = ["config.db.PrimaryReplicaRouter"]
ANALYTICS_DATABASE = "replica" if "replica" in DATABASES else "default"
# Only config.settings.bench turns on the /bench/ comparison views.
BENCH = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; busy timeout turns lock
    # contention into a short wait instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's sign-in sessions page (accounts/sessions/) loads it
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "knox",
    "django_filters",
    "guardian",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "csp",
    "django_htmx",
]
LOCAL_APPS = [
    "core",
    "audit",
    "security",
    "base",
    "supporters",
    "clients",
    "sessions.apps.PeerSessionsConfig",
    "reports",
    "dashboard",
    "demo",
    "config",  # the project: the periodic runner command (config/management)
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.parsers.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.request_cache.RequestCacheMiddleware",
    "core.timezones.RequestTimezoneMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.middleware.PlainNotFoundMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "security.middleware.SessionTimeoutMiddleware",
    "security.middleware.MfaRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.NoStoreForSignedInMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "security.context_processors.session_limits",
                "dashboard.context_processors.shell",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Django's ModelBackend behind a database-held lockout (security/signin.py).
    "security.signin.ThrottledModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "security.passwords.MaximumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Storage is UTC; each program carries its own IANA zone for local dates.
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]  # one date format on every page (config/formats/en)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_AGE = env.int("SESSION_ABSOLUTE_SECONDS", default=8 * 3600)
# Both enforced on the server by security.middleware.SessionTimeoutMiddleware.
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=15 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
EMAIL_BACKEND: str  # set by the line above; declared for the type checker
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="peer-support@localhost")
# Absolute address of the site, for links in e-mails (notifications, funder report notices).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Text messages (sessions.notifications) go through django-sms's backends, chosen like e-mail's:
# the console in development, a list in memory in tests (sms.backends.locmem.SmsBackend), Twilio in
# production (SMS_BACKEND=sms.backends.twilio.SmsBackend with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
# and SMS_FROM, the sending number).
SMS_BACKEND = env("SMS_BACKEND", default="sms.backends.console.SmsBackend")
DEFAULT_FROM_SMS = env("SMS_FROM", default="")
# A self-hosted meeting server (e.g. Jitsi Meet: "https://meet.example.org"): video sessions
# booked without a link get one there, the host and an unguessable room name (sessions.meetings).
# Empty: the supporter pastes any provider's https link.
MEETING_HOST = env("MEETING_HOST", default="")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
# Phone numbers written without a country code are read in this region (core.phones).
PHONE_REGION = env("PHONE_REGION", default="US")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so unauthenticated API calls get 401 with WWW-Authenticate.
        "security.authentication.SecondFactorTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every view must opt in to what it allows.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # NUL characters and deep nesting are a 400, never a 500 (core/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.DefaultCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 5,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Peer Support Program Manager API",
    "DESCRIPTION": "Scoped REST API: every list and detail is limited to what the caller's roles allow.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`; name each choice set so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions.models.SessionStatus",
        "AttendanceStatusEnum": "sessions.models.AttendanceStatus",
        "AppointmentStatusEnum": "clients.models.AppointmentStatus",
        "GoalStatusEnum": "clients.models.GoalStatus",
        "ReferralStatusEnum": "clients.models.ReferralStatus",
        "FeedbackCategoryEnum": "sessions.models.FeedbackCategory",
        "SessionKindEnum": "sessions.models.SessionKind",
    },
}

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "security.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "filters": {"redact_phi": {"()": "security.logging.RedactPHIFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_phi"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request URLs may carry object ids; request bodies may carry PHI. Keep
        # Django's request logger at WARNING and never log bodies.
        # Only our redacting console: Django's own console (DEBUG) and admin e-mails
        # (AdminEmailHandler, which sends request details) never see a record.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # WeasyPrint narrates every layout step at INFO; keep renders quiet.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# The cache holds sign-in guards (a TOTP code used once stays used), rate limits and import
# progress, so several gunicorn workers must share it: set CACHE_URL (redis://...) there.
# Without it each process keeps its own (fine for `make run`, a single process).
CACHE_URL = env("CACHE_URL", default="")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    CACHES = {"default": env.cache_url("CACHE_URL")}


# Celery: Redis in production; without a broker every task runs inline (settings further down).
CELERY_TIMEZONE = "UTC"
# PDF rendering has its own queue; run its worker with --max-tasks-per-child=1 so
# every render happens in a fresh process (see docs/funder-reports.md).
CELERY_TASK_ROUTES = {"reports.generate_funder_report": {"queue": "render"}}
# The clock jobs (escalation, reminders, scheduled reports) are listed once, in config/periodic.py.
CELERY_BEAT_SCHEDULE = beat_schedule()

# --- Sign-in: django-allauth with MFA (TOTP + recovery codes); see docs/security.md ---
ACCOUNT_ADAPTER = "security.mfa.AccountAdapter"
ACCOUNT_FORMS = {"login": "security.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("REAUTH_SECONDS", default=300)
MFA_ADAPTER = "security.mfa.MFAAdapter"
# The second-factor step counts wrong codes in the one sign-in throttle (security.signin).
MFA_FORMS = {"authenticate": "security.forms.AuthenticateForm"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Peer Support Program Manager"
# Coordinators and clinicians must enrol before anything else. Only switch off for local demos.
MFA_REQUIRED = env.bool("MFA_REQUIRED", default=True)
# Fernet keys (newest first) for TOTP secrets; without them a key is derived from SECRET_KEY.
MFA_ENCRYPTION_KEYS = env.list("MFA_ENCRYPTION_KEYS", default=[])
USERSESSIONS_TRACK_ACTIVITY = False
SIGNIN_MAX_FAILURES = env.int("SIGNIN_MAX_FAILURES", default=5)
SIGNIN_MAX_FAILURES_PER_IP = env.int("SIGNIN_MAX_FAILURES_PER_IP", default=50)
SIGNIN_LOCKOUT_SECONDS = env.int("SIGNIN_LOCKOUT_SECONDS", default=15 * 60)
EMERGENCY_ACCESS_MINUTES = env.int("EMERGENCY_ACCESS_MINUTES", default=60)

# --- Content Security Policy (django-csp): no inline script or style anywhere ---
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Background jobs (config/celery.py). Without a broker, tasks run eagerly in-process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=None) or None
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Eager mode only: run an import job in a thread after commit, so the upload request
# returns at once and the page can poll the progress. Tests turn this off to run inline.
IMPORT_JOBS_IN_THREAD = env.bool("IMPORT_JOBS_IN_THREAD", default=True)
# Feedback to the EHR (issue 20 item 2): the attempt's HTTP timeout, and, without a broker, a
# thread beside the request for the first attempt (tests turn it off to run inline).
FHIR_DELIVERY_TIMEOUT_SECONDS = env.float("FHIR_DELIVERY_TIMEOUT_SECONDS", default=10.0)
FHIR_DELIVERY_IN_THREAD = env.bool("FHIR_DELIVERY_IN_THREAD", default=True)
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200_000_000)
