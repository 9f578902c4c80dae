"""A task for tests/flows/test_workers.py: notes which process and thread ran it,
in a file every worker process can append to."""

import os
import threading
import time
from pathlib import Path

from django_tasks import task

MEETING_SECONDS = 60


@task()
def note_run(path: str, number: int, seconds: float = 0.02, meet: int = 0) -> None:
    """With `meet`, a runner's task waits until that many runners have each
    started one, so a test that asserts every worker or thread took part
    does not depend on how fast the machine starts them (one quick worker
    could otherwise drain the queue alone)."""
    runner = f"{os.getpid()}-{threading.get_ident()}"
    if meet:
        arrivals = Path(f"{path}.arrivals")
        with open(arrivals, "a") as log:
            log.write(f"{runner}\n")
        deadline = time.monotonic() + MEETING_SECONDS
        while len(set(arrivals.read_text().split())) < meet and time.monotonic() < deadline:
            time.sleep(0.02)
    time.sleep(seconds)
    with open(path, "a") as notes:
        notes.write(f"{number} {runner}\n")
