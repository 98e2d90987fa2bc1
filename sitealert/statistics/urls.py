from django.urls import path

from sitealert.statistics import views

app_name = "statistics"
urlpatterns = [
    path("statistics/", views.statistics_page, name="statistics"),
    path("statistics/<slug:name>.csv", views.statistics_csv, name="statistics_csv"),
]
