"""``cached``: summaries of two histories computed on two threads at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from crm_core.analytics.cached import cached

WAIT_S = 10


class _Summarised:
    def __init__(self, started: threading.Event, other_started: threading.Event) -> None:
        self.started, self.other_started = started, other_started
        self.computed = 0

    @cached
    def summary(self) -> list[int]:
        """Finishes only once the other instance's summary is being computed too."""
        self.started.set()
        assert self.other_started.wait(WAIT_S), "the two summaries were computed one after the other"
        self.computed += 1
        return [self.computed]


def test_two_instances_compute_on_two_threads_at_once_then_keep_their_value() -> None:
    # functools.cached_property on Python 3.11 holds one lock per property for every instance:
    # the second summary would wait for the first, which waits for the second.
    one, two = threading.Event(), threading.Event()
    first, second = _Summarised(one, two), _Summarised(two, one)

    with ThreadPoolExecutor(max_workers=2) as pool:
        values = [pool.submit(lambda s=s: s.summary) for s in (first, second)]
        assert [value.result(timeout=2 * WAIT_S) for value in values] == [[1], [1]]

    assert first.summary is first.summary  # kept, not computed again
    assert first.computed == 1
    del first.summary
    assert first.summary == [2]  # let go, so computed afresh
    assert type(first).__dict__["summary"].__doc__.startswith("Finishes only once")
