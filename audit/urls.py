from django.urls import path

from audit import views

urlpatterns = [
    path("audit/", views.audit_report, name="audit-report"),
    path("audit/client-search/", views.audit_client_search, name="audit-client-search"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
]
