"""The garbage collector in a long-running server process.

What start-up loads (modules, the app and its listeners, the date parser's data: about 200,000
objects the collector tracks) lives as long as the process, yet every full collection walks all of
it again, with every thread of the process stopped: 90–110 ms each, measured in a worker process
at 100k customers, where they made the slowest `/crm find` answers (docs/PERFORMANCE.md, issue 13
item 2). Once start-up is over, ``gc.freeze`` takes those objects out of the collector's sight;
collections then walk only what requests made since.
"""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """Collect start-up's garbage, then keep what is left out of every later collection.

    Call it once, when the process is about to serve and not before: what is created afterwards is
    collected as usual. A frozen object is never freed by the collector (only by reference
    counting), which is what start-up's objects are for: they live until the process ends.
    """
    gc.collect()
    gc.freeze()
