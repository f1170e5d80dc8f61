"""The texts a shop may reword: each exists in every shipped flow, and the flow's own
wording passes the checks the panel applies to the shop's (its placeholders are the
ones listed, it fits)."""

from __future__ import annotations

import pytest

from chatcentral.conversation.flow import flow_files, shipped_flow
from chatcentral.conversation.shop_texts import SHOP_TEXTS, ShopText, TextRefused, check_text


@pytest.mark.parametrize("flow", sorted(flow_files()))
@pytest.mark.parametrize("spec", SHOP_TEXTS, ids=lambda spec: spec.key)
def test_every_flow_has_the_text_and_its_wording_passes(flow: str, spec: ShopText) -> None:
    default = shipped_flow(flow).texts[spec.key]
    values = {name: "x" for name in spec.placeholders}
    assert check_text(spec, default, "Tienda", values)


def test_a_text_is_filled_as_the_bot_fills_it() -> None:
    [later] = [spec for spec in SHOP_TEXTS if spec.key == "hours.order_later"]
    filled = check_text(later, "Te atendemos a partir de {opening}.", "T", {"opening": "el lunes"})
    assert filled == "Te atendemos a partir del lunes."


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("{name!r}", "Las llaves { } solo van alrededor de un dato"),
        ("{name:>9}", "Las llaves { } solo van alrededor de un dato"),
        ("{0}", "{0} no se puede usar"),
        ("{shop.__class__}", "{shop.__class__} no se puede usar"),
        ("Hola\r\n", None),
    ],
)
def test_placeholders_are_only_plain_names(typed: str, message: str | None) -> None:
    [welcome] = [spec for spec in SHOP_TEXTS if spec.key == "welcome"]
    if message is None:
        assert check_text(welcome, typed, "T", {"name": ""}) == "Hola"
        return
    with pytest.raises(TextRefused, match="^" + message.replace("{", r"\{").replace("}", r"\}")):
        check_text(welcome, typed, "T", {"name": ""})
