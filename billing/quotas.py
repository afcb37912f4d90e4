"""What a workspace's plan lets it have, and the checks actions make before adding.

The `require_*` checks lock the workspace's subscription row (FOR UPDATE) and then
count, so two requests racing for the last bot slot are served one after the other.
Call them first thing inside the transaction that adds the bot, connection or member;
the lock is held until it commits. A check that passes near the limit leaves the owners
a warning at 80 %, once per quota and billing period."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext
from django_tenants.utils import schema_context

from accounts.models import Invitation, Membership
from billing import events
from billing.models import API_CALLS, BOTS, CONNECTIONS, MEMBERS, ApiCallCount, BillingEvent, Plan, Subscription
from bots.models import Bot
from exchanges.models import ExchangeConnection

# Stopped bots are history, and a stopping one is on its way there: neither takes a slot.
FREE_STATES = (Bot.State.STOPPING, Bot.State.STOPPED)
LABELS = {
    BOTS: gettext_lazy("Bots"),
    CONNECTIONS: gettext_lazy("Exchange connections"),
    MEMBERS: gettext_lazy("Members"),
    API_CALLS: gettext_lazy("API calls this period"),
}


class QuotaExceeded(ValidationError):
    """A plan's limit or a feature it lacks. Pages show it with a link to the plans."""

    def __init__(self, message: str):
        super().__init__(message, code="quota")


def subscription_of(tenant, *, lock: bool = False) -> Subscription:
    rows = Subscription.objects.select_related("plan", "tenant")
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.get(tenant=tenant)


# --- counting ---------------------------------------------------------------------------


def used(subscription: Subscription, quota: str) -> int:
    tenant = subscription.tenant
    if quota == BOTS:
        with schema_context(tenant.schema_name):
            return Bot.objects.exclude(state__in=FREE_STATES).count()
    if quota == CONNECTIONS:
        with schema_context(tenant.schema_name):
            return ExchangeConnection.objects.count()
    if quota == MEMBERS:
        return Membership.objects.filter(tenant=tenant).count()
    if quota == API_CALLS:
        row = ApiCallCount.objects.filter(tenant=tenant, period_start=subscription.current_period_start).first()
        return row.calls if row else 0
    raise ValueError(quota)


def pending_invitations(tenant, *, except_email: str = "") -> int:
    pending = Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True,
                                        expires_at__gt=timezone.now())
    return pending.exclude(email__iexact=except_email).count()


@dataclass
class QuotaUse:
    quota: str
    label: str
    used: int
    limit: int | None

    @property
    def percent(self) -> int | None:
        return None if not self.limit else min(100, round(100 * self.used / self.limit))

    @property
    def near_limit(self) -> bool:
        return self.limit is not None and 5 * self.used >= 4 * self.limit

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.used > self.limit


def usage(subscription: Subscription) -> list[QuotaUse]:
    """Each quota's use and limit, for the Plan & usage page."""
    return [QuotaUse(quota, str(LABELS[quota]), used(subscription, quota), subscription.limit(quota))
            for quota in (BOTS, CONNECTIONS, MEMBERS, API_CALLS)]


def warn_if_near_limit(subscription: Subscription, quota: str, count: int) -> None:
    limit = subscription.limit(quota)
    if limit is not None and 5 * count >= 4 * limit:
        events.record(subscription.tenant, BillingEvent.Kind.QUOTA_WARNING,
                      once=f"{quota}:{subscription.current_period_start.isoformat()}",
                      quota=quota, used=count, limit=limit)


# --- checks before adding ---------------------------------------------------------------


def require_writable(subscription: Subscription) -> None:
    if subscription.is_read_only:
        raise QuotaExceeded(_("This workspace is read-only because its subscription expired. Renew it, or "
                              "choose the Free plan, to make changes again."))


def require_strategy(subscription: Subscription, strategy: str) -> None:
    if not subscription.plan.allows(strategy):
        message = {
            "signal": _("Signal bots and webhooks are not part of the %(plan)s plan. Upgrade to use them."),
            "pair_hedge": _("The pair spread hedge is not part of the %(plan)s plan. Upgrade to use it."),
        }[strategy]
        raise QuotaExceeded(message % {"plan": subscription.plan.name})


def require_bot_slot(tenant, *, strategy: str, bot: Bot | None = None) -> Subscription:
    """Room for one more running-capable bot of `strategy` (for creating a bot, or for
    starting or resuming `bot`, which is then not counted against itself)."""
    subscription = subscription_of(tenant, lock=True)
    require_writable(subscription)
    require_strategy(subscription, strategy)
    with schema_context(tenant.schema_name):
        others = Bot.objects.exclude(state__in=FREE_STATES)
        if bot is not None:
            others = others.exclude(pk=bot.pk)
        count = others.count() + 1
    _require_room(subscription, BOTS, count, lambda limit: ngettext(
        "The %(plan)s plan allows %(limit)d bot, and this workspace has %(used)d (stopped bots do not count). "
        "Stop or delete a bot, or upgrade the plan.",
        "The %(plan)s plan allows %(limit)d bots, and this workspace has %(used)d (stopped bots do not count). "
        "Stop or delete a bot, or upgrade the plan.",
        limit,
    ))
    return subscription


def require_connection_slot(tenant) -> Subscription:
    subscription = subscription_of(tenant, lock=True)
    require_writable(subscription)
    _require_room(subscription, CONNECTIONS, used(subscription, CONNECTIONS) + 1, lambda limit: ngettext(
        "The %(plan)s plan allows %(limit)d exchange connection, and this workspace has %(used)d. "
        "Delete one, or upgrade the plan.",
        "The %(plan)s plan allows %(limit)d exchange connections, and this workspace has %(used)d. "
        "Delete one, or upgrade the plan.",
        limit,
    ))
    return subscription


def require_member_slot(tenant, *, inviting: str | None = None) -> Subscription:
    """Room for one more member. An invitation (`inviting` the address) also counts the
    other pending invitations, since each may be accepted; accepting counts members."""
    subscription = subscription_of(tenant, lock=True)
    require_writable(subscription)
    pending = pending_invitations(tenant, except_email=inviting) if inviting is not None else 0
    _require_room(subscription, MEMBERS, used(subscription, MEMBERS) + pending + 1, lambda limit: ngettext(
        "The %(plan)s plan allows %(limit)d member, and this workspace has %(used)d members and pending "
        "invitations. Remove someone or revoke an invitation, or upgrade the plan.",
        "The %(plan)s plan allows %(limit)d members, and this workspace has %(used)d members and pending "
        "invitations. Remove someone or revoke an invitation, or upgrade the plan.",
        limit,
    ))
    return subscription


def _require_room(subscription: Subscription, quota: str, count: int, refusal) -> None:
    """`count` is the use with the one being added; `refusal(limit)` says why not, with
    %(plan)s, %(limit)d and %(used)d (the use before it) to fill in."""
    limit = subscription.limit(quota)
    if limit is not None and count > limit:
        raise QuotaExceeded(refusal(limit) % {"plan": subscription.plan.name, "limit": limit, "used": count - 1})
    warn_if_near_limit(subscription, quota, count)


# --- changing plans -----------------------------------------------------------------------


@dataclass
class PlanChange:
    """What moving to `plan` would leave over its limits, and which bots could go."""

    plan: Plan
    bots: list[Bot]
    bot_limit: int | None
    connections: int
    connection_limit: int | None
    members: int
    member_limit: int | None
    unsupported: set[int] = field(default_factory=set)

    @property
    def bots_over(self) -> int:
        return 0 if self.bot_limit is None else max(0, len(self.bots) - self.bot_limit)

    @property
    def needs_choice(self) -> bool:
        return bool(self.bots_over or self.unsupported)

    def problems(self, stopping: set[int]) -> list[str]:
        """Why the change cannot happen with the bots in `stopping` stopped; none: it can."""
        problems = []
        missing = self.unsupported - stopping
        if missing:
            names = ", ".join(bot.name for bot in self.bots if bot.pk in missing)
            problems.append(_("The %(plan)s plan does not include the strategy of: %(names)s. Stop those bots.")
                            % {"plan": self.plan.name, "names": names})
        remaining = len([bot for bot in self.bots if bot.pk not in stopping])
        if self.bot_limit is not None and remaining > self.bot_limit:
            problems.append(ngettext(
                "The %(plan)s plan allows %(limit)d bot; choose %(more)d more to stop.",
                "The %(plan)s plan allows %(limit)d bots; choose %(more)d more to stop.",
                self.bot_limit,
            ) % {"plan": self.plan.name, "limit": self.bot_limit, "more": remaining - self.bot_limit})
        if self.connection_limit is not None and self.connections > self.connection_limit:
            problems.append(ngettext(
                "The %(plan)s plan allows %(limit)d exchange connection and this workspace has %(used)d: "
                "delete some first.",
                "The %(plan)s plan allows %(limit)d exchange connections and this workspace has %(used)d: "
                "delete some first.",
                self.connection_limit,
            ) % {"plan": self.plan.name, "limit": self.connection_limit, "used": self.connections})
        if self.member_limit is not None and self.members > self.member_limit:
            problems.append(ngettext(
                "The %(plan)s plan allows %(limit)d member and this workspace has %(used)d: remove some first.",
                "The %(plan)s plan allows %(limit)d members and this workspace has %(used)d: remove some first.",
                self.member_limit,
            ) % {"plan": self.plan.name, "limit": self.member_limit, "used": self.members})
        return problems


def plan_change(subscription: Subscription, plan: Plan) -> PlanChange:
    tenant = subscription.tenant
    with schema_context(tenant.schema_name):
        bots = list(Bot.objects.exclude(state__in=FREE_STATES).order_by("created_at", "id"))
    bot_limit = None if plan.bots is None else plan.bots + subscription.extra_bot_slots
    return PlanChange(
        plan=plan, bots=bots, bot_limit=bot_limit,
        connections=used(subscription, CONNECTIONS), connection_limit=plan.exchange_connections,
        members=used(subscription, MEMBERS), member_limit=plan.members,
        unsupported={bot.pk for bot in bots if not plan.allows(bot.strategy)},
    )
