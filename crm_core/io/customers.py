"""Importing customers: one record per real person, and a file can be imported again and again.

Identity follows the rules of ``crm-bot customers add`` (``clean_contact``: the same name, e-mail and
phone normalisation, an e-mail or phone belongs to one customer):
- a row with an external_id updates the customer with that id, or creates it;
- a row without one updates the customer who already has its e-mail or phone, or else creates a
  customer whose external id is derived from name, e-mail and phone, so importing the file again
  finds the same customer instead of adding a twin (give an external_id column to keep later edits
  of those fields attached to the same record);
- an e-mail or phone that already belongs to another customer, stored or on an earlier line, rejects
  the row, as does a second row for the same customer.

Columns in the file are the truth for their fields: an empty cell clears the field, a column the file
does not have leaves the stored values alone. Other columns are custom fields: a non-empty cell sets
the field, an empty one removes it, fields the file has no column for stay. Tags are separated by
TAG_SEPARATOR, the same separator the export writes.

Each row needs Python-level checks (normalising names), so rows are handled one by one; writes are
still two bulk statements (inserts, updates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from crm_core.customers.service import clean_contact
from crm_core.errors import InvalidInput
from crm_core.io.bulk import insert_new
from crm_core.io.entity import Batch, EntityImport, WriteCounts
from crm_core.io.fields import content_keys
from crm_core.io.problems import Rejection
from crm_core.models import Customer

TAG_SEPARATOR = ";"
COLUMNS = ("external_id", "name", "email", "phone", "company", "owner", "tags")
MAX_PHONE_DIGITS = 20
DERIVED_ID_PREFIX = "cus_"
DERIVED_ID_DIGEST_CHARS = 20
_STORED_FIELDS = ("name", "name_key", "email", "phone", "phone_key", "company", "owner_id", "tags")


@dataclass
class _Known:
    """A customer as this import sees it: stored (``id`` set) or added by an earlier line."""

    external_id: str
    fields: dict[str, Any]
    custom_fields: dict[str, Any]
    id: int | None = None
    line: int | None = None  # the line of this file that already spoke about this customer
    erased: bool = False  # erased on request: a file must not bring their data back


@dataclass
class _Directory:
    """Customers known so far, by external id, e-mail and phone digits."""

    by_external_id: dict[str, _Known] = field(default_factory=dict)
    by_email: dict[str, _Known] = field(default_factory=dict)
    by_phone: dict[str, _Known] = field(default_factory=dict)
    by_name_key: dict[str, _Known] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> _Directory:
        directory = cls()
        columns = [getattr(Customer, name) for name in _STORED_FIELDS]
        query = select(
            Customer.id, Customer.external_id, Customer.custom_fields, Customer.erased_at, *columns
        )
        for row in session.execute(query).mappings():
            directory.remember(
                _Known(
                    external_id=row["external_id"],
                    fields={name: row[name] for name in _STORED_FIELDS},
                    custom_fields=dict(row["custom_fields"] or {}),
                    id=row["id"],
                    erased=row["erased_at"] is not None,
                )
            )
        return directory

    def remember(self, known: _Known) -> None:
        self.by_external_id[known.external_id] = known
        if known.fields["email"]:
            self.by_email[known.fields["email"]] = known
        if known.fields["phone_key"]:
            self.by_phone[known.fields["phone_key"]] = known
        if known.fields["name_key"]:
            self.by_name_key.setdefault(known.fields["name_key"], known)


@dataclass(frozen=True)
class _Row:
    """One line's values, validated; only the fields whose columns the file has."""

    external_id: str
    explicit_id: bool
    fields: dict[str, Any]
    custom_fields: dict[str, str]


@dataclass
class _Plan:
    inserts: list[_Known] = field(default_factory=list)
    updates: list[_Known] = field(default_factory=list)
    unchanged: int = 0
    likely_duplicates: list[Rejection] = field(default_factory=list)


def load_customers(session: Session, batch: Batch) -> WriteCounts:
    rows, problems, progress = batch.rows, batch.problems, batch.progress
    names = [str(name) for name in rows.columns]
    custom_columns = [name for name in names if name not in COLUMNS]
    directory = _Directory.load(session)
    plan = _Plan()
    valid = problems.valid()
    records = [dict(zip(names, values, strict=True)) for values in rows[valid].itertuples(index=False)]
    for line, record in zip(rows.index[valid], records, strict=True):
        try:
            row = _parse_row(record, set(names), custom_columns)
            _place(row, int(line), directory, plan)
        except InvalidInput as exc:
            problems.add(int(line), exc.message)
    connection = session.connection()
    new = insert_new(
        connection,
        Customer,
        key="external_id",
        columns={
            "external_id": [known.external_id for known in plan.inserts],
            "custom_fields": [known.custom_fields for known in plan.inserts],
            **{name: [known.fields[name] for known in plan.inserts] for name in _STORED_FIELDS},
        },
        progress=progress,
    )
    _write_updates(connection, plan.updates)
    progress(len(plan.updates) + plan.unchanged)
    return WriteCounts(
        new=new, updated=len(plan.updates), unchanged=plan.unchanged, warnings=tuple(plan.likely_duplicates)
    )


def _parse_row(record: dict[str, str], columns: set[str], custom_columns: Sequence[str]) -> _Row:
    name, name_key, email, phone, phone_key = clean_contact(
        name=record["name"], email=record.get("email"), phone=record.get("phone")
    )
    if phone_key and len(phone_key) > MAX_PHONE_DIGITS:
        raise InvalidInput(f"phone {phone!r} has more than {MAX_PHONE_DIGITS} digits")
    fields: dict[str, Any] = {"name": name, "name_key": name_key}
    if "email" in columns:
        fields["email"] = email
    if "phone" in columns:
        fields.update(phone=phone, phone_key=phone_key)
    if "company" in columns:
        fields["company"] = record["company"] or None
    if "owner" in columns:
        fields["owner_id"] = record["owner"] or None
    if "tags" in columns:
        fields["tags"] = sorted({tag.strip() for tag in record["tags"].split(TAG_SEPARATOR) if tag.strip()})
    given_id = record.get("external_id", "")
    external_id = (
        given_id
        or content_keys(
            DERIVED_ID_PREFIX,
            [[name_key], [email or ""], [phone_key or ""]],
            digest_chars=DERIVED_ID_DIGEST_CHARS,
        )[0]
    )
    return _Row(external_id, bool(given_id), fields, {column: record[column] for column in custom_columns})


def _place(row: _Row, line: int, directory: _Directory, plan: _Plan) -> None:
    """Decide whether the row creates, updates or leaves a customer; raise InvalidInput to reject it."""
    target = _target(row, directory)
    if target is not None and target.erased:
        raise InvalidInput(f"customer {target.external_id!r} was erased on request: remove this row")
    if target is not None and target.line is not None:
        raise InvalidInput(f"customer {target.external_id!r} is already on line {target.line}")
    if target is None:
        known = _Known(row.external_id, _new_fields(row), _custom_fields({}, row.custom_fields), line=line)
        _note_likely_duplicate(known, line, directory, plan)
        directory.remember(known)
        plan.inserts.append(known)
        return
    fields = {**target.fields, **row.fields}
    custom_fields = _custom_fields(target.custom_fields, row.custom_fields)
    target.line = line
    if fields == target.fields and custom_fields == target.custom_fields:
        plan.unchanged += 1
        return
    target.fields, target.custom_fields = fields, custom_fields
    directory.remember(target)
    plan.updates.append(target)


def _note_likely_duplicate(new: _Known, line: int, directory: _Directory, plan: _Plan) -> None:
    """A new customer whose name matches an existing one's once normalised (株式会社, width, kana,
    case…) is imported, since two people can share a name, but reported so someone can merge."""
    same_name = directory.by_name_key.get(new.fields["name_key"])
    if same_name is None or same_name.erased:
        return
    plan.likely_duplicates.append(
        Rejection(
            line,
            f"likely duplicate of {same_name.external_id} ({same_name.fields['name']}); if it is the "
            f"same customer, run `crm-bot customers merge {same_name.external_id} {new.external_id}`",
        )
    )


def _target(row: _Row, directory: _Directory) -> _Known | None:
    """The known customer this row is about, if any; refuses e-mails and phones of someone else."""
    owners = _contact_owners(row, directory)
    target = directory.by_external_id.get(row.external_id)
    if target is None and not row.explicit_id:
        distinct = {owner.external_id: owner for owner in owners.values()}
        if len(distinct) == 1:
            target = next(iter(distinct.values()))
    for what, owner in owners.items():
        if owner is not target:
            raise InvalidInput(_taken_message(what, owner))
    return target


def _contact_owners(row: _Row, directory: _Directory) -> dict[str, _Known]:
    """Who already has this row's e-mail and phone, keyed by a description of the detail."""
    owners: dict[str, _Known] = {}
    email, phone_key = row.fields.get("email"), row.fields.get("phone_key")
    if email and email in directory.by_email:
        owners[f"e-mail {email!r}"] = directory.by_email[email]
    if phone_key and phone_key in directory.by_phone:
        owners[f"phone {row.fields['phone']!r}"] = directory.by_phone[phone_key]
    return owners


def _taken_message(what: str, owner: _Known) -> str:
    if owner.line is not None:
        return f"{what} is already on line {owner.line}"
    return (
        f"{what} already belongs to {owner.external_id} ({owner.fields['name']}): use that external_id "
        "to update it, or merge the records"
    )


def _new_fields(row: _Row) -> dict[str, Any]:
    empty: dict[str, Any] = {name: None for name in _STORED_FIELDS}
    return {**empty, "tags": [], **row.fields}


def _custom_fields(stored: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    kept = {name: value for name, value in stored.items() if name not in given}
    return {**kept, **{name: value for name, value in given.items() if value}}


def _write_updates(connection: Connection, updates: Sequence[_Known]) -> None:
    if not updates:
        return
    statement = update(Customer).where(Customer.id == bindparam("customer_id"))
    connection.execute(
        statement,
        [
            {"customer_id": known.id, "custom_fields": known.custom_fields, **known.fields}
            for known in updates
        ],
    )


CUSTOMERS = EntityImport(
    name="customers",
    columns=COLUMNS,
    required=("name",),
    max_lengths={"external_id": 64, "email": 254, "phone": 40, "company": 200, "owner": 32},
    custom_fields=True,
    load=load_customers,
)
