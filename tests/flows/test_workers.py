"""Several task workers on one PostgreSQL database, as on several machines,
and several threads in one worker: each queued task runs exactly once
(django-tasks-db claims a task with SELECT … FOR UPDATE SKIP LOCKED)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from tests.support.worker_probe import note_run

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TASKS = 60


def start_worker(database_url, *options):
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "kyc_portal.test_settings"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload", *options],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def worker_database_url():
    settings = connection.settings_dict
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def queue(notes, count, **kwargs):
    for number in range(count):
        note_run.enqueue(str(notes), number, **kwargs)


def runs_of(notes):
    """(task number, process-thread) of every run, from the notes."""
    return [(int(number), runner) for number, runner in (line.split() for line in notes.read_text().splitlines())]


def finished(worker):
    _, errors = worker.communicate(timeout=120)
    assert worker.returncode == 0, errors.decode()[-2000:]


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="workers in other processes need a shared server database"
)


@needs_postgresql
def test_two_workers_share_the_queue_and_run_each_task_once(tmp_path):
    notes = tmp_path / "runs.txt"
    queue(notes, TASKS, meet=2)

    workers = [start_worker(worker_database_url(), "--batch") for _ in range(2)]
    for worker in workers:
        finished(worker)

    runs = runs_of(notes)
    assert sorted(number for number, _runner in runs) == list(range(TASKS))  # each once, none lost
    assert len({runner.split("-")[0] for _number, runner in runs}) == 2  # both processes took part
    results = DBTaskResult.objects.all()
    assert results.count() == TASKS
    assert all(result.status == "SUCCESSFUL" and len(result.worker_ids) == 1 for result in results)


@needs_postgresql
def test_a_worker_with_threads_runs_tasks_side_by_side_each_once(tmp_path):
    notes = tmp_path / "runs.txt"
    queue(notes, TASKS, seconds=0.05, meet=4)

    worker = start_worker(worker_database_url(), "--batch", "--threads", "4")
    finished(worker)

    runs = runs_of(notes)
    assert sorted(number for number, _runner in runs) == list(range(TASKS))
    assert len({runner for _number, runner in runs}) == 4  # every thread took part
    assert len({worker_id for ids in DBTaskResult.objects.values_list("worker_ids", flat=True) for worker_id in ids}) == 4


@needs_postgresql
def test_a_threaded_worker_told_to_stop_finishes_its_running_tasks_first(tmp_path):
    notes = tmp_path / "runs.txt"
    queue(notes, 2, seconds=2)
    worker = start_worker(worker_database_url(), "--threads", "2")
    deadline = time.monotonic() + 30
    while DBTaskResult.objects.filter(status="RUNNING").count() < 2:
        assert time.monotonic() < deadline, "the tasks never started"
        time.sleep(0.05)

    worker.send_signal(signal.SIGTERM)
    finished(worker)

    assert sorted(number for number, _runner in runs_of(notes)) == [0, 1]
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_a_worker_thread_takes_up_its_loop_again_after_the_database_went_away():
    """A PostgreSQL restart ends a worker's loop with an error; the thread
    resumes rather than leaving the process with one thread fewer."""
    from django.db import OperationalError

    from verification.management.commands.db_worker import _run_and_close

    class Worker:
        worker_id, running, runs = "w-0", True, 0

        def run(self):
            self.runs += 1
            if self.runs == 1:
                raise OperationalError("terminating connection due to administrator command")

    worker = Worker()
    _run_and_close(worker, pause=0)

    assert worker.runs == 2
