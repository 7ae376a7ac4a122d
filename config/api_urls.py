from django.urls import include, path
from rest_framework.routers import DefaultRouter

from base.api import MembershipViewSet, ProgramViewSet, SiteViewSet
from clients.api import (
    CaseloadAssignmentViewSet,
    ClientViewSet,
    ClinicalAppointmentViewSet,
    ClinicianViewSet,
    CollectionPointViewSet,
    ConsentViewSet,
    GoalProgressViewSet,
    ImportAPIView,
    InstrumentViewSet,
    OutcomeMeasureViewSet,
    RecoveryGoalViewSet,
    ReferralViewSet,
    ResourceViewSet,
)
from clients.record_api import EmergencyAccessView
from reports.api import ContinuityReportView
from security.api import TokenLoginView, TokenLogoutAllView, TokenLogoutView
from sessions.api import (
    FeedbackItemViewSet,
    FollowUpTaskViewSet,
    NotificationViewSet,
    PeerSessionViewSet,
    SessionSeriesViewSet,
)
from supporters.api import (
    CEHoursViewSet,
    CertificationViewSet,
    CredentialTypeViewSet,
    LivedExperienceViewSet,
    OnCallShiftViewSet,
    ProgramPolicyViewSet,
    SupervisionSessionViewSet,
    SupporterViewSet,
)


class NumericIdRouter(DefaultRouter):
    """Record ids are numbers: /clients/abc/ matches no route (404) instead of reaching a
    lookup that would fail on the non-number. A viewset with other keys sets lookup_value_regex."""

    def get_lookup_regex(self, viewset: type, lookup_prefix: str = "") -> str:
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        lookup_value = getattr(viewset, "lookup_value_regex", "[0-9]+")
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{lookup_value})"


router = NumericIdRouter()
router.register("programs", ProgramViewSet, basename="program")
router.register("sites", SiteViewSet, basename="site")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("supporters", SupporterViewSet, basename="supporter")
router.register("clinicians", ClinicianViewSet, basename="clinician")
router.register("clients", ClientViewSet, basename="client")
router.register("assignments", CaseloadAssignmentViewSet, basename="assignment")
router.register("appointments", ClinicalAppointmentViewSet, basename="appointment")
router.register("peer-sessions", PeerSessionViewSet, basename="peer-session")
router.register("session-series", SessionSeriesViewSet, basename="session-series")
router.register("consents", ConsentViewSet, basename="consent")
router.register("collection-points", CollectionPointViewSet, basename="collection-point")
router.register("feedback", FeedbackItemViewSet, basename="feedback")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("tasks", FollowUpTaskViewSet, basename="followup-task")
# Running the program (docs/program.md)
router.register("credential-types", CredentialTypeViewSet, basename="credential-type")
router.register("certifications", CertificationViewSet, basename="certification")
router.register("ce-hours", CEHoursViewSet, basename="ce-hours")
router.register("supervision-sessions", SupervisionSessionViewSet, basename="supervision-session")
router.register("on-call-shifts", OnCallShiftViewSet, basename="on-call-shift")
router.register("lived-experience", LivedExperienceViewSet, basename="lived-experience")
router.register("program-policies", ProgramPolicyViewSet, basename="program-policy")
router.register("goals", RecoveryGoalViewSet, basename="goal")
router.register("goal-progress", GoalProgressViewSet, basename="goal-progress")
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("outcome-measures", OutcomeMeasureViewSet, basename="outcome-measure")
router.register("resources", ResourceViewSet, basename="resource")
router.register("referrals", ReferralViewSet, basename="referral")

urlpatterns = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token-login"),
    path("auth/logout/", TokenLogoutView.as_view(), name="api-token-logout"),
    path("auth/logout-all/", TokenLogoutAllView.as_view(), name="api-token-logout-all"),
    path("emergency-access/", EmergencyAccessView.as_view(), name="emergency-access"),
    path("reports/continuity/", ContinuityReportView.as_view(), name="api-continuity-report"),
    path("imports/", ImportAPIView.as_view(), name="api-imports"),
    path("", include(router.urls)),
]
