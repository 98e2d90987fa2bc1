from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def listing_list(request):
    return render(request, "base.html")


@login_required
def listing_upload(request):
    return render(request, "base.html")
