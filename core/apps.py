from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Organizations, programs, sites, users, memberships and roles: the bottom layer.

    The label stays "accounts", the app's name before the rooms were split, so the tables
    (accounts_user, accounts_program...), the migration history and every other app's
    foreign keys ("accounts.Program", AUTH_USER_MODEL = "accounts.User") are unchanged."""

    name = "core"
    label = "accounts"
    verbose_name = "Organizations, programs and roles"

    def ready(self) -> None:
        from core.dates import install

        install()  # one range for every date in every channel (core/dates.py)
