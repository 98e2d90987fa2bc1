from django.urls import path, re_path

from sitealert.organizations import views

urlpatterns = [
    path("download/", views.download, name="download"),
    re_path(r"^download/sitealert\.(?P<fmt>txt|csv|json)$", views.download_file, name="download_file"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
