from django.urls import path

from clients import consent_views

app_name = "consents"

urlpatterns = [
    path("clients/<int:client_id>/consents/", consent_views.consent_list, name="client-consents"),
    path("consents/<int:pk>/revoke/", consent_views.consent_revoke, name="consent-revoke"),
]
