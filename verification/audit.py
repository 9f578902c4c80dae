"""The audit trail: one call per thing worth answering for later."""

from .models import AuditEntry


def audit_record(*, actor, action: str, session=None, detail: str = "") -> AuditEntry:
    """Appends an entry. `actor` is a user, or None for the system (tasks,
    commands). `detail` must never hold a name, an ID number or media."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None and actor.is_authenticated else "system",
        action=action,
        session_ref=getattr(session, "pk", None),
        detail=detail[:255],
    )
