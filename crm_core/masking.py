"""Masking personal data for places where people who may not see it could read it (a channel).

Enough stays visible for a colleague to recognise the contact (first letter and domain of an
e-mail, last four digits of a phone) and nothing more.
"""

from __future__ import annotations

from dataclasses import replace

from crm_core.customer_view import CustomerView
from crm_core.identity.normalize import phone_digits


def mask_email(email: str) -> str:
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    digits = phone_digits(phone)
    return f"***-{digits[-4:]}" if len(digits) >= 4 else "***"


def masked_customer(customer: CustomerView) -> CustomerView:
    """The customer as a channel may read them: e-mail and phone masked, no custom fields."""
    return replace(
        customer,
        email=mask_email(customer.email) if customer.email else None,
        phone=mask_phone(customer.phone) if customer.phone else None,
        custom_fields={},
    )
