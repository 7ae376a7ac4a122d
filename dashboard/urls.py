from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("clients/", views.client_list, name="clients"),
    path("clients/search/", views.client_search, name="client-search"),
    path("clients/<int:pk>/", views.client_detail, name="client"),
    path("supporters/", views.supporter_list, name="supporters"),
    path("sessions/", views.session_list, name="sessions"),
    path("keepalive/", views.keepalive, name="keepalive"),
]
