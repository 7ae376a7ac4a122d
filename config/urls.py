from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from audit import urls as audit_urls
from clients import record_urls
from dashboard import views as dashboard_views

# Under /security/ and the "security:" names: the audit page (audit/) and the pages about one
# client's record and emergency access (clients/).
security_pages = ([*audit_urls.urlpatterns, *record_urls.urlpatterns], "security")

# The admin signs in through allauth too, so MFA and the lockout apply there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("accounts/login/", allauth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", allauth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("allauth.urls")),
    path("security/", include(security_pages)),
    path("", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    path("me/", include("portal.urls")),  # the client portal (docs/portal.md)
    path("i18n/", include("django.conf.urls.i18n")),  # the language switch (set_language)
    path("reports/", include("reports.urls")),
    path("", include("sessions.urls")),
    path("", include("clients.consent_urls")),
    path("api/v1/", include("config.api_urls")),
    path("fhir/r4/", include("sessions.fhir_urls")),
    path("program/", include("dashboard.program_urls")),
    path("clients/", include("clients.urls")),
    path("imports/", include("clients.import_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

if settings.BENCH:  # benchmark-only comparison views; config.settings.bench alone turns this on
    urlpatterns += [path("bench/", include("bench.urls"))]
