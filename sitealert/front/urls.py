from django.contrib.auth import views as auth_views
from django.urls import include, path

from sitealert.front import second_factor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/second-factor/", second_factor.overview, name="second_factor"),
    path("account/second-factor/verify/", second_factor.verify, name="second_factor_verify"),
    path("account/second-factor/app/", second_factor.authenticator_app, name="second_factor_app"),
    path("account/second-factor/change/", second_factor.change, name="second_factor_change"),
    path("account/passkeys/", include("django_otp_webauthn.urls", namespace="otp_webauthn")),
    path("outbox/", views.outbox, name="outbox"),
]
