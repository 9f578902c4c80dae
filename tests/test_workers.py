"""Several task workers on one PostgreSQL database, as on several machines:
each queued task runs exactly once (django-tasks-db claims a task with
SELECT … FOR UPDATE SKIP LOCKED)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from tests.worker_probe import note_run

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
TASKS = 60


def start_worker(database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "kyc_portal.test_settings"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="workers in other processes need a shared server database")
def test_two_workers_share_the_queue_and_run_each_task_once(tmp_path):
    notes = tmp_path / "runs.txt"
    for number in range(TASKS):
        note_run.enqueue(str(notes), number)
    settings = connection.settings_dict
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    database_url = f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"

    workers = [start_worker(database_url) for _ in range(2)]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors.decode()[-2000:]

    runs = [line.split() for line in notes.read_text().splitlines()]
    assert sorted(int(number) for number, _pid in runs) == list(range(TASKS))  # each once, none lost
    assert len({pid for _number, pid in runs}) == 2  # both workers took part
    results = DBTaskResult.objects.all()
    assert results.count() == TASKS
    assert all(result.status == "SUCCESSFUL" and len(result.worker_ids) == 1 for result in results)
