from billing.models import BillingEvent


def record(tenant, kind: str, *, once: str | None = None, **data) -> None:
    """Leave a billing event for the workspace's owners. Called by actions, inside their
    transaction. With `once`, the event is recorded a single time per workspace and key
    (a reminder per deadline, a warning per quota and period)."""
    event = BillingEvent(tenant=tenant, kind=kind, once_key=f"{kind}:{once}" if once else None, data=data)
    # ON CONFLICT DO NOTHING: callers that hold no lock may race to record the same one.
    BillingEvent.objects.bulk_create([event], ignore_conflicts=True)
