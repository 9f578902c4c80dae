"""Tasks that queue themselves again each time they run (the daily
retention, the link-expiry sweep): one waiting is enough."""

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult


def enqueue_unless_waiting(task, *, after: timedelta) -> bool:
    """Queues `task` to run `after` from now unless one is already waiting;
    True when it queued one."""
    waiting = DBTaskResult.objects.filter(task_path=task.module_path, status="READY").exists()
    if not waiting:
        task.using(run_after=timezone.now() + after).enqueue()
    return not waiting
