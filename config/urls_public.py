from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from billing import views as billing_views
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.landing, name="home"),
    path("pricing/", tenant_views.pricing, name="pricing"),
    path("workspaces/", account_views.workspaces, name="workspaces"),
    path("workspaces/<slug:slug>/open/", account_views.open_workspace, name="open_workspace"),
    path("stripe/webhook/", billing_views.stripe_webhook, name="stripe_webhook"),
    path("admin/", admin.site.urls),
    path("accounts/preferences/", account_views.preferences, name="preferences"),
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("accounts/", include("allauth.urls")),
]
