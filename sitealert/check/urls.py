from django.urls import path

from sitealert.check import views

app_name = "check"
urlpatterns = [
    path("check/", views.check, name="check"),
]
