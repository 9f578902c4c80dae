import logging
import signal
import sys
import threading
import time

from django.db import DatabaseError, OperationalError, close_old_connections, connections
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from verification.platform.health import worker_heartbeat

logger = logging.getLogger("django_tasks_db")


class Command(db_worker.Command):
    """django-tasks-db's worker, with a heartbeat thread that /readyz reads
    ("a worker seen recently") and `--threads N`: N tasks at a time in one
    process. A video task spends most of its time waiting for the vendor's
    verdict; threads wait side by side in one process instead of one
    ~100 MB process each. The threads take turns to look for a task
    (`PollGate`). It takes the command's name because `verification`
    comes before `django_tasks_db` in INSTALLED_APPS."""

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
        gate = PollGate(options["interval"])
        threads = [threading.Thread(target=_run_and_close, args=(GatedWorker(worker, gate),), name=f"task-worker-{n}")
                   for n, worker in enumerate(workers)]

        def shutdown(signum, frame):
            if not any(worker.running for worker in workers):
                logger.warning("Received %s again - stopping the running tasks.", signal.strsignal(signum))
                sys.exit(1)
            logger.warning("Received %s - finishing the running tasks... (again to force)", signal.strsignal(signum))
            for worker in workers:
                worker.running = False
            gate.wake_all()

        for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), shutdown)
        for thread in threads:
            thread.daemon = True  # a second signal ends the process even mid-task
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # the main thread stays free to take signals


class PollGate:
    """Idle threads of one process look for a task one at a time, once an
    `interval`. Each polling on its own, 16 threads at 0.2 s made 80 queries
    a second with nothing queued: two such processes used 0.29 of a core,
    and PostgreSQL 0.08, doing nothing (0.03 and 0.00 with the gate;
    docs/benchmarks.md). A thread that finds a task opens the gate at once,
    for more may be waiting: under a burst the threads claim one after
    another, a query apart, not an interval apart."""

    def __init__(self, interval: float):
        self.interval = interval
        self._turns = threading.Condition()
        self._closed_until = 0.0

    def take_turn(self, worker) -> bool:
        """Waits for this thread's turn to look; False if the worker was told to stop meanwhile."""
        with self._turns:
            while worker.running:
                wait = self._closed_until - time.monotonic()
                if wait <= 0:
                    self._closed_until = time.monotonic() + self.interval  # the others wait for this look
                    return True
                self._turns.wait(wait)
            return False

    def found_task(self) -> None:
        with self._turns:
            self._closed_until = 0.0
            self._turns.notify_all()

    def wake_all(self) -> None:
        with self._turns:
            self._turns.notify_all()


class GatedWorker:
    """django-tasks-db's Worker (its task running, claiming and options)
    in a loop that looks for tasks when the process's PollGate says: the
    library's own loop sleeps after every empty look in every thread."""

    def __init__(self, worker: db_worker.Worker, gate: PollGate):
        self.worker, self.gate = worker, gate

    @property
    def worker_id(self) -> str:
        return self.worker.worker_id

    @property
    def running(self) -> bool:
        return self.worker.running

    def run(self) -> None:
        worker = self.worker
        while self.gate.take_turn(worker):
            close_old_connections()  # a dropped or expired connection, before it is used
            try:
                task_result = self._claim()
            except OperationalError as error:
                if is_locked_database_exception(error):
                    continue  # SQLite's lock: look again at the next turn
                raise
            if task_result is None:
                if worker.batch:
                    return  # the queue is empty: a batch worker's work is done
                continue
            self.gate.found_task()
            worker.run_task(task_result)
            if worker.max_tasks is not None and worker._run_tasks >= worker.max_tasks:
                return

    def _claim(self) -> DBTaskResult | None:
        worker = self.worker
        tasks = DBTaskResult.objects.ready().filter(backend_name=worker.backend_name)
        if not worker.process_all_queues:
            tasks = tasks.filter(queue_name__in=worker.queue_names)
        if worker.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=worker.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(worker.worker_id)  # inside the lock: no other worker runs it
        return task_result


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
