from .base import *  # noqa: F403

SECRET_KEY = "test-only-not-secret"  # noqa: S105 - fixed key for the test run only
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
IMPORT_JOBS_IN_THREAD = False  # run import jobs inline so the test's transaction sees them
