from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("help/", views.help_now, name="help"),
    path("talk/", views.talk, name="talk"),
    path("sharing/", views.sharing, name="sharing"),
    path("sharing/<int:pk>/revoke/", views.consent_revoke, name="consent-revoke"),
    path("ask/", views.ask, name="ask"),
    path("record-access/", views.record_access, name="record-access"),
    path("sessions/", views.sessions, name="sessions"),
    path("safety-plan/", views.safety_plan, name="safety-plan"),
    path("goals/", views.goals, name="goals"),
    path("goals/new/", views.goal_add, name="goal-add"),
    path("goals/<int:pk>/step/", views.goal_step_add, name="goal-step"),
    path("goals/<int:pk>/progress/", views.goal_progress, name="goal-progress"),
    path("check-in/", views.self_check, name="self-check"),
    path("join/<str:token>/", views.join, name="join"),
    path("keepalive/", views.keepalive, name="keepalive"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
]
