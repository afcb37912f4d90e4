from django.shortcuts import render

from billing.catalog import PLANS


def landing(request):
    return render(request, "public/landing.html")


def pricing(request):
    return render(request, "public/pricing.html", {"plans": PLANS})


def dashboard(request):
    return render(request, "tenants/dashboard.html")
