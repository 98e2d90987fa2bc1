from django.urls import path

from sitealert.procedures import views

app_name = "procedures"
urlpatterns = [
    path("procedures/", views.procedures, name="procedures"),
    path("procedures/<slug:slug>/", views.procedure, name="procedure"),
    path("procedures/<slug:slug>/edit/<str:language>/", views.procedure_edit, name="procedure_edit"),
    path("procedures/<slug:slug>/history/", views.procedure_history, name="procedure_history"),
    path("procedures/<slug:slug>/history/<int:pk>/", views.procedure_revision, name="procedure_revision"),
]
