from .base import *  # noqa: F403

SECRET_KEY = "test-only-not-secret"  # noqa: S105 - fixed key for the test run only
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "sms.backends.locmem.SmsBackend"  # messages land in sms.outbox
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests that sign in with force_login() are not sent to MFA setup; the MFA
# tests switch it on with override_settings. Production and local default to True.
MFA_REQUIRED = False
# allauth's cache-based limits would leak between tests through the shared
# locmem cache; the database-held lockout (security.signin) is tested instead.
ACCOUNT_RATE_LIMITS = False
SALT_KEY = ["test-only-field-encryption-key"]  # fixed so encrypted fixtures decrypt across runs
IMPORT_JOBS_IN_THREAD = False
FHIR_DELIVERY_IN_THREAD = False  # the first attempt runs inline, after the test's commit
FHIR_DELIVERY_TIMEOUT_SECONDS = 2.0  # run import jobs inline so the test's transaction sees them

# A replica alias that is the test database itself (as TEST MIRROR does), but
# analytics read the primary so no other test has to declare it;
# tests/scale/test_database_routing.py switches ANALYTICS_DATABASE to it.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
ANALYTICS_DATABASE = "default"
