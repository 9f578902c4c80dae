"""A task for tests/test_workers.py: notes which process ran it, in a file
every worker process can append to."""

import os
import time

from django_tasks import task


@task()
def note_run(path: str, number: int) -> None:
    time.sleep(0.02)  # long enough for the workers to overlap
    with open(path, "a") as notes:
        notes.write(f"{number} {os.getpid()}\n")
