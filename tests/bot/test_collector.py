"""``freeze_start_up``: what start-up loaded is out of every later garbage collection's walk."""

from __future__ import annotations

import subprocess
import sys

# In a process of its own: freezing the test run's own objects would keep their cycles forever.
_PROBE = """
import gc
import bot.app  # what a server loads before it serves
from bot.transport.collector import freeze_start_up

before = len(gc.get_objects())
freeze_start_up()
after = len(gc.get_objects())
garbage = [[]]
garbage[0].append(garbage)  # a cycle made after start-up: still the collector's to free
del garbage
print(before, after, gc.get_freeze_count(), gc.collect())
"""


def test_start_ups_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    before, after, frozen, collected = map(int, done.stdout.split())
    assert before > 50_000  # modules, the app's code: what each full collection walked
    assert frozen >= before * 0.9
    assert after < 1_000
    assert collected >= 2  # the list and the list in it
