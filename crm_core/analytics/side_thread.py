"""A thread for work beside the calling thread's, whose memory is given back when it is done.

numpy and SQLite release the interpreter lock in their long loops, so the morning job's
independent parts (the purchases' models, the contacts' reading) use both cores on two threads.
But glibc gives each thread a malloc arena of its own, which keeps what the thread's temporaries
freed: at a million customers about 100 MB more at the job's peak, against a 1 GiB limit.
``malloc_trim`` returns the free pages of every arena.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def side_threads(count: int, name: str) -> Iterator[ThreadPoolExecutor]:
    """``count`` threads named ``name``: on leaving, their work is waited for and the memory their
    arenas kept is given back."""
    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix=name) as pool:
            yield pool
    finally:
        give_back_free_memory()


def give_back_free_memory() -> None:
    """Return the free pages of every malloc arena to the system, where the C library can
    (glibc's ``malloc_trim``, on Linux; elsewhere, musl included, nothing is done)."""
    if not sys.platform.startswith("linux"):
        return
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
