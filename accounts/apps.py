from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations, programs and roles"

    def ready(self) -> None:
        from accounts import checks, signals  # noqa: F401 - registers the checks, connects the receivers
        from config.dates import install

        install()  # one range for every date in every channel (config/dates.py)
