"""The news of a new order for the shop's admins, built without a database: both forms
(interactive, template) for every kind of order, always within WhatsApp's limits."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from chatcentral.conversation.cart import Line
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.notifications import new_order
from chatcentral.notifications.new_order import OrderNotice
from chatcentral.notifications.notify import _messages, admin_recipients, notification_of
from chatcentral.notifications.templates import (
    TemplateError,
    TemplateSpec,
    for_shop,
    shipped_templates,
)
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import OutboundError

TEXTS = shipped_flow("grocery").texts
SPEC = shipped_templates()["nuevo_pedido"]
IDS = ["adm:order:128:confirmado", "adm:order:128:en_camino", "adm:order:128:cancelado"]

ORDER = OrderNotice(
    order_id=128,
    customer_name="Ana López",
    customer_phone="+525512345678",
    lines=(
        Line(1, "Aguacate Hass", "KG", Decimal("79.00"), Decimal("1.5")),
        Line(2, "Huevo blanco 12 piezas", "BOX", Decimal("42.00"), Decimal("2")),
    ),
    delivery_fee=Decimal("25.00"),
    deposit=Decimal("0"),
    total=Decimal("227.50"),
    fulfillment="delivery",
    address_text="Casa, Av. Reforma 222, Juárez, CP 06600",
    latitude=19.4326,
    longitude=-99.1332,
    slot="Mañana 9 a 13 h",
    payment_method="cash",
    cash_tendered=Decimal("300"),
    receipt_received=False,
    notes="Tocar el timbre dos veces",
)
LONG = dataclasses.replace(
    ORDER,
    customer_name="María Guadalupe " * 20,
    lines=tuple(
        Line(i, f"Producto de nombre muy largo número {i} " * 3, "PIECE", Decimal("10"), Decimal(i))
        for i in range(1, 61)
    ),
    deposit=Decimal("150.00"),
    address_text="Calle con un nombre larguísimo " * 40,
    notes="Por favor\ttocar\n\n el timbre      varias veces " * 60,
    slot="Tarde 16 a 20 h",
)


def body_of(message: dict[str, Any]) -> str:
    return str(message["interactive"]["body"]["text"])


def params_of(message: dict[str, Any]) -> list[str]:
    return [p["text"] for p in message["template"]["components"][0]["parameters"]]


def test_the_interactive_news_of_an_order() -> None:
    message = new_order.interactive(ORDER, TEXTS)
    assert body_of(message) == (
        "🛎️ *Nuevo pedido #128*\n"
        "👤 Ana López · +52 55 1234 5678\nhttps://wa.me/525512345678\n\n"
        "• 1.5 kg Aguacate Hass — $118.50\n"
        "• 2 paquetes Huevo blanco 12 piezas — $84.00\n"
        "• Envío — $25.00\n"
        "Total: *$227.50*\n\n"
        "📍 Entregar en: Casa, Av. Reforma 222, Juárez, CP 06600\n"
        "🗺️ https://www.google.com/maps/search/?api=1&query=19.432600,-99.133200\n"
        "🕒 Horario: Mañana 9 a 13 h\n"
        "💳 Pago: Efectivo, paga con $300.00, lleva $72.50 de cambio\n"
        "📝 Notas: Tocar el timbre dos veces"
    )
    buttons = message["interactive"]["action"]["buttons"]
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons] == list(
        zip(IDS, ["Confirmar", "En camino", "Cancelar"], strict=True)
    )


def test_the_template_news_of_an_order() -> None:
    message = new_order.template(ORDER, TEXTS, SPEC)
    assert message["template"]["name"] == "nuevo_pedido"
    assert message["template"]["language"] == {"code": "es_MX"}
    assert params_of(message) == [
        "128",
        "Ana López · +52 55 1234 5678 · https://wa.me/525512345678",
        "1.5 kg Aguacate Hass $118.50; 2 paquetes Huevo blanco 12 piezas $84.00; Envío — $25.00",
        "$227.50",
        "📍 Entregar en: Casa, Av. Reforma 222, Juárez, CP 06600 · 🗺️ "
        "https://www.google.com/maps/search/?api=1&query=19.432600,-99.133200 · "
        "🕒 Horario: Mañana 9 a 13 h",
        "Efectivo, paga con $300.00, lleva $72.50 de cambio",
        "Tocar el timbre dos veces",
    ]
    quick = [c for c in message["template"]["components"] if c["type"] == "button"]
    assert [(c["index"], c["parameters"][0]["payload"]) for c in quick] == [
        ("0", IDS[0]),
        ("1", IDS[1]),
        ("2", IDS[2]),
    ]


@pytest.mark.parametrize(
    ("change", "payment", "where"),
    [
        ({}, "Efectivo, paga con $300.00, lleva $72.50 de cambio", "Entregar en"),
        ({"cash_tendered": None}, "Efectivo, pago exacto", "Entregar en"),
        ({"cash_tendered": Decimal("227.50")}, "Efectivo, pago exacto", "Entregar en"),
        (
            {"payment_method": "transfer", "receipt_received": True},
            "Transferencia (comprobante recibido)",
            "Entregar en",
        ),
        (
            {"payment_method": "transfer"},
            "Transferencia (sin comprobante todavía)",
            "Entregar en",
        ),
        ({"payment_method": "card", "fulfillment": "pickup"}, "Tarjeta al entregar", "Recoge"),
        ({"payment_method": None, "address_text": None}, "por acordar", "ubicación compartida"),
    ],
)
def test_payment_and_delivery_as_the_admin_needs_them(
    change: dict[str, Any], payment: str, where: str
) -> None:
    notice = dataclasses.replace(ORDER, **change)
    body = body_of(new_order.interactive(notice, TEXTS))
    assert f"Pago: {payment}\n" in body and where in body
    params = params_of(new_order.template(notice, TEXTS, SPEC))
    assert params[5] == payment and where in params[4]


def test_a_customer_whatsapp_hides_the_phone_of() -> None:
    notice = dataclasses.replace(ORDER, customer_phone=None, customer_name=None)
    assert "👤 Cliente sin nombre · número oculto por WhatsApp\n" in body_of(
        new_order.interactive(notice, TEXTS)
    )
    assert "wa.me" not in str(new_order.template(notice, TEXTS, SPEC))


def test_a_huge_order_still_fits_both_forms() -> None:
    message = new_order.interactive(LONG, TEXTS)
    body = body_of(message)
    assert len(body) <= outbound.INTERACTIVE_BODY_MAX
    assert "producto(s) más" in body and "Total: *" in body and "Pago: " in body
    assert "• Depósito de garrafones — $150.00" in body
    outbound.validate(outbound.envelope(message, to="+525587654321", callback_data="n:1"))
    assert [b["reply"]["id"] for b in message["interactive"]["action"]["buttons"]] == IDS

    template = new_order.template(LONG, TEXTS, SPEC)
    params = params_of(template)
    assert len(SPEC.render(params)) <= outbound.TEMPLATE_BODY_MAX
    assert all("\n" not in p and "\t" not in p and "     " not in p for p in params)
    assert "producto(s) más" in params[2] and params[3] == "$227.50"
    outbound.validate(outbound.envelope(template, to="+525587654321"))


@pytest.mark.parametrize("items", [0, 1, 9, 10, 11, 30, 200])
@pytest.mark.parametrize("text_length", [0, 40, 400, 4000])
def test_every_size_of_order_fits(items: int, text_length: int) -> None:
    notice = dataclasses.replace(
        LONG,
        lines=LONG.lines[:items] if items <= 60 else LONG.lines * 4,
        customer_name=("Ana " * text_length)[:text_length] or None,
        address_text=("Av. " * text_length)[:text_length] or None,
        notes=("nota " * text_length)[:text_length] or None,
    )
    assert len(body_of(new_order.interactive(notice, TEXTS))) <= outbound.INTERACTIVE_BODY_MAX
    template = new_order.template(notice, TEXTS, SPEC)
    assert len(SPEC.render(params_of(template))) <= outbound.TEMPLATE_BODY_MAX


def test_a_shops_own_wording_is_used_and_a_broken_one_is_not() -> None:
    shop = Shop(
        id=1,
        slug="tienda",
        schema="tenant_tienda",
        name="Tienda",
        phone_number_id="1",
        display_phone="+525512345678",
        flow="grocery",
        active=True,
        timezone="America/Mexico_City",
        currency="MXN",
        business_hours={},
        settings={"texts": {"notify.confirm": "Aceptar", "notify.body": "Pedido {number} " * 120}},
        admin_phones=("+52 55 8765 4321", "5215587654321", "no es un teléfono"),
        access_token_encrypted=None,
    )
    interactive, _ = _messages(shop, ORDER)
    body = body_of(interactive)
    assert len(body) <= outbound.INTERACTIVE_BODY_MAX and body.endswith("…")  # cut, not refused
    assert interactive["interactive"]["action"]["buttons"][0]["reply"]["title"] == "Aceptar"
    broken = dataclasses.replace(shop, settings={"texts": {"notify.body": "Pedido {numero}"}})
    interactive, _ = _messages(broken, ORDER)
    assert body_of(interactive).startswith("🛎️ *Nuevo pedido #128*")
    # Admin phones in any form are one recipient each; a bad one is skipped.
    assert admin_recipients(shop) == {"525587654321": "+525587654321"}


def test_the_callback_data_names_the_notification() -> None:
    assert notification_of({"biz_opaque_callback_data": "notification:42"}) == 42
    assert notification_of({"biz_opaque_callback_data": "something else"}) is None
    assert notification_of({}) is None


# --- template definitions --------------------------------------------------------------------


def test_every_shipped_template_is_acceptable_and_builds_its_creation_body() -> None:
    for key, spec in shipped_templates().items():
        assert spec.name == key
        body = spec.creation_body()
        assert body["components"][0]["type"] == "BODY"
        assert len(body["components"][0]["example"]["body_text"][0]) == spec.parameters
        assert body["category"] in {"UTILITY", "MARKETING"}
    creation = SPEC.creation_body()
    assert creation["category"] == "UTILITY" and creation["language"] == "es_MX"


def test_a_shop_may_send_its_own_copy_of_a_template() -> None:
    settings, _ = effective(
        shipped_flow("grocery"), {"templates": {"nuevo_pedido": {"name": "pedido_v2"}}}
    )
    spec = for_shop("nuevo_pedido", settings.templates)
    assert (spec.name, spec.language, spec.body) == ("pedido_v2", "es_MX", SPEC.body)
    assert new_order.template(ORDER, TEXTS, spec)["template"]["name"] == "pedido_v2"
    # A name WhatsApp would refuse is ignored with the rest of that shop's overrides.
    settings, _ = effective(shipped_flow("grocery"), {"templates": {"nuevo_pedido": {"name": "X"}}})
    assert for_shop("nuevo_pedido", settings.templates).name == "nuevo_pedido"
    with pytest.raises(TemplateError, match="no template 'nada'"):
        for_shop("nada", {})


@pytest.mark.parametrize(
    ("body", "example", "problem"),
    [
        ("Hola {{1}} y {{3}}.", ["a", "b"], "placeholders must be"),
        ("{{1}} es tu pedido.", ["a"], "may not start or end"),
        ("Tu pedido es {{1}}", ["a"], "may not start or end"),
        ("Pedido {{1}} de {{2}}.", ["a"], "example has 1 values for 2"),
        ("Pedido {{1}}.", ["dos\nlíneas"], "line break"),
        ("x" * 1025, [], "1025 characters"),
    ],
)
def test_a_template_meta_would_refuse_is_refused_at_load(
    body: str, example: list[str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        TemplateSpec(
            name="prueba", language="es_MX", category="UTILITY", body=body, example=example
        )


def test_sending_checks_parameters_payloads_and_length() -> None:
    spec = TemplateSpec(
        name="prueba",
        language="es_MX",
        category="UTILITY",
        body="Pedido {{1}} listo.",
        example=("128",),
        buttons=("Ver",),
    )
    with pytest.raises(TemplateError, match="2 parameters for 1"):
        spec.message(["1", "2"], ["p"])
    with pytest.raises(TemplateError, match="0 payloads for 1 buttons"):
        spec.message(["1"], [])
    with pytest.raises(TemplateError, match="1038 characters; WhatsApp allows 1024"):
        spec.message(["x" * 1024], ["p"])


# --- template parameters (WhatsApp refuses line breaks, tabs, 5 spaces) ------------------------


@pytest.mark.parametrize("value", ["dos\nlíneas", "con\ttab", "cinco     espacios", "a\r\nb"])
def test_a_template_parameter_with_a_break_or_many_spaces_is_refused(value: str) -> None:
    with pytest.raises(OutboundError, match="template body parameter"):
        outbound.template("prueba", "es_MX", body_params=[value])


def test_template_param_makes_any_text_acceptable() -> None:
    value = outbound.template_param("  Calle 1\n\n  Col. Centro\t\tCP   06600     ")
    assert value == "Calle 1 · Col. Centro CP 06600"
    outbound.template("prueba", "es_MX", body_params=[value])
    outbound.template("prueba", "es_MX", body_params=["cuatro    espacios"])
