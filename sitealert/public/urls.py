from django.urls import path

from sitealert.public import views

app_name = "public"

urlpatterns = [
    path("check/", views.check, name="check"),
    path("procedures/", views.procedures, name="procedures"),
    path("procedures/<slug:slug>/", views.procedure, name="procedure"),
    path("procedures/<slug:slug>/edit/<str:language>/", views.procedure_edit, name="procedure_edit"),
    path("procedures/<slug:slug>/history/", views.procedure_history, name="procedure_history"),
    path("procedures/<slug:slug>/history/<int:pk>/", views.procedure_revision, name="procedure_revision"),
    path("review-requests/new/", views.review_new, name="review_new"),
    path("review-requests/sent/", views.review_sent, name="review_sent"),
    path("review-requests/confirm/<str:token>/", views.review_confirm, name="review_confirm"),
    path("review-requests/status/<str:token>/", views.review_status, name="review_status"),
    path("review-requests/inbox/", views.inbox, name="inbox"),
    path("review-requests/inbox/<int:pk>/", views.inbox_case, name="inbox_case"),
    path("statistics/", views.statistics_page, name="statistics"),
    path("statistics/<slug:name>.csv", views.statistics_csv, name="statistics_csv"),
    path("members/<slug:slug>/", views.member, name="member"),
    path("members/<slug:slug>/badge.svg", views.member_badge, name="member_badge"),
]
