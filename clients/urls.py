from django.urls import path

from clients import views

app_name = "client_program"
urlpatterns = [
    path("<int:client_id>/characteristics/", views.characteristics, name="characteristics"),
    path("<int:client_id>/goals/", views.goals, name="goals"),
    path("<int:client_id>/outcomes/", views.outcomes, name="outcomes"),
    path("<int:client_id>/referrals/", views.referrals, name="referrals"),
    path("<int:client_id>/contact/", views.contact, name="contact"),
    path("<int:client_id>/care-rhythm/", views.care_rhythm, name="care-rhythm"),
]
