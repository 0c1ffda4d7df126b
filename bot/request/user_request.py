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
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.blocks.limits import Block
from bot.messages import t
from bot.request.people import People, Person, zone_or_none
from bot.transport.web_api import post_to_response_url
from crm_core.access.resolve import resolve_access
from crm_core.actor import Actor
from crm_core.config import Settings
from crm_core.store import reading

if TYPE_CHECKING:
    from bot.transport.worker_processes import WorkerProcesses

# Errors meaning "the bot may not post ephemerally there": the reply goes to the user's DM instead.
NOT_IN_CHANNEL = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived"})


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Handler = Callable[["UserRequest"], None]


@dataclass(frozen=True)
class Deps:
    """What listeners need beyond the request: built once by ``create_app``."""

    engine: Engine
    settings: Settings  # for CRM_ADMINS and CRM_DEFAULT_ROLE
    people: People
    executor: Executor
    clock: Callable[[], dt.datetime] = utc_now
    workers: WorkerProcesses | None = None  # where the work after an ack runs, when not on ``executor``


class UserRequest:
    def __init__(
        self,
        deps: Deps,
        client: WebClient,
        body: Mapping[str, Any],
        context: Mapping[str, Any],
        headers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.deps = deps
        self.client = client
        self.body = body
        self.metadata = view_metadata(body)
        self.user_id: str = context.get("user_id") or ""
        self._actor: Actor | None = None
        authorized = context.get("authorize_result")
        # The workspace the app is installed in, as auth.test told Bolt; the payload's as a fallback.
        self.workspace_id: str | None = getattr(authorized, "team_id", None) or context.get("team_id")
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
        """A guest of the workspace, or a person of another organisation (a shared channel)."""
        event = self.body.get("event") or {}
        claimed = {
            (self.body.get("user") or {}).get("team_id"),
            event.get("user_team"),
            self.person.team_id,
        }
        return self.person.is_guest or any(team not in (None, self.workspace_id) for team in claimed)

    @property
    def actor(self) -> Actor:
        """The asker with their role; Forbidden (audited) when they may not use crm-bot at all."""
        if self._actor is None:
            self._actor = self._resolve_actor()
        return self._actor

    def admit(self) -> None:
        """Decide who the asker is now, before anything is read: Forbidden here is the refusal."""
        self._actor = self.actor

    def _resolve_actor(self) -> Actor:
        is_guest, settings = self.is_guest, self.deps.settings  # may ask Slack: not inside the transaction
        with reading(self.engine) as session:
            access = resolve_access(
                session,
                user_id=self.user_id,
                is_guest=is_guest,
                admins=settings.admins,
                default_role=settings.default_role,
            )
            return access.actor(surface="slack")

    @property
    def engine(self) -> Engine:
        return self.deps.engine

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
        self.client.views_open(trigger_id=self.trigger_id or "", view=view)

    def publish_home(self, view: Block) -> None:
        self.client.views_publish(user_id=self.user_id, view=view)


def view_metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a modal was opened with (``UserRequest.modal_metadata``, plus the customer it is about)."""
    raw = (body.get("view") or {}).get("private_metadata") or ""
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
