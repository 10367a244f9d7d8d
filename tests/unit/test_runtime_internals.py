"""Counters and the mailbox: the lock-free pieces of the caller's path."""

from __future__ import annotations

import threading

from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._stats import Counters


def test_counters_lose_no_increment_across_threads():
    """Four threads adding 10,000 each give 40,000 exactly; declared names start at 0."""
    counters = Counters(("hits", "misses"))
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(10_000):
            counters.incr("hits")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot() == {"hits": 40_000, "misses": 0}


def test_mailbox_refuses_past_its_bound_and_keeps_order():
    """offer() fails once maxsize items wait; items come out first in, first out."""
    box = Mailbox(3, max_idle_sleep_s=0.001)
    assert [box.offer(i) for i in range(5)] == [True, True, True, False, False]
    assert [box.poll() for _ in range(4)] == [0, 1, 2, EMPTY]


def test_mailbox_take_times_out_empty_and_wakes_for_an_item():
    """take() returns EMPTY after its timeout, or the item another thread offers meanwhile."""
    box = Mailbox(3, max_idle_sleep_s=0.001)
    assert box.take(0.01) is EMPTY
    threading.Timer(0.01, box.offer, args=("item",)).start()
    assert box.take(10) == "item"
