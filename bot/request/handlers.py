"""Handlers as the wiring registers them: each declared a reader or a writer.

``reads(handler)`` and ``writes(handler)`` say which unit of work (``bot.request.units``) the wiring
opens for it. ``Routed`` is for a listener whose handler depends on what was asked (``/crm log`` writes,
``/crm find`` reads): it picks the declared handler from the request, before any unit is opened.
Both are plain module-level data, so a declaration can be sent to a worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.request.units import Unit
from bot.request.user_request import UserRequest

Handler = Callable[[UserRequest], None]
# Bolt's ``ack``, or the wiring's stand-in that holds it until the unit of work has committed.
Acknowledge = Callable[..., object]
AckHandler = Callable[[UserRequest, Acknowledge], None]


@dataclass(frozen=True)
class Declared:
    handler: Handler
    unit: Unit

    def for_request(self, _request: UserRequest) -> Declared:
        return self

    @property
    def name(self) -> str:
        return self.handler.__name__


@dataclass(frozen=True)
class Routed:
    route: Callable[[UserRequest], Declared]
    # Whether a request surely runs a reader, told from its body alone (no Slack call, no store): such
    # a request is answered without being kept in the inbox (``bot.transport.inbox``). None: always kept.
    reads_only: Callable[[Mapping[str, Any]], bool] | None = None

    def for_request(self, request: UserRequest) -> Declared:
        return self.route(request)

    @property
    def name(self) -> str:
        return self.route.__name__


@dataclass(frozen=True)
class DeclaredAck:
    handler: AckHandler
    unit: Unit

    @property
    def name(self) -> str:
        return self.handler.__name__


Declaration = Declared | Routed


def reads(handler: Handler) -> Declared:
    return Declared(handler, Unit.READS)


def writes(handler: Handler) -> Declared:
    return Declared(handler, Unit.WRITES)


def reads_before_ack(handler: AckHandler) -> DeclaredAck:
    return DeclaredAck(handler, Unit.READS)


def writes_before_ack(handler: AckHandler) -> DeclaredAck:
    return DeclaredAck(handler, Unit.WRITES)
