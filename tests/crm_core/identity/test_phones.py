"""Phone keys in E.164: one key for every way of writing one number (issue 11, item 5)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_core.config import load_settings
from crm_core.errors import ConfigError, DuplicateCustomer
from crm_core.identity import phones
from crm_core.identity.phones import phone_key, use_phone_region
from crm_core.identity.search import search_customers
from tests.factories import customer


@pytest.mark.parametrize(
    "typed",
    ["+81 90-1111-2222", "090 1111 2222", "(090)1111-2222", "０９０（１１１１）２２２２", "+819011112222"],
)
def test_a_phone_typed_any_way_finds_the_customer(session: Session, typed: str) -> None:
    mori = customer(session, "森 誠", phone="090-1111-2222")
    customer(session, "Other", phone="090-1111-2223")
    assert [(m.customer.id, m.matched_on) for m in search_customers(session, query=typed)] == [
        (mori.id, "phone")
    ]


def test_the_same_phone_with_its_country_code_is_a_duplicate(session: Session) -> None:
    customer(session, "森 誠", phone="090-1111-2222")
    with pytest.raises(DuplicateCustomer):
        customer(session, "Makoto Mori", phone="+81 90 1111 2222")


def test_keys_are_e164_with_the_extension_kept() -> None:
    assert phone_key("03-1234-5678") == "+81312345678"
    assert phone_key("03-1234-5678 ext. 12") == "+81312345678x12"
    assert phone_key("+1 (212) 555-0100") == "+12125550100"
    assert phone_key("+999 1234567") == "9991234567"  # no such country: its digits, as before


def test_numbers_without_a_country_code_are_read_in_the_configured_region(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phones, "_region", phones.DEFAULT_PHONE_REGION)  # restored after the test
    use_phone_region("US")
    assert phone_key("(212) 555-0100") == "+12125550100"
    new_yorker = customer(session, "New Yorker", phone="212-555-0100")
    assert search_customers(session, query="+1 212 555 0100")[0].customer.id == new_yorker.id


def test_the_phone_region_setting_defaults_to_japan_and_is_checked() -> None:
    assert load_settings({}).phone_region == "JP"
    assert load_settings({"CRM_PHONE_REGION": " us "}).phone_region == "US"
    with pytest.raises(ConfigError, match="CRM_PHONE_REGION='XX' is not a known region"):
        load_settings({"CRM_PHONE_REGION": "xx"})
