from django.apps import AppConfig


class SupportersConfig(AppConfig):
    name = "supporters"

    def ready(self) -> None:
        # The import kinds that write this app's records, into base.importing's registry; here
        # because the registry must not import the apps above it.
        from supporters.imports import register_kinds

        register_kinds()
