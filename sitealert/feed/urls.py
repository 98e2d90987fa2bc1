from django.urls import path, re_path

from sitealert.feed import views

urlpatterns = [
    path("download/", views.download, name="download"),
    re_path(r"^download/sitealert\.(?P<fmt>txt|csv|json)$", views.download_file, name="download_file"),
]
