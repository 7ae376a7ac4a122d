"""Production: refuses to start without a secret key; passes `check --deploy`."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY", default="")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set (50+ random characters) in production.")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Notes are encrypted with keys derived from SECRET_KEY and these salts (newest first).
SALT_KEY = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not SALT_KEY:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set in production (see docs/sessions.md).")
# The console backend prints every message, password-reset links included, to the server log.
if EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend" and not env.bool(  # noqa: F405
    "ALLOW_CONSOLE_EMAIL", default=False
):
    raise ImproperlyConfigured(
        "Set EMAIL_URL (e.g. smtp+tls://user:pass@mail.example.org:587) in production; the console "
        "backend would print password-reset links to the log. ALLOW_CONSOLE_EMAIL=true overrides."
    )
# The console SMS backend would print phone numbers to the log.
if SMS_BACKEND == "sms.backends.console.SmsBackend" and not env.bool("ALLOW_CONSOLE_SMS", default=False):  # noqa: F405
    raise ImproperlyConfigured(
        "Set SMS_BACKEND (e.g. sms.backends.twilio.SmsBackend with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
        "SMS_FROM) in production; the console backend would print phone numbers to the log. "
        "ALLOW_CONSOLE_SMS=true overrides."
    )
