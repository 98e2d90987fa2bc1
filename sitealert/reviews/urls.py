from django.urls import path

from sitealert.reviews import views

app_name = "reviews"
urlpatterns = [
    path("review-requests/new/", views.review_new, name="review_new"),
    path("review-requests/sent/", views.review_sent, name="review_sent"),
    path("review-requests/confirm/<str:token>/", views.review_confirm, name="review_confirm"),
    path("review-requests/status/<str:token>/", views.review_status, name="review_status"),
    path("review-requests/inbox/", views.inbox, name="inbox"),
    path("review-requests/inbox/<int:pk>/", views.inbox_case, name="inbox_case"),
]
