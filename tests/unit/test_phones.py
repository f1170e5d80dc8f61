"""One person, one canonical number, whatever form WhatsApp or a person uses."""

from __future__ import annotations

import pytest

from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("5215512345678", "+525512345678"),  # WhatsApp's old Mexican mobile form
        ("525512345678", "+525512345678"),
        ("+52 55 1234 5678", "+525512345678"),
        ("+52 1 55 1234 5678", "+525512345678"),
        ("55 1234 5678", "+525512345678"),  # national, default region MX
        ("5491123456789", "+5491123456789"),  # Argentina as WhatsApp sends it
        ("+54 11 2345-6789", "+5491123456789"),  # typed without the mobile 9
        ("16505551234", "+16505551234"),
    ],
)
def test_forms_of_one_number_are_one(raw: str, canonical: str) -> None:
    assert normalize_phone(raw) == canonical


@pytest.mark.parametrize("raw", ["", "hola", "12", "+52 1", "000000000000000"])
def test_non_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_wa_id_is_digits_only() -> None:
    assert wa_id_of(normalize_phone("+52 55 1234 5678")) == "525512345678"
