"""A per-instance cached summary that two threads may compute at once, on different instances.

``functools.cached_property`` on Python 3.11 computes under one lock per property, shared by every
instance of every subclass: the morning job prepares the purchase and the contact histories on two
threads (``crm_core.analytics.load.load_prepared``), and their summaries would then wait for each
other, or deadlock when one thread holds property A wanting B while the other holds B wanting A
(a cut's median gaps read the uncut history's, whose computation reads the median gaps). Python
3.12 dropped that lock for the same reasons. Here there is none: an instance's summaries are
computed by the one thread preparing it, and a value computed twice would be the same value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

Value = TypeVar("Value")


class cached(Generic[Value]):
    """Computed on first access and kept in the instance's ``__dict__``, which later lookups read
    first (a non-data descriptor, like ``cached_property``); ``del`` lets it go."""

    def __init__(self, compute: Callable[[Any], Value]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, _owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> Value: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Self | Value:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value
        return value
