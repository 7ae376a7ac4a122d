from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # The import kinds that write this app's records, into base.importing's registry; here
        # because the registry must not import the apps above it.
        from clients.imports import register_kinds

        register_kinds()
