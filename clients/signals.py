"""What the clients' room tells the rooms above it, without importing them.

`transitions_recorded` is sent inside the writing transaction when discharges or emergency
visits (continuity.md §2's transition events) were recorded: by the ADT listener, a POSTed FHIR
Encounter (clients.services.transition_event_record) or an appointments import. The follow-up
task of issue 20 (sessions.services.tasks_for_transitions) receives it, so the task rule stays
in one place (connected in PeerSessionsConfig.ready)."""

from django.dispatch import Signal

transitions_recorded = Signal()  # sender: the Program; keyword: appointment_ids (list[int])
