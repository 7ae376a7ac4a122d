from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Sign-in, the second factor, throttling, re-authentication, session timeouts, headers."""

    name = "security"
    verbose_name = "Sign-in and sessions"

    def ready(self) -> None:
        from security import checks, signals  # noqa: F401 - registers the checks, connects the receivers
