"""``/crm help``: the sub-commands and the kinds of interaction, with their Japanese aliases."""

from __future__ import annotations

from bot.blocks.limits import Block, context, header, section
from bot.messages import t
from bot.parsing.grammar import KIND_ALIASES, LOGGABLE_KINDS

HELP_LINES = (
    "help.find",
    "help.log",
    "help.followup",
    "help.mine",
    "help.subscribe",
    "help.segment",
    "help.help",
)


def render_help(*, language: str) -> list[Block]:
    kinds = [
        " / ".join(f"`{alias}`" for alias, target in KIND_ALIASES.items() if target == kind)
        for kind in LOGGABLE_KINDS
    ]
    return [
        header(t(language, "help.title")),
        section("\n".join(t(language, key) for key in HELP_LINES)),
        section(t(language, "help.kinds", kinds="\n".join(f"• {line}" for line in kinds))),
        context(t(language, "help.when")),
    ]
