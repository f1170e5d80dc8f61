"""Outbound builders: exact Cloud API bodies, and refusal of anything WhatsApp would reject."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import (
    Button,
    OutboundError,
    Row,
    Section,
    envelope,
    list_message,
    location_request,
    mark_read,
    paginate,
    reply_buttons,
    template,
    text,
    validate,
)

MENU_ROWS = [
    Row("menu:catalog", "Ver catálogo", "Precios y productos de hoy"),
    Row("menu:order", "Hacer un pedido"),
    Row("menu:status", "Estado de pedido"),
    Row("menu:agent", "Hablar con un asesor"),
]
ORDER_BUTTONS = [
    Button("order:confirm", "Confirmar"),
    Button("order:edit", "Editar"),
    Button("order:cancel", "Cancelar"),
]


def _rows(count: int, prefix: str = "sku") -> list[Row]:
    return [Row(f"{prefix}:{i}", f"Producto {i}") for i in range(count)]


def _one_list(rows: list[Row]) -> dict[str, Any]:
    return list_message("Elige un producto", "Ver productos", [Section(None, rows)])


# --- Exact output -------------------------------------------------------------------------------


def test_text_exact() -> None:
    assert text("Hola, ¿qué te gustaría pedir hoy?") == {
        "type": "text",
        "text": {"preview_url": False, "body": "Hola, ¿qué te gustaría pedir hoy?"},
    }
    assert text("Nuestro menú: https://example.mx/menu", preview_url=True) == {
        "type": "text",
        "text": {"preview_url": True, "body": "Nuestro menú: https://example.mx/menu"},
    }


def test_main_menu_list_exact() -> None:
    message = list_message(
        "¡Hola! Bienvenido a Frutería La Huerta. ¿Qué te gustaría hacer?",
        "Ver opciones",
        [Section("Menú principal", MENU_ROWS)],
        header="Frutería La Huerta",
        footer="Escribe «menú» cuando quieras",
    )
    assert message == {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Frutería La Huerta"},
            "body": {"text": "¡Hola! Bienvenido a Frutería La Huerta. ¿Qué te gustaría hacer?"},
            "footer": {"text": "Escribe «menú» cuando quieras"},
            "action": {
                "button": "Ver opciones",
                "sections": [
                    {
                        "title": "Menú principal",
                        "rows": [
                            {
                                "id": "menu:catalog",
                                "title": "Ver catálogo",
                                "description": "Precios y productos de hoy",
                            },
                            {"id": "menu:order", "title": "Hacer un pedido"},
                            {"id": "menu:status", "title": "Estado de pedido"},
                            {"id": "menu:agent", "title": "Hablar con un asesor"},
                        ],
                    }
                ],
            },
        },
    }


def test_list_omits_absent_title_header_footer() -> None:
    message = list_message("Elige", "Ver", [Section(None, [Row("a", "Aguacate")])])
    assert message["interactive"] == {
        "type": "list",
        "body": {"text": "Elige"},
        "action": {"button": "Ver", "sections": [{"rows": [{"id": "a", "title": "Aguacate"}]}]},
    }


def test_reply_buttons_exact() -> None:
    message = reply_buttons(
        "Tu pedido: 2 kg de aguacate y 1 garrafón de 20 L. Total: $185.00",
        ORDER_BUTTONS,
        header="Resumen del pedido",
        footer="Frutería La Huerta",
    )
    assert message == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Resumen del pedido"},
            "body": {"text": "Tu pedido: 2 kg de aguacate y 1 garrafón de 20 L. Total: $185.00"},
            "footer": {"text": "Frutería La Huerta"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "order:confirm", "title": "Confirmar"}},
                    {"type": "reply", "reply": {"id": "order:edit", "title": "Editar"}},
                    {"type": "reply", "reply": {"id": "order:cancel", "title": "Cancelar"}},
                ]
            },
        },
    }


def test_reply_buttons_without_header_or_footer() -> None:
    interactive = reply_buttons("¿Confirmas?", [Button("si", "Sí")])["interactive"]
    assert "header" not in interactive
    assert "footer" not in interactive


def test_location_request_exact() -> None:
    assert location_request("Comparte tu ubicación para calcular el envío") == {
        "type": "interactive",
        "interactive": {
            "type": "location_request_message",
            "body": {"text": "Comparte tu ubicación para calcular el envío"},
            "action": {"name": "send_location"},
        },
    }


def test_order_ready_template_exact() -> None:
    message = template(
        "order_ready",
        "es_MX",
        body_params=["#1234", "Frutería La Huerta"],
        quick_reply_payloads=["ACK_1234", "HELP_1234"],
    )
    assert message == {
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "es_MX"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "#1234"},
                        {"type": "text", "text": "Frutería La Huerta"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "ACK_1234"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": "HELP_1234"}],
                },
            ],
        },
    }


def test_template_without_parameters_has_no_components() -> None:
    assert template("hello_world", "es") == {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "es"}},
    }


def test_mark_read_exact() -> None:
    assert mark_read("wamid.ABC") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.ABC",
    }
    assert mark_read("wamid.ABC", typing=True) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.ABC",
        "typing_indicator": {"type": "text"},
    }


def test_mark_read_refuses_blank_id() -> None:
    with pytest.raises(OutboundError):
        mark_read(" ")


# --- Limits: accepted at the limit, refused one character past it ---------------------------


def _section_title_case(value: str) -> dict[str, Any]:
    return list_message(
        "Elige", "Ver", [Section(value, [Row("a", "A")]), Section("B", [Row("b", "B")])]
    )


LIMIT_CASES: list[tuple[str, int, Callable[[str], object]]] = [
    ("text body", 4096, lambda v: text(v)),
    ("button message body", 1024, lambda v: reply_buttons(v, ORDER_BUTTONS)),
    ("button title", 20, lambda v: reply_buttons("¿Confirmas?", [Button("ok", v)])),
    ("button id", 256, lambda v: reply_buttons("¿Confirmas?", [Button(v, "Confirmar")])),
    ("button message header", 60, lambda v: reply_buttons("Hola", ORDER_BUTTONS, header=v)),
    ("button message footer", 60, lambda v: reply_buttons("Hola", ORDER_BUTTONS, footer=v)),
    ("list body", 1024, lambda v: list_message(v, "Ver", [Section(None, MENU_ROWS)])),
    ("list button label", 20, lambda v: list_message("Hola", v, [Section(None, MENU_ROWS)])),
    (
        "list header",
        60,
        lambda v: list_message("Hola", "Ver", [Section(None, MENU_ROWS)], header=v),
    ),
    (
        "list footer",
        60,
        lambda v: list_message("Hola", "Ver", [Section(None, MENU_ROWS)], footer=v),
    ),
    ("list row title", 24, lambda v: _one_list([Row("a", v)])),
    ("list row id", 200, lambda v: _one_list([Row(v, "Aguacate")])),
    ("list row description", 72, lambda v: _one_list([Row("a", "Aguacate", v)])),
    ("list section title", 24, _section_title_case),
    ("location request body", 1024, lambda v: location_request(v)),
    ("biz_opaque_callback_data", 512, lambda v: envelope(text("Hola"), to="+52", callback_data=v)),
]


@pytest.mark.parametrize(
    ("what", "limit", "build"), LIMIT_CASES, ids=[case[0] for case in LIMIT_CASES]
)
def test_limit_is_inclusive(what: str, limit: int, build: Callable[[str], object]) -> None:
    # "ñ" is two bytes in UTF-8: the limit counts characters, not bytes.
    build("ñ" * limit)
    with pytest.raises(OutboundError, match=f"^{what} .* is {limit + 1} characters; "):
        build("ñ" * (limit + 1))


def test_error_message_names_the_element_and_the_limit() -> None:
    with pytest.raises(OutboundError) as caught:
        _one_list([Row("sku:1", "Aguacate Hass maduro extra grande")])
    assert str(caught.value) == (
        "list row title 'Aguacate Hass maduro extra grande' is 33 characters; WhatsApp allows 24"
    )


def test_error_message_shortens_long_values() -> None:
    with pytest.raises(OutboundError) as caught:
        text("a" * 5000)
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 120
    assert message.endswith("is 5000 characters; WhatsApp allows 4096")


def test_template_name_limit() -> None:
    template("a" * 512, "es")
    with pytest.raises(OutboundError, match="template name"):
        template("a" * 513, "es")


BLANK_CASES: list[tuple[str, Callable[[str], object]]] = [
    ("text body", lambda v: text(v)),
    ("button message body", lambda v: reply_buttons(v, ORDER_BUTTONS)),
    ("button title", lambda v: reply_buttons("Hola", [Button("ok", v)])),
    ("button id", lambda v: reply_buttons("Hola", [Button(v, "Confirmar")])),
    ("list body", lambda v: list_message(v, "Ver", [Section(None, MENU_ROWS)])),
    ("list button label", lambda v: list_message("Hola", v, [Section(None, MENU_ROWS)])),
    ("list row title", lambda v: _one_list([Row("a", v)])),
    ("list row id", lambda v: _one_list([Row(v, "Aguacate")])),
    ("list section title", _section_title_case),
    ("location request body", lambda v: location_request(v)),
    ("list header", lambda v: list_message("Hola", "Ver", [Section(None, MENU_ROWS)], header=v)),
    ("template body parameter", lambda v: template("order_ready", "es_MX", body_params=[v])),
    (
        "template quick reply payload",
        lambda v: template("order_ready", "es_MX", quick_reply_payloads=[v]),
    ),
]


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
@pytest.mark.parametrize(("what", "build"), BLANK_CASES, ids=[case[0] for case in BLANK_CASES])
def test_blank_text_is_refused(what: str, build: Callable[[str], object], blank: str) -> None:
    with pytest.raises(OutboundError, match=f"^{what} .* is (empty|blank)"):
        build(blank)


# --- Counts and uniqueness -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 4])
def test_button_count_out_of_range_is_refused(count: int) -> None:
    buttons = [Button(f"b{i}", f"Opción {i}") for i in range(count)]
    with pytest.raises(
        OutboundError, match=f"reply buttons: {count} given; WhatsApp allows 1 to 3"
    ):
        reply_buttons("Elige", buttons)


@pytest.mark.parametrize("count", [1, 3])
def test_button_count_in_range_is_accepted(count: int) -> None:
    buttons = [Button(f"b{i}", f"Opción {i}") for i in range(count)]
    assert len(reply_buttons("Elige", buttons)["interactive"]["action"]["buttons"]) == count


def test_duplicate_button_ids_are_refused() -> None:
    with pytest.raises(OutboundError, match="button id 'ok' repeats 'ok'"):
        reply_buttons("Elige", [Button("ok", "Confirmar"), Button("ok", "Editar")])


def test_duplicate_button_titles_are_refused_ignoring_case() -> None:
    with pytest.raises(OutboundError, match="button title 'confirmar' repeats 'Confirmar'"):
        reply_buttons("Elige", [Button("a", "Confirmar"), Button("b", "confirmar")])


def test_duplicate_row_ids_across_sections_are_refused() -> None:
    sections = [
        Section("Frutas", [Row("sku:1", "Mango")]),
        Section("Verduras", [Row("sku:1", "Ejote")]),
    ]
    with pytest.raises(OutboundError, match="list row id 'sku:1' repeats"):
        list_message("Elige", "Ver", sections)


def test_eleven_rows_across_two_sections_are_refused() -> None:
    sections = [Section("Frutas", _rows(5, "fruta")), Section("Verduras", _rows(6, "verdura"))]
    with pytest.raises(OutboundError, match="list rows: 11 in total across all sections"):
        list_message("Elige", "Ver", sections)


def test_ten_rows_across_two_sections_are_accepted() -> None:
    sections = [Section("Frutas", _rows(5, "fruta")), Section("Verduras", _rows(5, "verdura"))]
    list_message("Elige", "Ver", sections)


def test_eleven_sections_are_refused() -> None:
    sections = [Section(f"S{i}", [Row(f"r{i}", "Fila")]) for i in range(11)]
    with pytest.raises(OutboundError, match="list sections: 11 given"):
        list_message("Elige", "Ver", sections)


def test_missing_section_title_with_two_sections_is_refused() -> None:
    sections = [Section("Frutas", [Row("a", "Mango")]), Section(None, [Row("b", "Ejote")])]
    with pytest.raises(OutboundError, match="list section 2 has no title"):
        list_message("Elige", "Ver", sections)


def test_untitled_single_section_is_accepted() -> None:
    list_message("Elige", "Ver", [Section(None, MENU_ROWS)])


def test_empty_section_and_no_sections_are_refused() -> None:
    with pytest.raises(OutboundError, match="list section 2 has no rows"):
        list_message("Elige", "Ver", [Section("Frutas", MENU_ROWS), Section("Vacía", [])])
    with pytest.raises(OutboundError, match="list sections: 0 given"):
        list_message("Elige", "Ver", [])


@pytest.mark.parametrize(
    "name", ["Order_Ready", "order-ready", "", "pedido listo", "order_ready\n"]
)
def test_bad_template_names_are_refused(name: str) -> None:
    with pytest.raises(OutboundError, match="template name"):
        template(name, "es_MX")


@pytest.mark.parametrize("code", ["es", "es_MX", "en_US", "pt_BR", "fil"])
def test_good_language_codes_are_accepted(code: str) -> None:
    template("order_ready", code)


@pytest.mark.parametrize("code", ["es-MX", "ES", "es_mx", "spanish", "", "es_MX\n"])
def test_bad_language_codes_are_refused(code: str) -> None:
    with pytest.raises(OutboundError, match="template language code"):
        template("order_ready", code)


def test_four_quick_replies_are_refused() -> None:
    template("order_ready", "es_MX", quick_reply_payloads=["a", "b", "c"])
    with pytest.raises(OutboundError, match="template quick reply index '3'"):
        template("order_ready", "es_MX", quick_reply_payloads=["a", "b", "c", "d"])


# --- Envelope ------------------------------------------------------------------------------------


def test_envelope_to_phone_adds_plus() -> None:
    assert envelope(text("Hola"), to="525512345678") == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+525512345678",
        "type": "text",
        "text": {"preview_url": False, "body": "Hola"},
    }


def test_envelope_to_phone_keeps_existing_plus() -> None:
    assert envelope(text("Hola"), to="+525512345678")["to"] == "+525512345678"


def test_envelope_to_recipient_bsuid() -> None:
    body = envelope(text("Hola"), recipient="US.13491208655302741918")
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient": "US.13491208655302741918",
        "type": "text",
        "text": {"preview_url": False, "body": "Hola"},
    }


def test_envelope_with_both_keeps_both() -> None:
    body = envelope(text("Hola"), to="525512345678", recipient="US.13491208655302741918")
    assert body["to"] == "+525512345678"
    assert body["recipient"] == "US.13491208655302741918"


def test_envelope_without_recipient_is_refused() -> None:
    with pytest.raises(OutboundError, match="no recipient"):
        envelope(text("Hola"))


def test_envelope_context_and_callback_data() -> None:
    body = envelope(
        text("¡Listo!"), to="+525512345678", reply_to="wamid.XYZ", callback_data="order:1234"
    )
    assert body["context"] == {"message_id": "wamid.XYZ"}
    assert body["biz_opaque_callback_data"] == "order:1234"


@pytest.mark.parametrize(
    "phone",
    ["+52 55 1234 5678", "52-55-1234-5678", "+", "", "++525512345678", "+５２５５", "+" + "1" * 16],
)
def test_envelope_refuses_malformed_phones(phone: str) -> None:
    with pytest.raises(OutboundError, match="recipient phone"):
        envelope(text("Hola"), to=phone)


def test_envelope_refuses_bsuid_with_spaces() -> None:
    with pytest.raises(OutboundError, match="recipient user id"):
        envelope(text("Hola"), recipient="US. 1349")


def test_envelope_refuses_an_already_enveloped_message() -> None:
    once = envelope(text("Hola"), to="+525512345678")
    with pytest.raises(OutboundError, match="already has"):
        envelope(once, to="+525512345678")


def test_envelope_validates_the_message() -> None:
    bad = {"type": "text", "text": {"body": "x" * 4097}}
    with pytest.raises(OutboundError, match="text body"):
        envelope(bad, to="+525512345678")


# --- Pagination ----------------------------------------------------------------------------------


def _walk(rows: list[Row], per_page: int = 10) -> list[list[Row]]:
    """Every page of `rows`, checking each is a valid list message with unique ids."""
    pages: list[list[Row]] = []
    has_more = True
    while has_more:
        page_rows, has_more = paginate(
            rows, len(pages), more_id=f"more:{len(pages) + 1}", per_page=per_page
        )
        assert 1 <= len(page_rows) <= per_page
        ids = [row.id for row in page_rows]
        assert len(set(ids)) == len(ids)
        assert (page_rows[-1].id == f"more:{len(pages) + 1}") is has_more
        if has_more:
            assert page_rows[-1].title == "Ver más"
        _one_list(page_rows)  # raises if WhatsApp would reject the page
        pages.append(page_rows)
        assert len(pages) <= len(rows)  # no endless walk
    return pages


def _items(pages: list[list[Row]]) -> list[Row]:
    return [row for page in pages for row in page if not row.id.startswith("more:")]


def test_paginate_zero_rows_is_refused() -> None:
    with pytest.raises(OutboundError, match="nothing to paginate"):
        paginate([], 0, more_id="more:1")


def test_paginate_ten_rows_fit_one_page() -> None:
    rows = _rows(10)
    assert paginate(rows, 0, more_id="more:1") == (rows, False)
    with pytest.raises(OutboundError, match="page 1 does not exist"):
        paginate(rows, 1, more_id="more:2")


def test_paginate_eleven_rows() -> None:
    rows = _rows(11)
    pages = _walk(rows)
    assert [len(page) for page in pages] == [10, 2]
    assert pages[0] == [*rows[:9], Row("more:1", "Ver más")]
    assert pages[1] == rows[9:]
    assert _items(pages) == rows


def test_paginate_twenty_five_rows() -> None:
    rows = _rows(25)
    pages = _walk(rows)
    assert [len(page) for page in pages] == [10, 10, 7]
    assert _items(pages) == rows
    with pytest.raises(OutboundError, match="page 3 does not exist"):
        paginate(rows, 3, more_id="more:4")


def test_paginate_custom_more_title() -> None:
    page_rows, has_more = paginate(_rows(12), 0, more_id="more:1", more_title="Siguientes")
    assert has_more
    assert page_rows[-1] == Row("more:1", "Siguientes")


def test_paginate_refuses_negative_page_and_bad_per_page() -> None:
    with pytest.raises(OutboundError, match="page -1 does not exist"):
        paginate(_rows(5), -1, more_id="more")
    for per_page in (1, 11):
        with pytest.raises(OutboundError, match="per_page"):
            paginate(_rows(5), 0, more_id="more", per_page=per_page)


def test_paginate_refuses_more_id_equal_to_a_row_id() -> None:
    with pytest.raises(OutboundError, match="more_id 'sku:3' is also a row id"):
        paginate(_rows(20), 0, more_id="sku:3")


def test_paginate_refuses_invalid_rows_on_the_page() -> None:
    rows = [*_rows(3), Row("sku:x", "Aguacate Hass maduro extra grande")]
    with pytest.raises(OutboundError, match="list row title"):
        paginate(rows, 0, more_id="more:1")


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=200), per_page=st.integers(min_value=2, max_value=10)
)
def test_paginate_yields_every_row_once_in_order(count: int, per_page: int) -> None:
    rows = _rows(count)
    pages = _walk(rows, per_page)
    assert _items(pages) == rows
    with pytest.raises(OutboundError):
        paginate(rows, len(pages), more_id="more:x", per_page=per_page)


# --- validate() on dicts built elsewhere ---------------------------------------------------------


def test_validate_catches_hand_built_over_limit_row() -> None:
    message = {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Elige"},
            "action": {
                "button": "Ver",
                "sections": [{"rows": [{"id": "a", "title": "Aguacate Hass maduro extra"}]}],
            },
        },
    }
    with pytest.raises(
        OutboundError, match=r"list row title .* is 26 characters; WhatsApp allows 24"
    ):
        validate(message)


def test_validate_catches_too_many_hand_built_buttons() -> None:
    message = reply_buttons("Elige", ORDER_BUTTONS)
    message["interactive"]["action"]["buttons"].append(
        {"type": "reply", "reply": {"id": "x", "title": "Otra"}}
    )
    with pytest.raises(OutboundError, match="reply buttons: 4 given"):
        validate(message)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "text"},
        {"type": "text", "text": {}},
        {"type": "text", "text": "Hola"},
        {"type": "text", "text": {"body": 42}},
        {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Hola"}}},
        {
            "type": "interactive",
            "interactive": {"type": "list", "body": {"text": "H"}, "action": {}},
        },
        {"type": "template", "template": {"name": "order_ready"}},
    ],
)
def test_validate_turns_malformed_dicts_into_outbound_errors(message: dict[str, Any]) -> None:
    with pytest.raises(OutboundError):
        validate(message)


def test_validate_refuses_media_header_on_a_list() -> None:
    message = list_message("Elige", "Ver", [Section(None, MENU_ROWS)])
    message["interactive"]["header"] = {"type": "image", "image": {"id": "123"}}
    with pytest.raises(OutboundError, match="list header type 'image'"):
        validate(message)


def test_validate_accepts_media_header_on_buttons() -> None:
    message = reply_buttons("Elige", ORDER_BUTTONS)
    message["interactive"]["header"] = {"type": "image", "image": {"id": "123"}}
    validate(message)


def test_validate_leaves_kinds_it_does_not_build_to_the_graph_api() -> None:
    """Reactions and call-to-action messages are not built here: validate neither refuses
    nor changes them, while the same slip in a kind it builds is refused."""
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}
    cta = {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": ""}}}
    for message in (reaction, cta, {"no": "type"}):
        before = json.dumps(message, sort_keys=True)
        validate(message)
        assert json.dumps(message, sort_keys=True) == before
    with pytest.raises(OutboundError, match="empty"):
        validate({"type": "interactive", "interactive": {"type": "button", "body": {"text": ""}}})


def test_validate_accepts_every_builder_output_after_a_json_round_trip() -> None:
    built = [
        text("Hola"),
        reply_buttons("Elige", ORDER_BUTTONS, header="Pedido", footer="Gracias"),
        list_message("Elige", "Ver", [Section("Menú", MENU_ROWS)], header="La Huerta"),
        location_request("Comparte tu ubicación"),
        template("order_ready", "es_MX", body_params=["#1"], quick_reply_payloads=["ACK"]),
        envelope(text("Hola"), to="+525512345678", reply_to="wamid.A", callback_data="c"),
    ]
    for message in built:
        validate(json.loads(json.dumps(message)))


@pytest.mark.parametrize(
    ("build", "limit"),
    [
        (lambda n: text("x" * n), outbound.TEXT_BODY_MAX),
        (lambda n: reply_buttons("x" * n, ORDER_BUTTONS), outbound.INTERACTIVE_BODY_MAX),
        (lambda n: reply_buttons("b", [Button("a", "x" * n)]), outbound.BUTTON_TITLE_MAX),
        (lambda n: list_message("b", "x" * n, [Section("s", MENU_ROWS)]), outbound.LIST_BUTTON_MAX),
        (
            lambda n: list_message("b", "v", [Section("s", [Row("r", "x" * n)])]),
            outbound.ROW_TITLE_MAX,
        ),
        (
            lambda n: list_message("b", "v", [Section("s", [Row(f"r{i}", "t") for i in range(n)])]),
            outbound.LIST_ROWS_MAX,
        ),
    ],
)
def test_each_limit_holds_exactly_at_its_value(build: Callable[[int], Any], limit: int) -> None:
    validate(build(limit))
    with pytest.raises(OutboundError):
        validate(build(limit + 1))
