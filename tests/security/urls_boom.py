"""A URL configuration whose one page fails with people's data in the error, to
prove that neither the error page nor the log repeats it."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from clients.models import Client


def boom(request: HttpRequest) -> HttpResponse:
    client = Client.objects.order_by("id").first()
    raise ValueError(f"cannot save {client.full_name} {client.external_id} born {client.date_of_birth}")


urlpatterns = [path("boom/", boom), path("", include("config.urls"))]
