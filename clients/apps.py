from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        from clients.characteristics import characteristics_panel_context
        from dashboard.panels import Panel, register

        register(
            Panel("client", "clients/partials/characteristics_panel.html", characteristics_panel_context, order=10)
        )
