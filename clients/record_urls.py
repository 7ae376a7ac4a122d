from django.urls import path

from clients import record_views as views

urlpatterns = [
    path("emergency/", views.emergency_access, name="emergency-access"),
    path("clients/<int:client_id>/disclosures/", views.client_disclosures, name="client-disclosures"),
    path("clients/<int:client_id>/record/", views.client_record_page, name="client-record"),
    path(
        "clients/<int:client_id>/record.json", views.client_record_download, {"fmt": "json"}, name="client-record-json"
    ),
    path("clients/<int:client_id>/record.pdf", views.client_record_download, {"fmt": "pdf"}, name="client-record-pdf"),
]
