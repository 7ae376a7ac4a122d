from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The web shell every page shares: navigation, role homes, lists and page safety."""

    name = "dashboard"
    verbose_name = "Dashboard"
