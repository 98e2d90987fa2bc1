from django.urls import path

from sitealert.listings import views

urlpatterns = [
    path("listings/", views.listing_list, name="listings"),
    path("listings/upload/", views.listing_upload, name="listing_upload"),
]
