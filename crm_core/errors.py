"""Domain errors carry a message meant for the person who caused them.

The Slack layer and the CLI show ``error.message`` as it is, so it must say what went wrong and what
to do, and must never contain secrets or a stack trace.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base for every error a user can cause and fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CrmError):
    """A setting is missing or malformed."""


class SchemaOutOfDate(CrmError):
    """The store was made by an older (or newer) version of crm-bot."""


class NotFound(CrmError):
    """The thing asked for does not exist."""


class Ambiguous(CrmError):
    """A query matches several customers equally well; the caller should offer the candidates."""

    def __init__(self, message: str, candidates: tuple[object, ...]) -> None:
        super().__init__(message)
        self.candidates = candidates


class DuplicateCustomer(CrmError):
    """A new customer's e-mail or phone already belongs to an existing customer."""

    def __init__(self, message: str, existing_external_id: str) -> None:
        super().__init__(message)
        self.existing_external_id = existing_external_id


class InvalidInput(CrmError):
    """A value given by the user failed validation."""


class ImportFileError(CrmError):
    """An import file cannot be read at all (missing, binary, empty, wrong columns)."""
