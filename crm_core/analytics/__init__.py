"""Customer analytics: pure functions over DataFrames, given ``today`` and never reading the clock.

``load`` reads the frames from the store and is the only module that touches it; ``frames`` holds the
column contracts those frames must meet, and ``scores.score_customers`` is the one call that produces
every customer's scores.
"""
