"""Every ``action_id``, ``callback_id`` and modal ``block_id`` the app uses, in one place.

Renderers put these ids into blocks and listeners match on them; keeping both sides on one enum
means a renamed id cannot leave a button that nothing answers.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    OPEN_PROFILE = "profile.open"
    LOG_INTERACTION = "interaction.log"
    ADD_FOLLOW_UP = "follow_up.add"
    MARK_DONE = "follow_up.done"
    SNOOZE_DAY = "follow_up.snooze_day"
    SNOOZE_WEEK = "follow_up.snooze_week"
    CREATE_CUSTOMER = "customer.create"
    PICK_CANDIDATE = "customer.pick"  # a candidate chosen to finish a /crm log, followup or @crm log
    REASSIGN = "follow_up.reassign"
    SHARE_PROFILE = "profile.share"
    LOG_REACTED_TO = "reaction.log_to"  # a candidate's button in the DM after a log reaction
    PICK_REACTED_TO = "reaction.pick"  # the customer picker in that DM


class CallbackId(StrEnum):
    LOG_MESSAGE = "shortcut.log_message"  # the "Log to CRM" message shortcut, declared in manifest.yaml
    LOG_INTERACTION = "modal.log_interaction"
    NEW_CUSTOMER = "modal.new_customer"
    ADD_FOLLOW_UP = "modal.add_follow_up"
    REASSIGN_FOLLOW_UP = "modal.reassign_follow_up"


class Field(StrEnum):
    """Modal inputs: each is both the ``block_id`` and the ``action_id`` of its element.

    The values match the ``field`` that crm_core's ``InvalidInput`` names, so a domain error can be
    shown under the input it is about.
    """

    CUSTOMER = "customer"
    KIND = "kind"
    SUMMARY = "summary"
    OCCURRED_ON = "occurred_on"
    FOLLOW_UP_ON = "follow_up_on"
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    COMPANY = "company"
    DUE_ON = "due_on"
    NOTE = "note"
    OWNER = "owner"
