from django.apps import AppConfig


class PeerSessionsConfig(AppConfig):
    name = "sessions"
    # Explicit label so this app never collides with django.contrib.sessions.
    label = "peer_sessions"
    verbose_name = "Peer sessions"

    def ready(self) -> None:
        # The import kinds that write this app's records, into base.importing's registry; here
        # because the registry must not import the apps above it.
        from clients.signals import transitions_recorded
        from sessions.billing import recompute_on_credentials_changed
        from sessions.imports import register_kinds
        from sessions.services import tasks_for_transitions
        from supporters.signals import credentials_changed

        register_kinds()
        # Billing follows the supporters' credentials and the lapsed-credential policy.
        credentials_changed.connect(recompute_on_credentials_changed, dispatch_uid="sessions.billing.credentials")
        # A discharge or an emergency visit opens the follow-up task for the client's supporter.
        transitions_recorded.connect(tasks_for_transitions, dispatch_uid="sessions.tasks.transitions")
