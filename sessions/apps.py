from django.apps import AppConfig


class PeerSessionsConfig(AppConfig):
    name = "sessions"
    # Explicit label so this app never collides with django.contrib.sessions.
    label = "peer_sessions"
    verbose_name = "Peer sessions"

    def ready(self) -> None:
        # The import kinds that write this app's records, into base.importing's registry; here
        # because the registry must not import the apps above it.
        from sessions.imports import register_kinds

        register_kinds()
