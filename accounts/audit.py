from accounts.models import AuditEvent


def record(action: str, *, actor=None, tenant=None, target="", **data) -> AuditEvent:
    """Append to the audit log. Called by actions, inside their transaction."""
    return AuditEvent.objects.create(action=action, actor=actor, tenant=tenant, target=str(target)[:255], data=data)
