"""The audit trail's vocabulary: every action code that any part of the system records.

A code reads `<app>.<record>.<verb>`: `clients.client.viewed`, `peer_sessions.note.signed`,
`disclosure.feedback.emergency`. `audit.records.audit_record` refuses a code that is not in
`ALL`, so the API, the pages, the admin, management commands and tasks cannot drift into
synonyms (the old trail had `note.sign` from pages and `sign` from the API), and the audit
page's action filter (`FILTER_CHOICES`) is this list and nothing else.

Who records what (docs/security.md, "The audit trail"):
- writes: the service that makes the change (`audit.records.audit_write`), once, after it
  happened, so a form that was only opened or failed validation records nothing;
- reads: the API base (`base.api_base.ScopedMixin`) for every API read, the `audited`
  decorator or an explicit `audit_record` for pages, the admin base for admin pages;
- disclosures to clinicians: `clients.disclosure` (the gate) and the feedback services.
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------- verbs
VIEWED = "viewed"
LISTED = "listed"
CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"

CRUD = (VIEWED, LISTED, CREATED, UPDATED, DELETED)

# --------------------------------------------------------------------------- records
# Model label -> the record's name in codes. Every model a user can read or change is here;
# `code_for(model, verb)` builds its codes.
RECORDS: dict[str, str] = {
    "accounts.user": "accounts.user",
    "accounts.organization": "accounts.organization",
    "accounts.program": "accounts.program",
    "accounts.site": "accounts.site",
    "accounts.membership": "accounts.membership",
    "accounts.staffcontact": "accounts.staff_contact",
    "accounts.emergencyaccess": "accounts.emergency_access",
    "supporters.supporter": "supporters.supporter",
    "supporters.credentialtype": "supporters.credential_type",
    "supporters.certification": "supporters.certification",
    "supporters.cehours": "supporters.ce_hours",
    "supporters.programpolicy": "supporters.program_policy",
    "supporters.supervisionsession": "supporters.supervision_session",
    "supporters.livedexperience": "supporters.lived_experience",
    "supporters.oncallshift": "supporters.on_call_shift",
    "clients.clinician": "clients.clinician",
    "clients.client": "clients.client",
    "clients.caseloadassignment": "clients.assignment",
    "clients.clinicalappointment": "clients.appointment",
    "clients.consent": "clients.consent",
    "clients.clientpreference": "clients.preference",
    "clients.clientcontact": "clients.contact",
    "clients.clientaccount": "clients.client_account",
    "portal.clientinvitation": "portal.invitation",
    "portal.safetyplan": "portal.safety_plan",
    "clients.recoverygoal": "clients.goal",
    "clients.goalprogress": "clients.goal_progress",
    "clients.instrument": "clients.instrument",
    "clients.collectionpoint": "clients.collection_point",
    "clients.adtmessage": "clients.adt_message",
    "clients.outcomemeasure": "clients.outcome",
    "clients.resource": "clients.resource",
    "clients.referral": "clients.referral",
    "clients.importjob": "imports.job",
    "peer_sessions.peersession": "peer_sessions.session",
    "peer_sessions.attendance": "peer_sessions.attendance",
    "peer_sessions.sessionseries": "peer_sessions.series",
    "peer_sessions.calendarfeed": "peer_sessions.calendar_feed",
    "peer_sessions.programsessionrules": "peer_sessions.rules",
    "peer_sessions.noteaddendum": "peer_sessions.note_addendum",
    "peer_sessions.feedbackitem": "peer_sessions.feedback",
    "peer_sessions.feedbackreply": "peer_sessions.feedback_reply",
    "peer_sessions.notification": "peer_sessions.notification",
    "peer_sessions.notificationdelivery": "peer_sessions.notification_delivery",
    "peer_sessions.followuptask": "peer_sessions.task",
    "peer_sessions.draft": "peer_sessions.draft",
    "peer_sessions.fhirendpoint": "peer_sessions.fhir_endpoint",
    "peer_sessions.feedbackdelivery": "peer_sessions.feedback_delivery",
    "reports.funderreport": "reports.funder_report",
    "accounts.auditevent": "audit.events",
}

# --------------------------------------------------------------------------- named codes
# Records (beyond their CRUD codes)
CLIENT_SEARCHED = "clients.client.searched"
CLIENT_RECORD_VIEWED = "clients.client_record.viewed"
CLIENT_RECORD_EXPORTED = "clients.client_record.exported"
CONSENT_REVOKED = "clients.consent.revoked"
CARE_RHYTHM_SET = "clients.client.care_rhythm_set"
ASSIGNMENT_TRANSFERRED = "clients.assignment.transferred"
NOTE_SIGNED = "peer_sessions.note.signed"
NOTE_COSIGNED = "peer_sessions.note.cosigned"
TASK_COMPLETED = "peer_sessions.task.completed"
TASK_ESCALATED = "peer_sessions.task.escalated"
CONTACT_REQUEST_RAISED = "peer_sessions.contact_request.raised"
CONTACT_REQUEST_ANSWERED = "peer_sessions.contact_request.answered"
FEEDBACK_ACKNOWLEDGED = "peer_sessions.feedback.acknowledged"
FEEDBACK_ESCALATED = "peer_sessions.feedback.escalated"
DRAFTS_PURGED = "peer_sessions.draft.purged"  # drafts left DRAFT_KEEP deleted by the clock job (a count)
# Disclosures to clinicians (42 CFR Part 2 §2.13(d) list per client): recorded as such
DISCLOSURE_FEEDBACK = "disclosure.feedback"
DISCLOSURE_FEEDBACK_EMERGENCY = "disclosure.feedback.emergency"
DISCLOSURE_FEEDBACK_REPLY = "disclosure.feedback.reply"
DISCLOSURE_PEER_SESSIONS = "disclosure.peer_sessions"
# A feedback item delivered to the program's EHR as a FHIR Communication (one per delivery)
DISCLOSURE_FEEDBACK_EHR = "disclosure.feedback.ehr"
# Pages and answers that show identifiers without being one record's page
HOME_VIEWED = "dashboard.home.viewed"
WORKLIST_VIEWED = "dashboard.worklist.viewed"
CASELOAD_VIEWED = "supporters.caseload.viewed"
CASELOAD_REASSIGNED = "supporters.caseload.reassigned"
# A working list downloaded as CSV (detail: the list's key and the row count; its clients are named)
WORKLIST_EXPORTED = "dashboard.worklist.exported"
CONTINUITY_VIEWED = "reports.continuity.viewed"
CONTINUITY_EXPORTED = "reports.continuity.exported"
# Imports and funder reports
IMPORT = "imports.file.imported"
FUNDER_REPORT_REQUESTED = "reports.funder_report.requested"
FUNDER_REPORT_GENERATED = "reports.funder_report.generated"
FUNDER_REPORT_PUBLISHED = "reports.funder_report.published"
FUNDER_REPORT_DOWNLOADED = "reports.funder_report.downloaded"
FUNDER_REPORT_VIEWED = "reports.funder_report.viewed"
# Access and the program's rules
EMERGENCY_ACCESS_GRANTED = "accounts.emergency_access.granted"
EMERGENCY_DESIGNATED = "accounts.emergency_access.designated"
EMERGENCY_UNDESIGNATED = "accounts.emergency_access.undesignated"
TREATMENT_DISCLOSURES_SET = "accounts.program.treatment_disclosures_set"
COSIGNATURE_SET = "accounts.program.cosignature_set"
IDENTIFIER_SYSTEM_SET = "accounts.program.identifier_system_set"
# The client portal (docs/portal.md): the client reading their own record (detail: the page),
# and what they ask of their supporters (detail: what)
PORTAL_VIEWED = "portal.record.viewed"
PORTAL_REQUEST_SENT = "portal.request.sent"
# The trail itself
AUDIT_LISTED = "audit.events.listed"
AUDIT_EXPORTED = "audit.events.exported"
DISCLOSURES_LISTED = "audit.disclosures.listed"  # reading the list is not itself a disclosure

_NAMED = [
    value for name, value in list(globals().items()) if name.isupper() and isinstance(value, str) and "." in value
]


def code_for(model: Any, verb: str) -> str:
    """The code for `verb` done to a record of `model` (a model class or instance)."""
    record = RECORDS[model._meta.label_lower]
    code = f"{record}.{verb}"
    if code not in ALL:
        raise ValueError(f"{code!r} is not an audit action (audit/actions.py)")
    return code


ALL: frozenset[str] = frozenset([f"{record}.{verb}" for record in RECORDS.values() for verb in CRUD] + [*_NAMED])

# The audit page's filter: every code, grouped by what it is about, disclosures first.
FILTER_CHOICES: list[str] = sorted(ALL, key=lambda code: (not code.startswith("disclosure."), code))
