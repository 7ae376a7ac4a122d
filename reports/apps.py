from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from base.importing import records_imported
        from reports.tasks import refresh_after_import

        # The continuity page's stored view follows every import into its program.
        records_imported.connect(refresh_after_import, dispatch_uid="reports.snapshot_after_import")
