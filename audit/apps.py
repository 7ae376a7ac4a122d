from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit trail: events, the action vocabulary, recording, verification, the audit page."""

    name = "audit"
    verbose_name = "Audit trail"
