from django.shortcuts import render

from tenants.models import Tenant

# What an expired, read-only workspace still lets its members do.
WRITABLE_WHEN_EXPIRED = {
    # pay, or move to the Free plan
    "billing", "change_plan", "change_addons",
    # their own settings
    "preferences", "set_language",
    # make room to fit a smaller plan
    "bot_stop", "bot_delete", "connection_delete", "remove_member", "revoke_invitation",
    # answers for itself: the bots are paused, so signals are dropped with a 409
    "signal_webhook",
}


class ReadOnlyWhenExpiredMiddleware:
    """Refuses changes (any method but GET, HEAD, OPTIONS) in a workspace whose
    subscription expired, with a page saying why, except WRITABLE_WHEN_EXPIRED and
    allauth's views (log in and out, security), which act on the person alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        tenant = getattr(request, "tenant", None)
        if request.method in ("GET", "HEAD", "OPTIONS") or tenant is None or tenant.kind != Tenant.Kind.WORKSPACE:
            return None
        subscription = getattr(tenant, "subscription", None)
        if subscription is None or not subscription.is_read_only:
            return None
        if request.resolver_match.url_name in WRITABLE_WHEN_EXPIRED or view_func.__module__.startswith("allauth."):
            return None
        return render(request, "billing/read_only.html", status=403)
