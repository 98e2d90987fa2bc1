from django.urls import path

from sitealert.listings import views

urlpatterns = [
    path("listings/", views.listing_list, name="listings"),
    path("listings/add/", views.listing_add, name="listing_add"),
    path("listings/remove/", views.listing_remove, name="listing_remove"),
    path("listings/upload/", views.listing_upload, name="listing_upload"),
]
