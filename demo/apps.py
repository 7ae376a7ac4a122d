from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo program (`manage.py seed_demo`) and its helpers: a generator on top of every
    app, calling their services."""

    name = "demo"
    verbose_name = "Demo data"
