"""Mounted at /bench/ only when settings.BENCH is on (config.settings.bench)."""

from django.urls import path

from bench import views

urlpatterns = [
    path("bare/clients/", views.clients_list, name="bench-clients"),
    path("bare/clients/<int:pk>/", views.client_detail, name="bench-client"),
    path("bare/peer-sessions/", views.sessions, name="bench-sessions"),
    path("bare/feedback/", views.feedback_inbox, name="bench-feedback"),
]
