from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def download(request):
    return render(request, "base.html")


@login_required
def tokens(request):
    return render(request, "base.html")
