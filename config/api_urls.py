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
from clients.api import (
    CaseloadAssignmentViewSet,
    ClientViewSet,
    ClinicalAppointmentViewSet,
    ClinicianViewSet,
    ImportAPIView,
)
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
    path("imports/", ImportAPIView.as_view(), name="api-imports"),
    path("", include(router.urls)),
]
