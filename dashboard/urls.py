from django.urls import path

from dashboard import portal_views, views

app_name = "dashboard"

urlpatterns = [
    path("clients/", views.client_list, name="clients"),
    path("clients/search/", views.client_search, name="client-search"),
    path("clients/<int:pk>/", views.client_detail, name="client"),
    path("clients/<int:pk>/portal-invite/", portal_views.portal_invite, name="client-portal-invite"),
    path("clients/<int:pk>/safety-plan/", portal_views.safety_plan, name="client-safety-plan"),
    path("supporters/", views.supporter_list, name="supporters"),
    path("sessions/", views.session_list, name="sessions"),
    path("keepalive/", views.keepalive, name="keepalive"),
]
