from django.urls import path

from accounts import security_views as views

app_name = "security"

urlpatterns = [
    path("audit/", views.audit_report, name="audit-report"),
    path("audit/client-search/", views.audit_client_search, name="audit-client-search"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("emergency/", views.emergency_access, name="emergency-access"),
    path("clients/<int:client_id>/disclosures/", views.client_disclosures, name="client-disclosures"),
    path("clients/<int:client_id>/record/", views.client_record_page, name="client-record"),
    path(
        "clients/<int:client_id>/record.json", views.client_record_download, {"fmt": "json"}, name="client-record-json"
    ),
    path("clients/<int:client_id>/record.pdf", views.client_record_download, {"fmt": "pdf"}, name="client-record-pdf"),
]
