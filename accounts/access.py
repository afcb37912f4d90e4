"""Who may see what on a workspace host.

Default deny: every view on a workspace host needs a signed-in member, unless it is
explicitly marked `open_to_non_members` (login, handover, invitation acceptance, and
later signed webhooks) or is one of allauth's own account views, which act only on the
signed-in user. A view added without thought is therefore closed, not open.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import Membership, Role
from tenants.models import Tenant

ACCOUNT_VIEW_MODULES = ("allauth.",)


def open_to_non_members(view):
    view.open_to_non_members = True
    return view


def role_required(minimum: str):
    """The signed-in member needs at least this role (owner > admin > trader > viewer)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.membership.has_role(minimum):
                return forbidden(
                    request,
                    _("This needs the %(needed)s role or higher; yours is %(role)s.")
                    % {"needed": Role(minimum).label, "role": request.membership.get_role_display()},
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def forbidden(request, reason: str):
    return render(request, "403.html", {"reason": reason}, status=403)


class WorkspaceAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        request.membership = None
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.kind != Tenant.Kind.WORKSPACE:
            return None
        if request.user.is_authenticated:
            request.membership = Membership.objects.filter(user=request.user, tenant=tenant).first()
        if getattr(view_func, "open_to_non_members", False) or view_func.__module__.startswith(ACCOUNT_VIEW_MODULES):
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.membership is None:
            return render(request, "accounts/not_a_member.html", status=403)
        return None
