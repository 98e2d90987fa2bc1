from django.urls import path

from sitealert.organizations import views

urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("members/<slug:slug>/", views.member, name="member"),
    path("members/<slug:slug>/badge.svg", views.member_badge, name="member_badge"),
]
