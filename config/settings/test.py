from .base import *  # noqa: F403

SECRET_KEY = "test-only-not-secret"  # noqa: S105 - fixed key for the test run only
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A replica alias that is the test database itself (as TEST MIRROR does), but
# analytics read the primary so no other test has to declare it;
# tests/scale/test_database_routing.py switches ANALYTICS_DATABASE to it.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
ANALYTICS_DATABASE = "default"
