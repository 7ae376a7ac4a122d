from django.urls import path

from reports import views

urlpatterns = [
    path("continuity/", views.continuity_home, name="continuity-home"),
    path("continuity/<int:program_id>/", views.continuity_dashboard, name="continuity-dashboard"),
]
