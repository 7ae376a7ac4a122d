"""/fhir/r4/: the FHIR R4 API (sessions.fhir_api; docs/interop.md)."""

from __future__ import annotations

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from sessions.fhir_api import (
    CapabilityStatementView,
    CommunicationViewSet,
    EncounterViewSet,
    PatientViewSet,
    PractitionerViewSet,
    not_found,
)


class FhirRouter(SimpleRouter):
    """FHIR paths have no trailing slash: /fhir/r4/Patient/12."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)


router = FhirRouter()
router.register("Patient", PatientViewSet, basename="fhir-patient")
router.register("Practitioner", PractitionerViewSet, basename="fhir-practitioner")
router.register("Encounter", EncounterViewSet, basename="fhir-encounter")
router.register("Communication", CommunicationViewSet, basename="fhir-communication")

urlpatterns = [
    path("metadata", CapabilityStatementView.as_view(), name="fhir-metadata"),
    path("", include(router.urls)),
    re_path(r"^(?P<path>.*)$", not_found, name="fhir-not-found"),
]
