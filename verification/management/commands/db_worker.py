import threading

from django_tasks_db.management.commands import db_worker

from verification.health import worker_heartbeat


class Command(db_worker.Command):
    """django-tasks-db's worker, with a heartbeat thread that /readyz reads
    ("a worker seen recently"). It takes the command's name because
    `verification` comes before `django_tasks_db` in INSTALLED_APPS."""

    def handle(self, *args, **options):
        stop = threading.Event()
        beat = threading.Thread(target=worker_heartbeat, args=(stop,), name="worker-heartbeat", daemon=True)
        beat.start()
        try:
            return super().handle(*args, **options)
        finally:
            stop.set()
