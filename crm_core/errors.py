"""Domain errors carry a message meant for the person who caused them.

The CLI shows ``error.message`` as it is, so it must say what went wrong and what to do, and must
never contain secrets or a stack trace. Errors people meet in Slack also carry a message-catalogue
``key`` and its ``params``, so the Slack layer can say the same in the user's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crm_core.actor import Actor

if TYPE_CHECKING:
    from crm_core.customer_view import CustomerView


class CrmError(Exception):
    """Base for every error a user can cause and fix.

    ``field`` names the input the error is about (``name``, ``email``, ``summary``, ``customer``…),
    so a form can show the message under it.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.params = dict(params or {})
        self.field = field


class ConfigError(CrmError):
    """A setting is missing or malformed."""


class SchemaOutOfDate(CrmError):
    """The store was made by an older (or newer) version of crm-bot."""


class NotFound(CrmError):
    """The thing asked for does not exist."""


class NoMatch(NotFound):
    """No customer matches a query; ``suggestions`` are the nearest names, to offer instead.

    ``contact`` is "email" or "phone" when the query was one (keys ``customer.no_email_match`` and
    ``customer.no_phone_match``): it matched nobody exactly, so the caller offers to create the
    customer with it rather than names.
    """

    def __init__(
        self,
        message: str,
        *,
        query: str,
        suggestions: tuple[CustomerView, ...],
        contact: str | None = None,
    ) -> None:
        super().__init__(message, key="customer.no_match", params={"query": query})
        if contact is not None:
            self.key = {"email": "customer.no_email_match", "phone": "customer.no_phone_match"}[contact]
        self.suggestions = suggestions
        self.contact = contact


class Ambiguous(CrmError):
    """A query matches several customers equally well; the caller should offer the candidates."""

    def __init__(self, message: str, candidates: tuple[CustomerView, ...], *, query: str = "") -> None:
        super().__init__(message, key="customer.ambiguous", params={"query": query})
        self.candidates = candidates


class DuplicateCustomer(CrmError):
    """A new customer's e-mail or phone already belongs to an existing customer."""

    def __init__(
        self, message: str, existing_external_id: str, *, existing_name: str = "", field: str = "email"
    ) -> None:
        super().__init__(message, key="customer.duplicate", params={"name": existing_name}, field=field)
        self.existing_external_id = existing_external_id


class Forbidden(CrmError):
    """The actor may not do this: a guest, someone outside the team, or a role without the permission.

    It names who tried what on which customer, so the unit of work (``crm_core.store.transaction``)
    can audit the refusal after rolling the refused action back. Keys: ``access.guest``,
    ``access.not_in_team``, ``access.admin_only`` and ``access.denied`` (params ``role`` and
    ``permission``).
    """

    def __init__(
        self,
        message: str,
        *,
        key: str,
        actor: Actor,
        action: str,
        customer_id: int | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, key=key, params=params)
        self.actor = actor
        self.action = action
        self.customer_id = customer_id


class InvalidInput(CrmError):
    """A value given by the user failed validation."""


class ImportFileError(CrmError):
    """An import file cannot be read at all (missing, binary, empty, wrong columns)."""
