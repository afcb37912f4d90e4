"""State changes of people and their place in workspaces."""

import hashlib
import secrets
import uuid
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit, preferences
from accounts.models import HandoverToken, Invitation, Membership, Role, User
from billing import quotas
from tenants.hosts import workspace_reverse

HANDOVER_SALT = "aviary.accounts.handover"


class HandoverRefused(Exception):
    """The handover token is invalid, expired, already used or for another workspace."""


# --- users ---------------------------------------------------------------------------


def do_create_user(email: str, password: str, *, name: str = "", email_verified: bool = False, actor=None) -> User:
    """An account created by staff tooling or an invitation, outside allauth's signup form."""
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(_("An account with this email address exists already. Please sign in."))
    with transaction.atomic():
        user = User.objects.create_user(email, password, name=name)
        EmailAddress.objects.create(user=user, email=user.email, verified=email_verified, primary=True)
        audit.record("user.created", actor=actor or user, target=user.email)
    return user


def do_update_preferences(user: User, *, language: str, time_zone: str, actor: User) -> User:
    """Set the language ("" follows the browser) and time zone pages are shown in."""
    errors = {}
    if language and not preferences.is_language(language):
        errors["language"] = _("Choose one of the languages offered.")
    if time_zone not in preferences.time_zones():
        errors["time_zone"] = _("“%(zone)s” is not a time zone. Choose one from the list, such as Asia/Shanghai.") % {
            "zone": time_zone
        }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        previous = {"language": user.language, "time_zone": user.time_zone}
        user.language, user.time_zone = language, time_zone
        user.save(update_fields=["language", "time_zone"])
        audit.record("user.preferences_changed", actor=actor, target=user.email, previous=previous,
                     language=language, time_zone=time_zone)
    return user


# --- login handover between hosts ----------------------------------------------------


def do_issue_handover(user: User, tenant) -> str:
    """A short-lived, single-use signed token that logs `user` in on `tenant`'s host."""
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        raise PermissionDenied(_("You are not a member of this workspace."))
    row = HandoverToken.objects.create(user=user, tenant=tenant)
    return signing.dumps({"jti": str(row.jti), "u": user.pk, "t": tenant.pk}, salt=HANDOVER_SALT)


def do_redeem_handover(token: str, tenant) -> User:
    """Spend a handover token on `tenant`'s host; return the user to log in."""
    try:
        payload = signing.loads(token, salt=HANDOVER_SALT, max_age=settings.HANDOVER_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise HandoverRefused(_("This sign-in link has expired.")) from None
    except signing.BadSignature:
        raise HandoverRefused(_("This sign-in link is not valid.")) from None
    try:
        jti = uuid.UUID(payload["jti"])
        user_id, tenant_id = int(payload["u"]), int(payload["t"])
    except (KeyError, TypeError, ValueError):
        raise HandoverRefused(_("This sign-in link is not valid.")) from None
    if tenant_id != tenant.pk:
        raise HandoverRefused(_("This sign-in link is for another workspace."))
    with transaction.atomic():
        spent = HandoverToken.objects.filter(
            jti=jti, user_id=user_id, tenant_id=tenant_id, used_at__isnull=True
        ).update(used_at=timezone.now())
        if not spent:
            raise HandoverRefused(_("This sign-in link has already been used."))
        membership = Membership.objects.select_related("user").filter(user_id=user_id, tenant=tenant).first()
        if membership is None or not membership.user.is_active:
            raise HandoverRefused(_("You are not a member of this workspace."))
    return membership.user


# --- invitations ---------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_pending_invitation(token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("tenant").filter(token_hash=_token_hash(token)).first()
    return invitation if invitation and invitation.is_pending else None


def do_invite_member(tenant, *, email: str, role: str, actor: User, request=None) -> Invitation:
    """Email `email` a link to join `tenant` as `role`. Re-inviting replaces the pending invitation."""
    email = email.strip().lower()
    _require_member_manager(tenant, actor, granting=role)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ValidationError(_("%(email)s is already a member of this workspace.") % {"email": email})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        quotas.require_member_slot(tenant, inviting=email)
        Invitation.objects.filter(
            tenant=tenant, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        audit.record("member.invited", actor=actor, tenant=tenant, target=email, role=role)
        accept_url = workspace_reverse(tenant, "accept_invitation", request, token=token)
        # Sent after the commit, which may be outside the inviter's request.
        inviter_settings = (translation.get_language(), timezone.get_current_timezone_name())
        transaction.on_commit(lambda: _send_invitation(invitation, accept_url, inviter_settings))
    return invitation


def _send_invitation(invitation: Invitation, accept_url: str, inviter_settings: tuple[str, str]) -> None:
    """In the invitee's language and time zone when they have an account already, else
    in the inviter's: the people of a workspace tend to share a language."""
    language, zone = inviter_settings
    invitee = User.objects.filter(email__iexact=invitation.email).first()
    if invitee is not None:
        language, zone = invitee.language or language, invitee.time_zone
    context = {"invitation": invitation, "accept_url": accept_url}
    with preferences.applied(language, zone):
        send_mail(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX
            + _("You are invited to %(workspace)s") % {"workspace": invitation.tenant.name},
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )


def do_accept_invitation(invitation: Invitation, user: User) -> Membership:
    if not invitation.is_pending:
        raise ValidationError(_("This invitation is no longer valid."))
    if user.email.lower() != invitation.email.lower():
        raise PermissionDenied(
            _("This invitation was sent to %(email)s, but you are signed in as %(you)s.")
            % {"email": invitation.email, "you": user.email}
        )
    with transaction.atomic():
        if not Membership.objects.filter(user=user, tenant=invitation.tenant).exists():
            quotas.require_member_slot(invitation.tenant)
        claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        if not claimed:
            raise ValidationError(_("This invitation is no longer valid."))
        membership, _created = Membership.objects.get_or_create(
            user=user, tenant=invitation.tenant, defaults={"role": invitation.role}
        )
        audit.record("member.joined", actor=user, tenant=invitation.tenant, target=user.email, role=membership.role)
    return membership


def do_sign_up_invitee(invitation: Invitation, *, password: str, name: str = "") -> User:
    """Create the account an invitation was sent to and accept it. The email address
    counts as verified: the invitee proved it by opening the emailed link."""
    with transaction.atomic():
        user = do_create_user(invitation.email, password, name=name, email_verified=True)
        do_accept_invitation(invitation, user)
    return user


def do_revoke_invitation(invitation: Invitation, *, actor: User) -> None:
    _require_member_manager(invitation.tenant, actor, granting=invitation.role)
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(revoked_at=timezone.now())
        audit.record("member.invitation_revoked", actor=actor, tenant=invitation.tenant, target=invitation.email)


# --- roles ---------------------------------------------------------------------------


def do_change_member_role(membership: Membership, *, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationError(_("Unknown role."))
    _require_member_manager(membership.tenant, actor, granting=role, touching=membership)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(membership)
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            "member.role_changed", actor=actor, tenant=membership.tenant, target=membership.user.email,
            previous=previous, role=role,
        )
    return membership


def do_remove_member(membership: Membership, *, actor: User) -> None:
    """Remove someone from a workspace; anyone may leave, managers may remove others."""
    if membership.user_id != actor.pk:
        _require_member_manager(membership.tenant, actor, granting=membership.role, touching=membership)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER:
            _keep_an_owner(membership)
        membership.delete()
        audit.record("member.removed", actor=actor, tenant=membership.tenant, target=membership.user.email)


def _require_member_manager(tenant, actor: User, *, granting: str, touching: Membership | None = None) -> Membership:
    """Owners and admins manage members; only owners grant, or touch, the owner role."""
    mine = Membership.objects.filter(user=actor, tenant=tenant).first()
    if mine is None or not mine.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only owners and admins can manage members."))
    involves_owner = granting == Role.OWNER or (touching is not None and touching.role == Role.OWNER)
    if involves_owner and mine.role != Role.OWNER:
        raise PermissionDenied(_("Only an owner can grant or change the owner role."))
    return mine


def _keep_an_owner(membership: Membership) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(tenant=membership.tenant, role=Role.OWNER)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise ValidationError(_("A workspace needs at least one owner. Make someone else an owner first."))
