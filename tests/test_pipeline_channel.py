"""The pipeline's plumbing: bounded channels between threads, and the live figures' percentiles."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.channel import END, Channel, start_stage
from app.live_figures import LiveFigures, Percentiles


def test_a_full_channel_makes_its_producer_wait_and_loses_nothing():
    stop = threading.Event()
    channel = Channel(3, stop)
    out = Channel(1, stop)

    def produce() -> None:
        for i in range(50):
            assert channel.put(i)
        channel.close()

    thread = start_stage("test-producer", produce, out)
    time.sleep(0.05)
    assert len(channel) == 3  # the producer waits at the bound
    received = []
    while (item := channel.get()) is not END:
        received.append(item)
    thread.join(2)
    assert received == list(range(50)) and out.get() is END


def test_a_live_channel_drops_its_oldest_item_and_never_waits():
    dropped = []
    channel = Channel(3, threading.Event(), drop_oldest=True, on_drop=dropped.append)
    for i in range(10):
        assert channel.put(i)
    assert dropped == list(range(7))
    assert [channel.get() for _ in range(3)] == [7, 8, 9]


def test_stop_wakes_a_waiting_producer_and_consumer():
    stop = threading.Event()
    full, empty = Channel(1, stop), Channel(1, stop)
    full.put("x")
    results = {}
    waiters = [threading.Thread(target=lambda: results.setdefault("put", full.put("y"))),
               threading.Thread(target=lambda: results.setdefault("get", empty.get()))]
    for t in waiters:
        t.start()
    time.sleep(0.05)
    stop.set()
    for t in waiters:
        t.join(1)
    assert results == {"put": False, "get": END}


def test_a_producers_error_is_raised_in_the_consumer_after_its_items():
    stop = threading.Event()
    channel = Channel(4, stop)

    def fail() -> None:
        channel.put(1)
        raise ValueError("decoder broke")

    start_stage("test-failing", fail, channel).join(2)
    assert channel.get() == 1
    with pytest.raises(ValueError, match="decoder broke"):
        channel.get()


def test_percentiles_match_numpy_within_a_bin_and_stay_bounded():
    values = np.random.default_rng(0).gamma(2.0, 12.0, size=5000)
    p = Percentiles()
    assert p.percentile(50) is None
    for v in values:
        p.add(float(v))
    p.add(1e9)  # beyond the last bin: counted there, memory unchanged
    every = np.append(values, 1e9)
    for q in (50, 95):  # the upper edge of the 0.1 ms bin holding numpy's value
        assert 0 <= p.percentile(q) - np.percentile(every, q, method="inverted_cdf") <= 0.1 + 1e-9
    assert p.count == 5001
    summary = LiveFigures(p, Percentiles()).summary(dropped=4)
    assert summary["dropped"] == 4 and summary["label_delay_ms"] == {"p50": None, "p95": None}
