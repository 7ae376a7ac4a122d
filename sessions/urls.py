from django.urls import path

from sessions import calendar_views, feeds, task_views, views

app_name = "peer_sessions"

urlpatterns = [
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/new/", views.session_create, name="session-create"),
    path("sessions/<int:pk>/", views.session_detail, name="session-detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session-edit"),
    path("sessions/<int:pk>/sign/", views.session_sign, name="session-sign"),
    path("sessions/<int:pk>/cosign/", views.session_cosign, name="session-cosign"),
    path("sessions/<int:pk>/addenda/", views.session_addendum, name="session-addendum"),
    path("sessions/<int:pk>/log/", calendar_views.session_log, name="session-log"),
    path("calendar/", calendar_views.calendar, name="calendar"),
    path("program-calendar/", calendar_views.program_calendar, name="program-calendar"),
    path("calendar/book/", calendar_views.series_create, name="series-create"),
    path("calendar/series/<int:pk>/skip/", calendar_views.series_skip, name="series-skip"),
    path("calendar/series/<int:pk>/move/", calendar_views.series_move, name="series-move"),
    path("calendar/feed/", feeds.calendar_feed_settings, name="calendar-feed-settings"),
    path("calendar/feed/<str:token>.ics", feeds.calendar_feed, name="calendar-feed"),
    path("feedback/", views.feedback_list, name="feedback-list"),
    path("feedback/new/<int:client_id>/", views.feedback_create, name="feedback-create"),
    path("feedback/<int:pk>/", views.feedback_detail, name="feedback-detail"),
    path("feedback/<int:pk>/delivery/retry/", views.feedback_delivery_retry, name="feedback-delivery-retry"),
    path("feedback/<int:pk>/acknowledge/", views.feedback_acknowledge, name="feedback-acknowledge"),
    path("feedback/<int:pk>/reply/", views.feedback_reply, name="feedback-reply"),
    path("feedback/<int:pk>/respond/", views.feedback_respond, name="feedback-respond"),
    path("tasks/", task_views.task_list, name="task-list"),
    path("tasks/<int:pk>/", task_views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/complete/", task_views.task_complete, name="task-complete"),
    path("tasks/request/<int:client_id>/", task_views.contact_request, name="contact-request"),
    path("drafts/", views.draft_save, name="draft-save"),
    path("drafts/discard/", views.draft_discard, name="draft-discard"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/settings/", views.contact_settings, name="contact-settings"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification-open"),
]
