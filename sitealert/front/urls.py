from django.contrib.auth import views as auth_views
from django.urls import path

from sitealert.front import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("outbox/", views.outbox, name="outbox"),
]
