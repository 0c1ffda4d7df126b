"""``crm-bot console``: the product in a terminal, without a Slack workspace.

Lines typed (or piped) in become what Slack would send: ``/crm …`` a signed slash command, a number
a click on that button of the last message shown, ``home`` the App Home tab being opened, ``say
…`` a message in the channel (a thread's first), ``reply …`` a reply in that thread, ``@crm log acme``
a mention of the app in it, ``shortcut`` the "Log to CRM" message shortcut on the last message
said, ``react :memo:`` a reaction to it, ``step find_customer query=acme`` a Workflow Builder step
run as you. They go
over HTTP to the real app (``bot.console.local_app``), and whatever the app then shows (ephemeral replies,
messages, the Home tab) is printed as text once all its listeners have finished. A modal the app
opens is filled in field by field from the following lines, then submitted as Slack would; the
fields Slack would check (required, a date, one of the options) are checked here, and errors the
app puts under fields are shown and asked again. ``exit``, ``quit`` or the end of input ends it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.blocks.as_text import blocks_to_text, element_text, mrkdwn_to_text
from bot.console.fake_web_api import Call, FakeSlack
from bot.console.local_app import FILE_SHARED, LocalSlack
from bot.console.workflow_events import function_executed, reaction_added
from bot.ids import CallbackId, Field
from bot.messages import t
from bot.request.steps import ACTING_INPUT

USER = "U0CONSOLE"  # who you are by default: an admin of the console's workspace, no roles to set up
CHANNEL = "C0CONSOLE"
LOCALES = {"en": "en-US", "ja": "ja-JP"}  # --lang, as the Slack locale the app reads
REPLY_TIMEOUT = 30.0
QUIT = frozenset({"exit", "quit"})
MENTION = "@crm"  # what a line mentioning the app starts with, as typed in Slack
CANCEL = "cancel"
EMPTY = "-"
SHOWN_DEFAULT = 40  # characters of a long default value shown in a prompt


class Terminal:
    """Lines in, text out. On a pipe the answers are echoed after their prompts, so the output
    reads as the session did; on a terminal the person typed them already."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, interactive: bool) -> None:
        self._stdin, self._stdout, self.interactive = stdin, stdout, interactive

    def ask(self, prompt: str) -> str | None:
        """The next line (without its end), or None at the end of input."""
        if self.interactive:
            try:
                return input(prompt)  # with line editing, when readline is loaded
            except EOFError:
                self.say("")
                return None
        self._stdout.write(prompt)
        self._stdout.flush()
        line = self._stdin.readline()
        if not line:
            self.say("")
            return None
        self._stdout.write(line if line.endswith("\n") else line + "\n")
        return line.rstrip("\r\n")

    def say(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()


@dataclass
class Buttons:
    """The numbered buttons of the last message shown, and the Home view they sit on, if they do."""

    elements: list[Mapping[str, Any]] = field(default_factory=list)
    home: Mapping[str, Any] | None = None

    def label(self, label: str, element: Mapping[str, Any]) -> str:
        self.elements.append(element)
        return f"[{len(self.elements)}] {label}"


class Console:
    """The read-send-show loop; its own few sentences come from the catalogues, in ``language``."""

    def __init__(self, slack: LocalSlack, terminal: Terminal, *, language: str) -> None:
        self.slack, self.terminal, self.language = slack, terminal, language
        self.buttons = Buttons()
        self.thread: list[dict[str, Any]] = []  # the messages ``say`` and ``reply`` posted, parent first

    def t(self, key: str, **params: object) -> str:
        return mrkdwn_to_text(t(self.language, key, **params))

    def run(self) -> None:
        while (line := self.terminal.ask("crm> ")) is not None:
            line = line.strip()
            if line.lower() in QUIT:
                return
            if line.isdigit():
                self.press(int(line))
            elif line == "home":
                self.slack.sender.open_home(user=self.slack.user)
                self.show_what_the_app_did()
            elif line.split(maxsplit=1)[:1] == ["/crm"]:
                text = line.removeprefix("/crm").strip()
                self.slack.sender.command(text, user=self.slack.user, channel=CHANNEL)
                self.show_what_the_app_did()
            elif line.startswith("say "):
                self.say_in_channel(line.removeprefix("say ").strip())
            elif line.startswith("reply "):
                self.reply_in_thread(line.removeprefix("reply ").strip())
            elif line.split(maxsplit=1)[:1] == [MENTION]:
                self.mention_the_app(line.removeprefix(MENTION).strip())
            elif line == "shortcut":
                self.log_to_crm()
            elif line.split(maxsplit=1)[:1] == ["react"]:
                self.react(line.removeprefix("react").strip().strip(":") or self.slack.log_reaction)
            elif line.split(maxsplit=1)[:1] == ["step"]:
                self.run_step(line.removeprefix("step").strip())
            elif line:
                self.terminal.say(self.t("console.unknown"))

    @property
    def last_said(self) -> str | None:
        """The ts of the last message ``say`` or ``reply`` posted, for ``react`` and ``shortcut``."""
        return self.thread[-1]["ts"] if self.thread else None

    def say_in_channel(self, text: str) -> None:
        """A message of yours in the console's channel: the first of a thread ``reply`` adds to."""
        self.thread = []
        self._add_to_thread(text)

    def reply_in_thread(self, text: str) -> None:
        """A reply of yours in the thread ``say`` started (as a customer's words would be pasted)."""
        if not self.thread:
            self.terminal.say(self.t("console.no_thread"))
            return
        self._add_to_thread(text)

    def _add_to_thread(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"ts": f"{time.time():.6f}", "user": self.slack.user, "text": text}
        if self.thread:
            message["thread_ts"] = self.thread[0]["ts"]
        self.thread.append(message)
        # conversations.replies answers with the thread as it is now (the fake keeps whole threads).
        self.slack.fake.add_thread(CHANNEL, self.thread[0]["ts"], self.thread)
        return message

    def mention_the_app(self, text: str) -> None:
        """``@crm log acme``: the mention is a reply in the thread, and Slack sends the app an event.

        Outside a thread it is a message of its own, as in Slack, and the app says how to use it.
        """
        words = f"<@{FakeSlack.BOT_USER_ID}> {text}"
        if self.thread:
            message = self._add_to_thread(words)
        else:
            message = {"ts": f"{time.time():.6f}", "user": self.slack.user, "text": words}
        event = {"type": "app_mention", "channel": CHANNEL, "event_ts": message["ts"], **message}
        self.slack.sender.event(event, event_id=f"EvConsole{secrets.token_hex(6)}")
        self.show_what_the_app_did()

    def log_to_crm(self) -> None:
        """The "Log to CRM" message shortcut on the last message said; its form follows."""
        if not self.thread:
            self.terminal.say(self.t("console.no_thread"))
            return
        message = self.thread[-1]
        self.slack.sender.shortcut(CallbackId.LOG_MESSAGE, message, user=self.slack.user, channel=CHANNEL)
        self.show_what_the_app_did()

    def react(self, emoji: str) -> None:
        if self.last_said is None:
            self.terminal.say(self.t("console.nothing_said"))
            return
        event = reaction_added(user=self.slack.user, channel=CHANNEL, ts=self.last_said, reaction=emoji)
        self.slack.sender.event(event, event_id=f"EvConsole{secrets.token_hex(6)}")
        self.show_what_the_app_did()

    def run_step(self, line: str) -> None:
        """``step <callback_id> name=value …``: the step runs as you unless its person is given."""
        words = shlex.split(line)
        if not words or words[0] not in ACTING_INPUT:
            self.terminal.say(self.t("console.steps", steps=", ".join(ACTING_INPUT)))
            return
        callback_id = words[0]
        inputs = {ACTING_INPUT[callback_id]: self.slack.user}
        inputs.update(word.split("=", 1) for word in words[1:] if "=" in word)  # type: ignore[misc]
        fx = f"Fx{secrets.token_hex(6)}"
        event = function_executed(
            callback_id, inputs, execution_id=fx, token=self.slack.fake.run_function(fx)
        )
        self.slack.sender.event(event, event_id=f"EvConsole{fx}")
        self.show_what_the_app_did()
        ended = self.slack.fake.step_ended_with(fx) or {}
        if "outputs" in ended:
            shown = "\n".join(f"  {name}: {value}" for name, value in ended["outputs"].items())
            self.terminal.say(self.t("console.step_done", step=callback_id) + "\n" + shown + "\n")
        else:
            self.terminal.say(
                self.t("console.step_failed", step=callback_id, error=ended.get("error", "?")) + "\n"
            )

    def press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons.elements):
            self.terminal.say(self.t("console.no_button", number=number))
            return
        element, home = self.buttons.elements[number - 1], self.buttons.home
        if home is not None:
            self.slack.sender.click_in_view(element, home, user=self.slack.user)
        else:
            self.slack.sender.click(element, user=self.slack.user, channel=CHANNEL)
        self.show_what_the_app_did()

    def show_what_the_app_did(self) -> None:
        shown, settled = self.slack.shown_since_last_time(REPLY_TIMEOUT)
        if not settled:
            self.terminal.say(self.t("console.no_reply", seconds=int(REPLY_TIMEOUT)))
        for call in shown:
            if call.method == "views.open":
                self.fill_in(dict(call.params["view"]))
            else:
                self.show(call)

    def show(self, call: Call) -> None:
        if call.method == FILE_SHARED:  # a campaign list: its comment, and the file's name
            names = ", ".join(str(f.get("title", "")) for f in call.params.get("files") or [])
            comment = mrkdwn_to_text(str(call.params.get("initial_comment", "")))
            self.terminal.say(f"{comment}\n  📎 {names}\n")
            return
        buttons = Buttons(home=self.slack.home_view() if call.method == "views.publish" else None)
        text = blocks_to_text(call.blocks, button_label=buttons.label) or mrkdwn_to_text(
            str(call.params.get("text", ""))
        )
        self.terminal.say(text + "\n")
        if buttons.elements:
            self.buttons = buttons

    def fill_in(self, view: dict[str, Any]) -> None:
        """Ask for each input of the modal, submit it, and ask again for what the app refused."""
        self.terminal.say(self.t("console.form", title=element_text(view["title"])))
        inputs = {Field(b["block_id"]): b for b in view["blocks"] if b["type"] == "input"}
        for block in view["blocks"]:
            if block["type"] != "input":
                self.terminal.say(blocks_to_text([block]))
        values: dict[Field, Any] = {}
        to_ask = list(inputs)
        while to_ask:
            for name in to_ask:
                answer = FieldPrompt(self, view, inputs[name]).ask()
                if answer is None:
                    self.terminal.say(self.t("console.cancelled") + "\n")
                    return
                values.pop(name, None)
                if answer != "":
                    values[name] = answer
            errors = _errors_in(self.slack.sender.submit(view, values, user=self.slack.user).body)
            to_ask = [Field(refused) for refused in errors]
            for refused, error in zip(to_ask, errors.values(), strict=True):
                self.terminal.say(f"{element_text(inputs[refused]['label'])}: {error}")
        self.show_what_the_app_did()


def _errors_in(answer: str) -> dict[str, str]:
    """The field errors of a ``response_action: errors`` ack (empty when the app accepted the form)."""
    body = json.loads(answer) if answer.strip().startswith("{") else {}
    return dict(body.get("errors") or {}) if body.get("response_action") == "errors" else {}


class FieldPrompt:
    """One input of a modal asked on the terminal; ``ask`` returns the value Slack would send for it,
    "" for an optional field left empty, or None when the person cancelled (or input ended)."""

    def __init__(self, console: Console, view: Mapping[str, Any], block: Mapping[str, Any]) -> None:
        self.console, self.terminal, self.view = console, console.terminal, view
        self.label = element_text(block["label"])
        self.optional = bool(block.get("optional"))
        self.element: Mapping[str, Any] = block["element"]

    def ask(self) -> str | None:
        kind = self.element["type"]
        if kind in ("static_select", "external_select"):
            return self._choose()
        initial = ("initial_value", "initial_date", "initial_user")
        default = next((str(self.element[k]) for k in initial if self.element.get(k)), "")
        while (line := self._line(default)) is not None:
            if kind == "datepicker" and line and not _is_date(line):
                self.terminal.say("YYYY-MM-DD")
                continue
            return line
        return None

    def _line(self, default: str, hint: str = "") -> str | None:
        """A line typed for this field: the default for Enter, "" for ``-``, None for ``cancel``."""
        shown = default if len(default) <= SHOWN_DEFAULT else default[: SHOWN_DEFAULT - 1] + "…"
        prompt = f"{self.label}{f' ({hint})' if hint else ''}{f' [{shown}]' if shown else ''}: "
        while (line := self.terminal.ask(prompt.replace("\n", " "))) is not None:
            line = line.strip()
            if line.lower() == CANCEL:
                return None
            answer = default if line == "" else ("" if line == EMPTY else line)
            if answer or self.optional:
                return answer
            self.terminal.say(self.console.t("console.required"))
        return None

    def _choose(self) -> str | None:
        """An option: picked by number from the list (searched for first, for an external select)."""
        initial = self.element.get("initial_option")
        default = element_text(initial) if initial else ""
        searching = self.element["type"] == "external_select"
        options: list[Mapping[str, Any]] = [] if searching else list(self.element.get("options") or [])
        while True:
            if options:
                self.terminal.say("  ".join(f"[{n}] {element_text(o)}" for n, o in enumerate(options, 1)))
            hint = self.console.t("console.search" if searching else "console.choose")
            line = self._line(default, hint)
            if line is None or line == "":
                return line
            if line == default and initial is not None:
                return str(initial["value"])
            if line.isdigit() and 1 <= int(line) <= len(options):
                return str(options[int(line) - 1]["value"])
            if searching:
                options = self._search(line)
            else:
                self.terminal.say(self.console.t("console.not_a_choice"))

    def _search(self, query: str) -> list[Mapping[str, Any]]:
        answer = self.console.slack.sender.suggest(self.view, query, user=self.console.slack.user)
        options = list(json.loads(answer.body).get("options") or []) if answer.status == 200 else []
        if not options:
            self.terminal.say(self.console.t("console.no_options", query=query))
        return options


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
