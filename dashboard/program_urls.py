from django.urls import path

from dashboard import interop_views
from dashboard import program_views as views

app_name = "program"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:program_id>/worklists/", views.worklists, name="worklists"),
    path("<int:program_id>/hospital-messages/", interop_views.hospital_messages, name="hospital-messages"),
    path("<int:program_id>/ehr/", interop_views.ehr_connection, name="ehr"),
    path("<int:program_id>/credentials/", views.credentials, name="credentials"),
    path("<int:program_id>/training/", views.training, name="training"),
    path("<int:program_id>/supervision/", views.supervision, name="supervision"),
    path("<int:program_id>/caseloads/", views.caseloads, name="caseloads"),
    path("<int:program_id>/caseloads/reassign/", views.reassign_caseload, name="reassign"),
    path("<int:program_id>/clients/<int:client_id>/assign/", views.assign, name="assign"),
    path("<int:program_id>/lived-experience/", views.lived_experience, name="lived_experience"),
    path("<int:program_id>/resources/", views.resources, name="resources"),
    path("<int:program_id>/outcomes/", views.outcomes, name="outcomes"),
    path("<int:program_id>/collections/", views.collections, name="collections"),
    path("<int:program_id>/collections/protocol/", views.collection_protocol, name="collection-protocol"),
    path("<int:program_id>/collections/export/", views.collection_export, name="collection-export"),
    path("<int:program_id>/sharing/", views.sharing, name="sharing"),
    path("<int:program_id>/settings/", views.program_settings, name="settings"),
    path("<int:program_id>/on-call/", views.on_call, name="on-call"),
]
