from django.urls import path

from sitealert.organizations import views

urlpatterns = [
    path("download/", views.download, name="download"),
    path("tokens/", views.tokens, name="tokens"),
]
