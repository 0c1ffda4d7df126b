"""Phone numbers as match keys: E.164 through Google's libphonenumber (the ``phonenumbers`` package).

Digits alone did not make one number one key: "+81 90-1111-2222" (81901111222) and "090-1111-2222"
(09011112222) are the same phone. libphonenumber reads the national prefix, the country code,
brackets, spaces and full-width forms, so every way of writing a number gives one key, "+819011112222".
A number written without a country code is read in the store's region, ``CRM_PHONE_REGION``
(default JP), set once at start-up by the entry point (``use_phone_region``): every replica of one
store must use the same region, or the same local number would get two keys. An extension is kept
after an "x" ("+81312345678x12"): two desks behind one switchboard are two contacts.

What libphonenumber cannot read as a possible number (too short or too long for its country, letters)
keeps the old key, its digits, so it still matches when typed the same way; such a key never starts
with "+", so it never equals an E.164 key by accident.
"""

from __future__ import annotations

import unicodedata

import phonenumbers

from crm_core.config import DEFAULT_PHONE_REGION
from crm_core.identity.normalize import phone_digits

_region = DEFAULT_PHONE_REGION


def is_phone_region(region: str) -> bool:
    """A region libphonenumber knows (a two-letter country code such as JP or US)."""
    return region in phonenumbers.SUPPORTED_REGIONS


def use_phone_region(region: str) -> None:
    """Read numbers without a country code in ``region`` from now on, in this process."""
    global _region
    if not is_phone_region(region):
        raise ValueError(f"unknown phone region {region!r}")
    _region = region


def phone_key(text: str, *, region: str | None = None) -> str:
    """The match key of a phone number: E.164 (+ extension) when it reads as one, else its digits."""
    folded = unicodedata.normalize("NFKC", text)
    try:
        number = phonenumbers.parse(folded, region or _region)
    except phonenumbers.NumberParseException:
        return phone_digits(text)
    if not phonenumbers.is_possible_number(number):
        return phone_digits(text)
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{key}x{number.extension}" if number.extension else key
