"""Phone numbers in one canonical E.164 form, so one person is one customer.

WhatsApp sends Mexican mobiles as `521…` (the old mobile prefix) or `52…`, and Argentine
mobiles as `549…`; people type `+52 55 …` or `55 …`. All of them map to the same
canonical `+52XXXXXXXXXX` / `+549XXXXXXXXXX`.
"""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a phone number WhatsApp could deliver to."""


def normalize_phone(raw: str, default_region: str = "MX") -> str:
    """Canonical E.164 (`+52…`) for a typed number or a WhatsApp `wa_id`."""
    text = raw.strip()
    if text.isdigit() and len(text) > 10:
        text = "+" + text  # a wa_id: country code without the plus
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number") from exc
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    e164 = _whatsapp_form(e164)
    if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return e164


def wa_id_of(phone: str) -> str:
    """The digits WhatsApp uses as `wa_id`/`to` for a canonical number."""
    return phone.removeprefix("+")


def _whatsapp_form(e164: str) -> str:
    # Mexico dropped the mobile "1" in 2019; WhatsApp still sends it for older accounts.
    if e164.startswith("+521") and len(e164) == 14:
        return "+52" + e164[4:]
    # Argentine mobiles are reachable on WhatsApp only in their "9" form.
    if e164.startswith("+54") and not e164.startswith("+549") and len(e164) == 13:
        return "+549" + e164[3:]
    return e164
