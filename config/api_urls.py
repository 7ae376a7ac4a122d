from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import (
    MembershipViewSet,
    ProgramViewSet,
    SiteViewSet,
    TokenLoginView,
    TokenLogoutAllView,
    TokenLogoutView,
)
from accounts.security_api import EmergencyAccessView
from clients.api import CaseloadAssignmentViewSet, ClientViewSet, ClinicalAppointmentViewSet, ClinicianViewSet
from sessions.api import PeerSessionViewSet
from supporters.api import SupporterViewSet

router = DefaultRouter()
router.register("programs", ProgramViewSet, basename="program")
router.register("sites", SiteViewSet, basename="site")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("supporters", SupporterViewSet, basename="supporter")
router.register("clinicians", ClinicianViewSet, basename="clinician")
router.register("clients", ClientViewSet, basename="client")
router.register("assignments", CaseloadAssignmentViewSet, basename="assignment")
router.register("appointments", ClinicalAppointmentViewSet, basename="appointment")
router.register("peer-sessions", PeerSessionViewSet, basename="peer-session")

urlpatterns = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token-login"),
    path("auth/logout/", TokenLogoutView.as_view(), name="api-token-logout"),
    path("auth/logout-all/", TokenLogoutAllView.as_view(), name="api-token-logout-all"),
    path("emergency-access/", EmergencyAccessView.as_view(), name="emergency-access"),
    path("", include(router.urls)),
]
