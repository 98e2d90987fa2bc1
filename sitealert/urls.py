from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("sitealert.api.urls")),
    path("", include("sitealert.monitoring.urls")),
    path("", include("sitealert.public.urls")),
    path("", include("sitealert.listings.urls")),
    path("", include("sitealert.organizations.urls")),
    path("", include("sitealert.core.urls")),
]
