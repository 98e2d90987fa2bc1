from django.urls import path

from sitealert.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", views.dashboard, name="dashboard"),
    path("monitoring/stale/", views.stale_action, name="stale"),
    path("monitoring/candidates/<int:pk>/list/", views.candidate_list, name="candidate_list"),
    path("monitoring/candidates/<int:pk>/dismiss/", views.candidate_dismiss, name="candidate_dismiss"),
    path("monitoring/graph/<str:target>/", views.graph, name="graph"),
]
