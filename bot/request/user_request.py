"""One person's request from Slack, with what a handler needs to answer it.

Bolt hands listeners loosely typed keyword arguments; handlers here take one ``UserRequest`` instead:
who asks, in which language and time zone, the store, the clock, and ``reply`` (ephemeral, to the
asker only). The person's language is looked up lazily, so building a request on the ack path never
calls Slack.

``actor`` is where Slack's knowledge of a person meets the access policy: a guest, someone from
another organisation (a team id other than the workspace's, in the payload or in ``users.info``),
or someone refused by ``CRM_DEFAULT_ROLE=none`` gets Forbidden, raised inside a transaction so the
refusal is audited. ``bot.listeners.wiring`` asks for it before any handler runs, so no surface can
forget to.

The unit of work is the wiring's, not the handler's: each listener is registered as a reader or a
writer (``bot.request.units.Unit``), and ``session`` opens that unit the first time a handler
asks for it, so Slack calls a handler makes before it (reading a thread, looking a person up) never
hold SQLite's write lock. What the handler sends to Slack meanwhile (replies, modals, the Home
tab, an ack with options) waits until the unit has committed: nobody is told "Logged" about a
write that then failed, and the lock is never held across a Web API call.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from bot.blocks.limits import Block
from bot.messages import t
from bot.request.deps import Deps, utc_now
from bot.request.people import Person, zone_or_none
from bot.request.steps import personless_actor
from bot.request.turns import READERS
from bot.request.units import Unit, open_unit
from bot.slack_api.replies import post_to_response_url
from crm_core.access.resolve import Access, resolve_access
from crm_core.actor import Actor
from crm_core.alerts.events import RECORDED as ALERTS_RECORDED
from crm_core.inbox.entries import mark_done
from crm_core.store import read_only, reading

_Parsed = TypeVar("_Parsed")

# Errors meaning "the bot may not post ephemerally there": the reply goes to the user's DM instead.
NOT_IN_CHANNEL = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived"})


class UserRequest:
    def __init__(
        self,
        deps: Deps,
        client: WebClient,
        body: Mapping[str, Any],
        context: Mapping[str, Any],
        headers: Mapping[str, Sequence[str]] | None = None,
        *,
        inbox_id: int | None = None,
    ) -> None:
        self.deps = deps
        self.inbox_id = inbox_id  # the request's inbox row: marked done in the handler's unit of work
        self.inbox_finished = False
        self.saved = False  # a writer's unit committed: an error after it must not say nothing was saved
        self.client = client
        self.body = body
        self.metadata = view_metadata(body)
        self.user_id: str = context.get("user_id") or ""
        self._actor: Actor | None = None
        authorized = context.get("authorize_result")
        # The workspace the app is installed in, as auth.test told Bolt; the payload's as a fallback.
        self.workspace_id: str | None = getattr(authorized, "team_id", None) or context.get("team_id")
        self._authorized = authorized
        self.bot_user_id: str = context.get("bot_user_id") or ""
        self.channel_id: str | None = context.get("channel_id") or self.metadata.get("channel")
        self.response_url: str | None = context.get("response_url")
        self.trigger_id: str | None = body.get("trigger_id")
        event = body.get("event") or {}
        # An event in a thread is answered in that thread; one outside starts a thread under it.
        self.thread_ts: str | None = event.get("thread_ts") or event.get("ts")
        # Slack redelivers an event it saw no timely answer to with X-Slack-Retry-Num 1, 2, 3; in Socket
        # Mode Bolt turns every envelope's retry_attempt into that header, so a first delivery has "0".
        self.is_retry = any(n.isdigit() and int(n) > 0 for n in (headers or {}).get("x-slack-retry-num", ()))
        self._unit: Unit | None = None
        self._open_unit: ExitStack | None = None
        self._session: Session | None = None
        self._sends: list[Callable[[], object]] | None = None  # held back until the unit has ended
        self._held_ack: Callable[[], object] | None = None  # an ack held back likewise (``hold_ack``)
        self.rollback_only = False  # an ack with errors: the form is shown again, nothing is saved
        self.parsed_command: object = None  # what the person typed, once a router has parsed it

    @property
    def on_home(self) -> bool:
        """The request comes from the App Home tab (a button on it, or the tab being opened)."""
        opened_tab = (self.body.get("event") or {}).get("tab")
        return (self.body.get("view") or {}).get("type") == "home" or opened_tab == "home"

    @property
    def action_value(self) -> str:
        """The ``value`` of the button that was clicked."""
        actions = self.body.get("actions") or [{}]
        return str(actions[0].get("value", ""))

    @cached_property
    def person(self) -> Person:
        return self.deps.people.lookup(self.client, self.user_id)

    @property
    def language(self) -> str:
        """The modal's language when inside one (known without asking Slack), else the person's."""
        return self.metadata.get("language") or self.person.language

    @property
    def is_guest(self) -> bool:
        """A guest of the workspace, or a person of another organisation (a shared channel).

        In an Enterprise Grid a colleague's home may be another workspace of the organisation: the
        payload and ``users.info`` then name that workspace (or the organisation) instead of ours,
        and ``users.info`` vouches that their organisation is the one the app is installed in.
        """
        person, event = self.person, self.body.get("event") or {}
        claimed = {
            (self.body.get("user") or {}).get("team_id"),
            event.get("user_team"),
            person.team_id,
        } - {None, self.workspace_id}
        if person.is_guest or not claimed:
            return person.is_guest
        grid = self._installed_enterprise()
        return grid is None or person.enterprise_id != grid or not claimed <= {person.team_id, grid}

    def _installed_enterprise(self) -> str | None:
        """The Enterprise Grid organisation the app is installed in, if any (auth.test, through Bolt)."""
        if self._authorized is not None:
            return getattr(self._authorized, "enterprise_id", None)
        return self.deps.people.installation(self.client).enterprise_id

    @property
    def actor(self) -> Actor:
        """The asker with their role; Forbidden (audited) when they may not use crm-bot at all."""
        if self._actor is None:
            self._actor = self._resolve_actor()
        return self._actor

    def admit(self) -> None:
        """Decide who the asker is now, before anything is read: Forbidden here is the refusal."""
        self._actor = self.actor

    def admit_in_reader(self) -> None:
        """``admit``, reading the asker's role in the reader's own unit of work, which it opens.

        For a handler declared a reader, called first thing inside ``unit_of_work(Unit.READS)``: the
        role and the handler's reads then share one snapshot, and the request one connection and
        one transaction instead of two. A refusal is audited by the unit (``reading``), as
        ``admit``'s own is. A writer's asker is admitted before its unit, which must not begin (on
        SQLite: take the write lock) before the handler's Slack calls.
        """
        if self._actor is None:
            self._actor = self._resolve_actor(in_unit=True)

    def _resolve_actor(self, *, in_unit: bool = False) -> Actor:
        workflow = personless_actor(self.body)  # a Workflow Builder step that names nobody
        if workflow is not None:
            return workflow
        is_guest = self.is_guest  # may ask Slack: before any unit or transaction opens
        if in_unit:
            # Core on the unit's connection: the ORM path costs more than the one-column read.
            return self._access(self.session.connection(), is_guest).actor(surface="slack")
        # The role alone, on a bare connection (a session and its unit cost twice the CPU of the read).
        with read_only(self.engine) as connection:
            access = self._access(connection, is_guest)
        if access.role is None:
            with reading(self.engine):  # the refusal is raised in a unit, which audits it
                return access.actor(surface="slack")
        return access.actor(surface="slack")

    def _access(self, session: Session | Connection, is_guest: bool) -> Access:
        settings = self.deps.settings
        return resolve_access(
            session,
            user_id=self.user_id,
            is_guest=is_guest,
            admins=settings.admins,
            default_role=settings.default_role,
        )

    def parsed(self, kind: type[_Parsed]) -> _Parsed:
        """The parsed command, as the type its router chose this handler for."""
        if not isinstance(self.parsed_command, kind):
            raise TypeError(f"expected a parsed {kind.__name__}, got {type(self.parsed_command).__name__}")
        return self.parsed_command

    @property
    def engine(self) -> Engine:
        return self.deps.engine

    @property
    def session(self) -> Session:
        """The unit of work the wiring declared for this handler, opened on first use."""
        if self._unit is None:
            raise RuntimeError("this handler was registered without a unit of work (see bot.request.units)")
        if self._session is None:
            stack = ExitStack()
            try:
                if self._unit is Unit.READS:
                    stack.enter_context(READERS.turn())  # given up after the unit (the stack unwinds)
                self._session = stack.enter_context(open_unit(self._unit, self.engine))
            except BaseException:
                stack.close()  # no turn kept by a unit that never opened
                raise
            self._open_unit = stack
        return self._session

    @contextmanager
    def unit_of_work(
        self, unit: Unit, *, after_ack: Callable[[Callable[[], None]], object] | None = None
    ) -> Iterator[None]:
        """Run a handler in ``unit``: commit (or roll back) when it ends, then send what it said.

        The ack held meanwhile (``hold_ack``) goes first. With ``after_ack``, all the rest (replies,
        posts, modals, the alerts' nudge) is handed to it as one callable instead of run here: a
        handler that answers in Slack's HTTP response runs on the request's thread, and that
        response must not wait for a Web API call (``bot.listeners.wiring.before_ack``).
        """
        self._unit, self._sends, self._held_ack = unit, [], None
        marked = False
        try:
            yield
            if self.inbox_id is not None and unit is Unit.WRITES and not self.rollback_only:
                mark_done(self.session, entry_id=self.inbox_id, now=utc_now())
                marked = True
        except BaseException as error:
            self._end_unit(error)
            raise
        finally:
            sends, self._sends = self._sends, None
            held_ack, self._held_ack = self._held_ack, None
        recorded = self._records_alerts()
        self._end_unit(None)
        self.saved = unit is Unit.WRITES and not self.rollback_only
        if not marked:
            self.finish_inbox_entry()  # a reader's reads are done: its row alone, before it answers
        self.inbox_finished = True  # by this run: an error while answering is still this run's to tell
        if held_ack is not None:
            held_ack()

        def answer() -> None:
            for send in sends:
                send()
            if recorded and self.deps.alerts is not None:
                self.deps.alerts()  # committed: the channels subscribed may hear of it now

        if after_ack is None:
            answer()
        elif sends or recorded:
            after_ack(answer)

    def _records_alerts(self) -> bool:
        """The unit about to commit recorded a channel alert (``crm_core.alerts.events``)."""
        session = self._session
        return session is not None and not self.rollback_only and bool(session.info.get(ALERTS_RECORDED))

    def finish_inbox_entry(self) -> None:
        """Mark the request's inbox row done in a short transaction of its own.

        For what ran outside a writer's unit: a reader, or a handler that failed (its unit rolled
        back) and is about to be told so. ``AlreadyDone`` when another run answered it first.
        """
        if self.inbox_id is not None:
            with self.engine.begin() as connection:  # one statement: no ORM session needed
                mark_done(connection, entry_id=self.inbox_id, now=utc_now())

    def _end_unit(self, error: BaseException | None) -> None:
        stack, self._open_unit, self._session, self._unit = self._open_unit, None, None, None
        if stack is None:
            return
        if error is not None:
            stack.__exit__(type(error), error, error.__traceback__)
        elif self.rollback_only:
            with suppress(_Discarded):
                stack.__exit__(_Discarded, _Discarded(), None)
        else:
            stack.close()

    def send(self, action: Callable[[], object]) -> None:
        """Call Slack now, or, inside a unit of work, once it has committed."""
        if self._sends is None:
            action()
        else:
            self._sends.append(action)

    def hold_ack(self, ack: Callable[[], object]) -> None:
        """Acknowledge now, or, inside a unit of work, once it has ended: before anything ``send`` held."""
        if self._sends is None:
            ack()
        else:
            self._held_ack = ack

    def t(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)

    def now(self) -> dt.datetime:
        return self.deps.clock().astimezone(dt.UTC)

    @property
    def timezone(self) -> ZoneInfo:
        """The modal's time zone when inside one (known without asking Slack), else the person's."""
        return zone_or_none(self.metadata.get("timezone")) or self.person.timezone

    def today(self) -> dt.date:
        """Today where the person is: "tomorrow" typed at 23:30 in Tokyo means the Tokyo tomorrow."""
        return self.deps.clock().astimezone(self.timezone).date()

    def modal_metadata(self) -> dict[str, Any]:
        """What a modal opened now must remember, so its submission needs nothing from Slack."""
        return {"channel": self.channel_id, "language": self.language, "timezone": self.timezone.key}

    def reply(self, text: str, blocks: list[Block] | None = None, *, replace: bool = False) -> None:
        """Answer the asker only: by response URL if there is one, else ephemerally (in an event's thread)
        or by DM."""
        self.send(lambda: self._reply_now(text, blocks, replace))

    def _reply_now(self, text: str, blocks: list[Block] | None, replace: bool) -> None:
        if self.response_url:
            message = {
                "text": text,
                "blocks": blocks or [],
                "response_type": "ephemeral",
                "replace_original": replace,
            }
            post_to_response_url(self.response_url, message)
            return
        if self.channel_id:
            try:
                self.client.chat_postEphemeral(
                    channel=self.channel_id,
                    user=self.user_id,
                    text=text,
                    blocks=blocks,
                    thread_ts=self.thread_ts,
                )
                return
            except SlackApiError as error:
                if error.response.get("error") not in NOT_IN_CHANNEL:
                    raise
        self.client.chat_postMessage(channel=self.user_id, text=text, blocks=blocks)

    def open_modal(self, view: Block) -> None:
        self.send(lambda: self.client.views_open(trigger_id=self.trigger_id or "", view=view))

    def publish_home(self, view: Block) -> None:
        self.send(lambda: self.client.views_publish(user_id=self.user_id, view=view))

    def post_message(
        self, *, channel: str, text: str, blocks: list[Block] | None = None, **kwargs: Any
    ) -> None:
        """A message others can read (a thread confirmation, a shared card)."""
        self.send(lambda: self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, **kwargs))


class _Discarded(Exception):
    """Thrown into a unit of work to roll it back when the handler ended without an error."""


def view_metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a modal was opened with (``UserRequest.modal_metadata``, plus the customer it is about)."""
    raw = (body.get("view") or {}).get("private_metadata") or ""
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
