from django.urls import path

from reports import views

urlpatterns = [
    path("continuity/", views.continuity_home, name="continuity-home"),
    path("continuity/<int:program_id>/", views.continuity_dashboard, name="continuity-dashboard"),
    path("continuity/<int:program_id>/gap-ahead/", views.gap_ahead, name="gap-ahead"),
    path("funder/", views.funder_reports, name="funder-reports"),
    path("funder/<int:pk>/", views.funder_report_page, name="funder-report-page"),
    path("funder/<int:pk>/status/", views.funder_report_status, name="funder-report-status"),
    path("funder/<int:pk>/retry/", views.funder_report_retry_view, name="funder-report-retry"),
    path("funder/<int:pk>/publish/", views.funder_report_publish_view, name="funder-report-publish"),
    path("funder/<int:pk>/download.<str:file_format>", views.funder_report_download, name="funder-report-download"),
]
