from django.urls import path

from clients import import_views as views

urlpatterns = [
    path("", views.import_start, name="import-start"),
    path("<uuid:job_id>/", views.import_job, name="import-job"),
    path("<uuid:job_id>/confirm/", views.import_job_confirm, name="import-job-confirm"),
    path("<uuid:job_id>/retry/", views.import_job_retry, name="import-job-retry"),
    path("<uuid:job_id>/status/", views.import_job_status, name="import-job-status"),
]
