from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations, programs and roles"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - connects the receivers
