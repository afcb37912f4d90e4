from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import actions
from accounts.access import forbidden, open_to_non_members, role_required
from accounts.adapters import handover_url
from accounts.forms import InviteeSignupForm, InviteMemberForm, MemberRoleForm, PreferencesForm
from accounts.models import Invitation, Membership, Role, User
from billing.quotas import QuotaExceeded
from billing.ui import error_html
from tenants.hosts import public_reverse
from tenants.htmx import is_htmx

SESSION_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"

# --- public site ---------------------------------------------------------------------


@login_required
def workspaces(request):
    memberships = Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant__name")
    return render(request, "accounts/workspaces.html", {"memberships": memberships})


@login_required
@require_POST
def open_workspace(request, slug):
    membership = get_object_or_404(Membership, user=request.user, tenant__slug=slug)
    return redirect(handover_url(request, request.user, membership.tenant))


# --- both hosts ------------------------------------------------------------------------


@login_required
def preferences(request):
    user = request.user
    form = PreferencesForm(request.POST or None, initial={"language": user.language, "time_zone": user.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.do_update_preferences(user, actor=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # The message is in the language the next page will be in.
            translation.activate(user.language or translation.get_language_from_request(request))
            messages.success(request, _("Your preferences are saved."))
            return redirect("preferences")
    return render(request, "accounts/preferences.html", {"form": form}, status=400 if form.errors else 200)


@open_to_non_members
def set_language(request):
    """Django's language switch, for visitors who are not signed in (or are not members
    here): it only sets this host's language cookie."""
    return i18n.set_language(request)


# --- workspace host: arriving ----------------------------------------------------------


@open_to_non_members
def handover(request):
    try:
        user = actions.do_redeem_handover(request.GET.get("token", ""), request.tenant)
    except actions.HandoverRefused as refused:
        return render(request, "accounts/handover_refused.html", {"reason": str(refused)}, status=400)
    login(request, user, backend=SESSION_BACKEND)
    return redirect("home")


@open_to_non_members
def signup_elsewhere(request):
    return redirect(public_reverse("account_signup", request))


@open_to_non_members
def accept_invitation(request, token):
    invitation = actions.find_pending_invitation(token)
    if invitation is None or invitation.tenant_id != request.tenant.pk:
        return render(request, "accounts/invitation_invalid.html", status=404)
    context = {"invitation": invitation}
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                actions.do_accept_invitation(invitation, request.user)
            except (PermissionDenied, ValidationError) as refused:
                return forbidden(request, " ".join(getattr(refused, "messages", [str(refused)])))
            messages.success(request, _("Welcome to %(workspace)s.") % {"workspace": invitation.tenant.name})
            return redirect("home")
        context["wrong_account"] = request.user.email.lower() != invitation.email.lower()
        return render(request, "accounts/accept_invitation.html", context)

    if User.objects.filter(email__iexact=invitation.email).exists():
        context["sign_in_first"] = True
        return render(request, "accounts/accept_invitation.html", context)
    form = InviteeSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.do_sign_up_invitee(
                invitation, password=form.cleaned_data["password"], name=form.cleaned_data["name"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend=SESSION_BACKEND)
            messages.success(request, _("Welcome to %(workspace)s.") % {"workspace": invitation.tenant.name})
            return redirect("home")
    context["form"] = form
    return render(request, "accounts/accept_invitation.html", context)


# --- workspace host: members -----------------------------------------------------------


def _grantable_roles(membership: Membership) -> list[str]:
    if membership.role == Role.OWNER:
        return list(Role.values)
    return [Role.ADMIN, Role.TRADER, Role.VIEWER]


def _render_members(request, *, invite_form=None, status=200):
    tenant = request.tenant
    can_manage = request.membership.has_role(Role.ADMIN)
    grantable = _grantable_roles(request.membership)
    memberships = list(Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email"))
    context = {
        "memberships": memberships,
        "sole_owner": sum(m.role == Role.OWNER for m in memberships) == 1,
        "invitations": Invitation.objects.filter(
            tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ),
        "can_manage": can_manage,
        "grantable_roles": grantable,
        "role_choices": [(value, label) for value, label in Role.choices if value in grantable],
        "invite_form": invite_form or (InviteMemberForm(grantable_roles=grantable) if can_manage else None),
    }
    template = "accounts/members.html#member-list" if is_htmx(request) else "accounts/members.html"
    return render(request, template, context, status=status)


def members(request):
    return _render_members(request)


def _members_changed(request):
    """After a change: htmx swaps in the fresh member list, a plain form post redirects."""
    return _render_members(request) if is_htmx(request) else redirect("members")


@require_POST
@role_required(Role.ADMIN)
def invite_member(request):
    form = InviteMemberForm(request.POST, grantable_roles=_grantable_roles(request.membership))
    if form.is_valid():
        try:
            actions.do_invite_member(
                request.tenant, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                actor=request.user, request=request,
            )
        except QuotaExceeded as error:
            form.add_error(None, error_html(error))
        except ValidationError as error:
            form.add_error("email", error)
        except PermissionDenied as denied:
            return forbidden(request, str(denied))
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("members")
    return _render_members(request, invite_form=form, status=400)


@require_POST
@role_required(Role.ADMIN)
def change_member_role(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            actions.do_change_member_role(membership, role=form.cleaned_data["role"], actor=request.user)
        except PermissionDenied as denied:
            return forbidden(request, str(denied))
        except ValidationError as error:
            messages.error(request, error_html(error))
        else:
            messages.success(
                request,
                _("%(email)s is now %(role)s.")
                % {"email": membership.user.email, "role": Role(form.cleaned_data["role"]).label},
            )
    return _members_changed(request)


@require_POST
def remove_member(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    try:
        actions.do_remove_member(membership, actor=request.user)
    except PermissionDenied as denied:
        return forbidden(request, str(denied))
    except ValidationError as error:
        messages.error(request, error_html(error))
        return _members_changed(request)
    if membership.user_id == request.user.pk:
        return redirect(public_reverse("workspaces", request))
    messages.success(request, _("%(email)s was removed.") % {"email": membership.user.email})
    return _members_changed(request)


@require_POST
@role_required(Role.ADMIN)
def revoke_invitation(request, invitation_id):
    invitation = get_object_or_404(Invitation, pk=invitation_id, tenant=request.tenant)
    try:
        actions.do_revoke_invitation(invitation, actor=request.user)
    except PermissionDenied as denied:
        return forbidden(request, str(denied))
    messages.success(request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email})
    return _members_changed(request)
