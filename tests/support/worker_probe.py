"""A task for tests/flows/test_workers.py: notes which process and thread ran it,
in a file every worker process can append to."""

import os
import threading
import time

from django_tasks import task


@task()
def note_run(path: str, number: int, seconds: float = 0.02) -> None:
    time.sleep(seconds)  # long enough for the workers to overlap
    with open(path, "a") as notes:
        notes.write(f"{number} {os.getpid()}-{threading.get_ident()}\n")
