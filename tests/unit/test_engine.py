"""The decision function alone: no database, no HTTP (the functional core)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chatcentral.conversation.decision import Decision, decide
from chatcentral.conversation.effects import OpenHandoff
from chatcentral.conversation.events import LOCATION, REPLY, TEXT, Event
from chatcentral.conversation.facts import (
    Catalog,
    Category,
    CustomerFacts,
    Facts,
    MissingFacts,
    Product,
)
from chatcentral.conversation.shop import Shop
from chatcentral.simulator.render import render
from tests.support.engine_kit import shop


def catalog(products_in_first: int = 3) -> Catalog:
    cats = (Category(1, "Frutas"), Category(2, "Bebidas"))
    products = [
        Product(100 + n, 1, f"Fruta {n}", None, Decimal("10.00"), "KG", None)
        for n in range(1, products_in_first + 1)
    ]
    products.append(Product(900, 2, "Agua 1 L", None, Decimal("15.50"), "PIECE", Decimal("4")))
    return Catalog(cats, tuple(products))


def facts(now: datetime | None = None, products_in_first: int = 3) -> Facts:
    return Facts(
        now=now or datetime(2026, 11, 24, 17, 0, tzinfo=UTC),  # Tuesday 11:00 in CDMX
        catalog_=catalog(products_in_first),
        customer_=CustomerFacts("Ana", 0, (), None),
        orders_=(),
    )


class Talk:
    """A conversation with the pure engine, state carried between turns."""

    def __init__(self, the_shop: Shop, the_facts: Facts) -> None:
        self.shop, self.facts = the_shop, the_facts
        self.state: str = "main_menu"
        self.context: dict[str, Any] = {}
        self.last: Decision | None = None

    def send(self, event: Event) -> str:
        self.last = decide(self.shop, self.state, self.context, event, self.facts)
        assert not self.last.needs
        self.state, self.context = self.last.state, self.last.context
        return "\n".join(line for r in self.last.replies for line in render(r).lines)

    def says(self, text: str) -> str:
        return self.send(Event(TEXT, text=text))

    def taps(self, reply_id: str) -> str:
        return self.send(Event(REPLY, reply_id=reply_id))


def test_decide_does_no_io_and_asks_for_missing_facts() -> None:
    decision = decide(
        shop(), "main_menu", {}, Event(TEXT, text="catalogo"), Facts(now=datetime.now(UTC))
    )
    assert decision.needs == frozenset({"catalog"})
    assert decision.replies == [] and decision.state == "main_menu"
    with pytest.raises(MissingFacts):
        _ = Facts(now=datetime.now(UTC)).orders


def test_handoff_outside_business_hours_gives_the_hours() -> None:
    sunday_night = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # Sunday 23:00 in CDMX
    closed = Talk(shop(), facts(sunday_night)).says("asesor")
    assert "Ahora estamos cerrados" in closed and "lun–sáb 09:00–18:00" in closed
    assert "mañana a las 09:00" in closed  # Monday opens at nine
    opened = Talk(shop(), facts()).says("asesor")
    assert "cerrados" not in opened
    talk = Talk(shop(), facts())
    talk.says("asesor")
    assert talk.state == "handoff" and talk.last is not None
    assert talk.last.effects == [OpenHandoff(reason=None)]


def _to_address(talk: Talk) -> None:
    talk.says("catalogo")
    talk.taps("cat:2")
    talk.taps("prod:900")
    talk.taps("product:add")
    talk.says("4")
    talk.taps("cart:checkout")
    talk.taps("ful:delivery")


ZONES = {
    "delivery_zones": [
        {"name": "Centro", "postal_codes": ["06600", "06700"], "fee": "20", "minimum_order": "0"},
        {"name": "Radio 3 km", "radius_km": 3, "fee": "45", "minimum_order": "0"},
    ],
    "shop_location": {"latitude": 19.4326, "longitude": -99.1332},
    "minimum_order": "0",
}


def test_delivery_zones_by_postal_code_and_radius() -> None:
    by_code = Talk(shop(**ZONES), facts())
    _to_address(by_code)
    assert "Total a pagar: *$82.00*" in by_code.says("Calle Roma 5, Juárez, CP 06600")

    near_pin = Talk(shop(**ZONES), facts())
    _to_address(near_pin)
    answer = near_pin.send(Event(LOCATION, details={"latitude": 19.44, "longitude": -99.14}))
    assert "Total a pagar: *$107.00*" in answer  # 62.00 + 45.00 within 3 km

    far = Talk(shop(**ZONES), facts())
    _to_address(far)
    answer = far.says("Av. Siempre Viva 742, CP 44100")
    assert "no hacemos entregas en esa dirección" in answer
    assert "[1] Recoger en tienda" in answer
    assert "Total a pagar: *$62.00*" in far.taps("ful:pickup")

    vague = Talk(shop(**ZONES), facts())
    _to_address(vague)
    assert "incluye tu código postal" in vague.says("la casa azul de la esquina")
    assert vague.state == "entering_address"


def test_a_shop_overrides_texts_and_settings_without_code() -> None:
    custom = shop(
        texts={"welcome": "¡Qué onda{name}! Bienvenido a {shop}.", "menu.catalog": "Ver productos"},
        minimum_order="500",
        payment_methods=["card"],
    )
    talk = Talk(custom, facts())
    talk.state = "new"
    first = talk.says("hola")
    assert first.startswith("¡Qué onda Ana! Bienvenido a La Esquina.")
    assert "1. Ver productos" in first
    talk.says("1")
    talk.taps("cat:2")
    talk.taps("prod:900")
    talk.taps("product:add")
    talk.says("2")
    assert "El pedido mínimo es de $500.00" in talk.taps("cart:checkout")


def test_long_categories_paginate_with_ver_mas_and_lose_nothing() -> None:
    talk = Talk(shop(), facts(products_in_first=25))
    talk.says("catalogo")
    seen: list[str] = []
    page = talk.taps("cat:1")
    for _ in range(5):
        rows = [line.split(". ", 1)[1] for line in page.splitlines() if ". " in line[:6]]
        seen += [r.split(" — ")[0] for r in rows if r != "Ver más"]
        if "Ver más" not in rows:
            break
        assert len(rows) == 10
        page = talk.says("ver mas")
    assert seen == [f"Fruta {n}" for n in range(1, 26)]


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("dos", "«dos» no es una cantidad válida"),
        ("-1", "«-1» no es una cantidad válida"),
        ("0", "«0» no es una cantidad válida"),
        ("9999", "El máximo por producto es 50"),
        ("1.5", "se vende por piezas completas"),
        ("5", "solo nos quedan 4 piezas"),
    ],
)
def test_bad_quantities_are_explained(typed: str, answer: str) -> None:
    talk = Talk(shop(), facts())
    talk.says("catalogo")
    talk.taps("cat:2")
    talk.taps("prod:900")
    talk.taps("product:add")
    assert answer in talk.says(typed)
    assert talk.state == "entering_quantity"


def test_fractional_kilograms_and_decimal_commas() -> None:
    talk = Talk(shop(), facts())
    talk.says("catalogo")
    talk.taps("cat:1")
    talk.taps("prod:101")
    talk.taps("product:add")
    assert "1.25 kg Fruta 1 — $12.50" in talk.says("1,25")


def test_a_product_list_with_nothing_to_show_says_so_instead_of_failing() -> None:
    empty_water = Facts(
        now=datetime(2026, 11, 24, 17, 0, tzinfo=UTC),
        catalog_=Catalog((Category(1, "Garrafones"),), ()),
        customer_=CustomerFacts("Luis", 0, (), None),
        orders_=(),
    )
    water = Talk(shop("water_delivery"), empty_water)
    assert "no tenemos productos disponibles" in water.says("pedido")
    assert water.state == "main_menu"

    grocery = Talk(shop(), facts())
    grocery.says("catalogo")
    grocery.context["options"] = [["cat:3", "Vacía"]]  # a category emptied meanwhile
    grocery.facts = Facts(
        now=grocery.facts.now,
        catalog_=Catalog((*catalog().categories, Category(3, "Vacía")), catalog().products),
        customer_=grocery.facts.customer_,
        orders_=(),
    )
    answer = grocery.taps("cat:3")
    assert "no tenemos productos disponibles" in answer
    assert grocery.state == "choosing_category" and "Frutas" in answer
