"""The threads of one task worker take turns to look for tasks (PollGate):
idle, the process looks once an interval, not once an interval per thread;
under a burst, every thread has a task at once. The real claiming, on
PostgreSQL, is tests/flows/test_workers.py's."""

import threading
import time

from verification.management.commands.db_worker import GatedWorker, PollGate


class FakeWorker:
    """What GatedWorker uses of django-tasks-db's Worker."""

    batch, max_tasks, _run_tasks, worker_id = False, None, 0, "w"

    def __init__(self):
        self.running = True
        self.started = []

    def run_task(self, task):
        self.started.append(time.monotonic())
        time.sleep(task)


class CountingGatedWorker(GatedWorker):
    """Claims from a shared list of tasks (each a number of seconds to run)
    and counts every look at the queue."""

    def __init__(self, worker, gate, queue, looks):
        super().__init__(worker, gate)
        self.queue, self.looks = queue, looks

    def _claim(self):
        self.looks.append(time.monotonic())
        return self.queue.pop() if self.queue else None


def run_threads(count, *, interval, queue, seconds):
    gate, looks = PollGate(interval), []
    workers = [FakeWorker() for _ in range(count)]
    threads = [threading.Thread(target=CountingGatedWorker(worker, gate, queue, looks).run) for worker in workers]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    for worker in workers:
        worker.running = False
    gate.wake_all()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive(), "a thread did not stop when told to"
    return looks, workers


def test_idle_threads_look_once_an_interval_between_them():
    looks, _ = run_threads(8, interval=0.1, queue=[], seconds=0.55)

    # One process, 0.55 s at 0.1 s: 6 looks. Each thread on its own would have made 48.
    assert 4 <= len(looks) <= 8, len(looks)


def test_a_burst_is_claimed_by_every_thread_at_once_not_an_interval_apart():
    # An interval of 1 s: claims an interval apart would take 7 s for 8 tasks.
    _looks, workers = run_threads(8, interval=1.0, queue=[0.3] * 8, seconds=0.6)

    started = sorted(moment for worker in workers for moment in worker.started)
    assert len(started) == 8  # every task, each by one thread
    assert all(len(worker.started) == 1 for worker in workers)
    assert started[-1] - started[0] < 0.2


def test_a_stop_wakes_threads_waiting_for_their_turn():
    started = time.monotonic()
    run_threads(4, interval=30.0, queue=[], seconds=0.1)

    assert time.monotonic() - started < 5  # not the 30 s interval
