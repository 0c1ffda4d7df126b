"""Masked contact details keep just enough to recognise, never the whole value."""

from __future__ import annotations

import pytest

from crm_core.masking import mask_email, mask_phone


@pytest.mark.parametrize(
    ("email", "masked"),
    [("taro@example.jp", "t***@example.jp"), ("a@b.co", "a***@b.co"), ("broken", "***")],
)
def test_mask_email(email: str, masked: str) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"), [("03-1111-2222", "***-2222"), ("+81 (3) 1111 2222", "***-2222"), ("12", "***")]
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
