from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from accounts.actions import do_issue_handover
from accounts.models import Membership
from tenants.hosts import workspace_reverse
from tenants.models import Tenant


def handover_url(request, user, tenant) -> str:
    token = do_issue_handover(user, tenant)
    return workspace_reverse(tenant, "handover", request) + "?token=" + token


def on_public_site(request) -> bool:
    tenant = getattr(request, "tenant", None)
    return tenant is not None and tenant.kind == Tenant.Kind.PUBLIC


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """On the public site, carry the login over to the user's workspace (cookies are
        per host), or to the list of workspaces when there are several."""
        if on_public_site(request):
            memberships = list(Membership.objects.filter(user=request.user).select_related("tenant")[:2])
            if len(memberships) == 1:
                return handover_url(request, request.user, memberships[0].tenant)
            return reverse("workspaces")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        new_workspace = getattr(request, "new_workspace", None)
        if new_workspace is not None:
            return handover_url(request, request.user, new_workspace)
        return super().get_signup_redirect_url(request)

    def is_open_for_signup(self, request):
        return on_public_site(request)
