import logging
import signal
import sys
import threading
import time

from django.db import DatabaseError, connections
from django_tasks_db.management.commands import db_worker

from verification.platform.health import worker_heartbeat

logger = logging.getLogger("django_tasks_db")


class Command(db_worker.Command):
    """django-tasks-db's worker, with a heartbeat thread that /readyz reads
    ("a worker seen recently") and `--threads N`: N tasks at a time in one
    process. A video task spends most of its time waiting for the vendor's
    verdict; threads wait side by side in one process instead of one
    ~100 MB process each. It takes the command's name because
    `verification` comes before `django_tasks_db` in INSTALLED_APPS."""

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--threads", type=int, default=1,
                            help="Tasks run at the same time by this process, each in a thread (default: 1)")

    def handle(self, *args, threads: int = 1, **options):
        stop = threading.Event()
        beat = threading.Thread(target=worker_heartbeat, args=(stop,), name="worker-heartbeat", daemon=True)
        beat.start()
        try:
            if threads <= 1:
                return super().handle(*args, **options)
            return self._run_threads(threads, **options)
        finally:
            stop.set()

    def _run_threads(self, count: int, *, verbosity, queue_name, exclude_queues, worker_id, reload, **options):
        self.configure_logging(verbosity)
        if reload:
            logger.warning("--reload is not available with --threads; running without it.")
        workers = [
            db_worker.Worker(
                queue_names=queue_name.split(","),
                excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
                worker_id=f"{worker_id[:56]}-{number}",
                interval=options["interval"],
                batch=options["batch"],
                backend_name=options["backend_name"],
                startup_delay=options["startup_delay"],
                max_tasks=options["max_tasks"],
            )
            for number in range(count)
        ]
        threads = [threading.Thread(target=_run_and_close, args=(worker,), name=f"task-worker-{n}")
                   for n, worker in enumerate(workers)]

        def shutdown(signum, frame):
            if not any(worker.running for worker in workers):
                logger.warning("Received %s again - stopping the running tasks.", signal.strsignal(signum))
                sys.exit(1)
            logger.warning("Received %s - finishing the running tasks... (again to force)", signal.strsignal(signum))
            for worker in workers:
                worker.running = False

        for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), shutdown)
        for thread in threads:
            thread.daemon = True  # a second signal ends the process even mid-task
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # the main thread stays free to take signals


def _run_and_close(worker, *, pause: float = 2.0) -> None:
    """Runs one thread's worker; a database that goes away (a restart, a
    failover) ends the worker's loop with an error: the thread waits a
    moment and takes up its loop again rather than leaving the process with
    fewer threads, or none."""
    try:
        while True:
            try:
                worker.run()
                return
            except DatabaseError as error:
                if not worker.running:
                    return
                logger.warning("worker %s: database unavailable (%s); resuming in %.0f s",
                               worker.worker_id, type(error).__name__, pause)
                connections.close_all()
                time.sleep(pause)
    finally:
        connections.close_all()  # this thread's own connections
