"""Plain words for the client's list of who saw their record: the audit trail's codes
(audit/actions.py) said as a person would say them."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The record the code names (its middle part) -> what the client reads.
_RECORDS = {
    "client": gettext_lazy("your record"),
    "client_record": gettext_lazy("your full record"),
    "session": gettext_lazy("your sessions"),
    "note": gettext_lazy("a session note"),
    "attendance": gettext_lazy("your sessions"),
    "consent": gettext_lazy("your consents"),
    "goal": gettext_lazy("your goals"),
    "goal_progress": gettext_lazy("your goals"),
    "outcome_measure": gettext_lazy("your check-ins"),
    "referral": gettext_lazy("your referrals"),
    "feedback": gettext_lazy("a note to your clinician"),
    "assignment": gettext_lazy("who supports you"),
    "contact": gettext_lazy("your contact details"),
    "safety_plan": gettext_lazy("your safety plan"),
    "appointment": gettext_lazy("your clinic appointments"),
    "task": gettext_lazy("a follow-up"),
    "contact_request": gettext_lazy("a request to contact you"),
}
_VERBS = {
    "viewed": gettext_lazy("Looked at %(what)s"),
    "listed": gettext_lazy("Saw you in a list (%(what)s)"),
    "searched": gettext_lazy("Searched for you"),
    "created": gettext_lazy("Added to %(what)s"),
    "updated": gettext_lazy("Changed %(what)s"),
    "deleted": gettext_lazy("Removed something from %(what)s"),
    "exported": gettext_lazy("Downloaded %(what)s"),
    "signed": gettext_lazy("Signed %(what)s"),
    "cosigned": gettext_lazy("Co-signed %(what)s"),
    "revoked": gettext_lazy("Withdrew a consent"),
}
_DISCLOSURES = {
    "disclosure.feedback": gettext_lazy("A note about you was sent to your clinician"),
    "disclosure.feedback.emergency": gettext_lazy("A note about your safety was sent to your clinician (emergency)"),
    "disclosure.feedback.reply": gettext_lazy("A reply about you went to your clinician"),
    "disclosure.peer_sessions": gettext_lazy("Your clinician saw facts of your peer sessions"),
    "disclosure.feedback.ehr": gettext_lazy("A note about you was sent to your clinic's health record"),
}
_ROLES = {
    "coordinator": gettext_lazy("Program coordinator"),
    "supporter": gettext_lazy("Peer supporter"),
    "clinician": gettext_lazy("Clinician"),
    "funder": gettext_lazy("Funder"),
}


def event_what(action: str) -> str:
    if action in _DISCLOSURES:
        return str(_DISCLOSURES[action])
    parts = action.split(".")
    record, verb = (parts[1], parts[2]) if len(parts) >= 3 else ("", parts[-1])
    what = _RECORDS.get(record, gettext_lazy("your information"))
    template = _VERBS.get(verb, gettext_lazy("Opened %(what)s"))
    return str(template) % {"what": what}


def event_who_role(roles: str) -> str:
    names = sorted({str(_ROLES[r.split("@")[0]]) for r in roles.split(",") if r and r.split("@")[0] in _ROLES})
    return ", ".join(names)


def event_why(event: Any) -> str:
    """The reason the trail holds: a consent, the program's treatment rule, an emergency."""
    detail = event.detail or {}
    if event.emergency or detail.get("basis") == "emergency" or event.action.endswith(".emergency"):
        return _("Emergency: a risk to someone's safety")
    if detail.get("basis") == "consent" or detail.get("consents"):
        return _("Your consent")
    bases = " ".join(str(b) for b in (detail.get("bases") or {}).values())
    if "consent" in bases:
        return _("Your consent")
    if "treatment" in bases:
        return _("Your treatment (your clinic's care team)")
    if event.action.startswith("disclosure."):
        return _("Your consent")
    return _("Their work with you")
