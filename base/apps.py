from django.apps import AppConfig


class BaseConfig(AppConfig):
    """The shared base every room builds on, above `core`, `security` and `audit`: the DRF
    viewsets (scoping, declared write roles, one audit event per call), the audited admin, the
    import base (columns, checks, COPY writer, job), and the audited operations on core's
    records (programs, sites, memberships) with their API. It has no models."""

    name = "base"
    verbose_name = "Shared base"

    def ready(self) -> None:
        from base.importing import register_kinds

        register_kinds()  # the import kinds whose records live in core (sites); each app registers its own
