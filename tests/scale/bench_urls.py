"""The API plus the benchmark views, as config.settings.bench mounts them."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("config.api_urls")),
    path("bench/", include("bench.urls")),
]
