from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The client portal (/me/): a person receiving support, signed in to their own record."""

    name = "portal"
    label = "portal"
    default_auto_field = "django.db.models.BigAutoField"
