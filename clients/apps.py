from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # The import kinds that write this app's records, into base.importing's registry; here
        # because the registry must not import the apps above it.
        from clients.imports import register_kinds

        register_kinds()

        # Every new program starts with the default data-collection protocol (clients.collection).
        from django.db.models.signals import post_save

        from clients.collection import install_defaults_on_create
        from core.models import Program

        post_save.connect(install_defaults_on_create, sender=Program, dispatch_uid="collection-defaults")
