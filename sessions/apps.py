from django.apps import AppConfig


class PeerSessionsConfig(AppConfig):
    name = "sessions"
    # Explicit label so this app never collides with django.contrib.sessions.
    label = "peer_sessions"
    verbose_name = "Peer sessions"
