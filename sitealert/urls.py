from django.contrib import admin
from django.urls import include, path

from sitealert.front.views import LoginView


def admin_login(request, extra_context=None):
    """Passwords sent to the admin's sign-in form count against the same limits as /login/."""
    if request.method == "POST":
        return LoginView.as_view()(request)
    return admin.site.login(request, extra_context)


urlpatterns = [
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("sitealert.api.urls")),
    path("", include("sitealert.operations.urls")),
    path("", include("sitealert.monitoring.urls")),
    path("", include("sitealert.check.urls")),
    path("", include("sitealert.procedures.urls")),
    path("", include("sitealert.reviews.urls")),
    path("", include("sitealert.statistics.urls")),
    path("", include("sitealert.federation.urls")),
    path("", include("sitealert.listings.urls")),
    path("", include("sitealert.feed.urls")),
    path("", include("sitealert.organizations.urls")),
    path("", include("sitealert.front.urls")),
]
