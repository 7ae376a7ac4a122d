"""Development: generates a secret key outside git on first use."""

import secrets

from .base import *  # noqa: F403
from .base import BASE_DIR, env

# Off even here: Django's debug pages list every route and show tracebacks with their local
# variables (client data, under `make run`'s demo too), and the styled 403/404/500 pages are what a
# user should see. `DEBUG=true make run` turns them on for a developer.
DEBUG = env.bool("DEBUG", default=False)
# With DEBUG off, runserver serves no static files: WhiteNoise serves them from the apps' and
# static/ directories directly (no collectstatic), re-reading them as they change.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True


def _dev_secret_key() -> str:
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY", default=None) or _dev_secret_key()


def _dev_field_encryption_key() -> str:
    """Salt for the note-encryption keys (with SECRET_KEY); kept outside git like .secret_key."""
    path = BASE_DIR / ".field_encryption_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


# Newest first; older keys stay listed until every row is re-saved (docs/sessions.md).
SALT_KEY = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [_dev_field_encryption_key()]
