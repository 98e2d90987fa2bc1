from django.urls import path

from sitealert.federation import views

app_name = "federation"

urlpatterns = [
    path("listings/sources/", views.list_sources, name="list_sources"),
    path("listings/sources/<slug:name>/confirm/", views.confirm_run, name="list_run_confirm"),
    path("listings/sources/<slug:name>/discard/", views.discard_run, name="list_run_discard"),
]
