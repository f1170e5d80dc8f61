"""A human handoff, the pure parts: what the engine asks for while a customer waits for a
person, what the admins and the customer read, and when a wait has lasted too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatcentral.conversation import handoff_views as views
from chatcentral.conversation.context import Context
from chatcentral.conversation.decision import decide
from chatcentral.conversation.effects import CloseHandoff, RelayToStaff
from chatcentral.conversation.events import LOCATION, MEDIA, REPLY, TEXT, Event
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.model import EXPIRED, MAIN_MENU
from chatcentral.conversation.staff import CloseHandoff as CloseCommand
from chatcentral.conversation.staff import ListHandoffs, read_command
from chatcentral.handoffs.timeouts import due
from chatcentral.notifications.templates import shipped_templates
from chatcentral.simulator.render import render
from chatcentral.whatsapp import outbound
from tests.support.engine_kit import conversation, facts, shop

TEXTS = effective(shipped_flow("grocery"), {})[1]
PHOTO = Event(
    MEDIA,
    text="¿Este sí lo tienen?",
    details={"type": "image", "media_id": "778899", "mime_type": "image/jpeg"},
)


def lines(message: dict[str, Any]) -> str:
    return "\n".join(render(message).lines)


# --- the engine --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        Event(TEXT, text="¿Tienen tortillas de harina?"),
        PHOTO,
        Event(LOCATION, details={"latitude": 19.4, "longitude": -99.1}),
        Event(REPLY, text="Ver catálogo", reply_id="menu:catalog"),
        Event(TEXT, text="asesor"),  # already with a person: news for them
    ],
)
def test_in_handoff_every_message_goes_to_the_staff_and_the_bot_stays_quiet(event: Event) -> None:
    convo = conversation("handoff")
    convo.handle(event)
    assert convo.state == "handoff" and convo.replies == []
    assert convo.effects == [RelayToStaff(event)]


def test_the_menu_button_or_word_leaves_the_handoff() -> None:
    for event in (Event(REPLY, reply_id=views.BACK_TO_MENU), Event(TEXT, text="Menú")):
        convo = conversation("handoff")
        convo.handle(event)
        assert convo.state == MAIN_MENU and convo.effects == [CloseHandoff()]


def test_keep_waiting_is_acknowledged_and_not_relayed() -> None:
    convo = conversation("handoff")
    convo.handle(Event(REPLY, text="Seguir esperando", reply_id=views.KEEP_WAITING))
    assert convo.state == "handoff" and convo.effects == []
    assert "seguimos esperando" in lines(convo.replies[0])


def test_a_long_wait_does_not_swallow_the_next_message() -> None:
    """An idle session comes back as `expired`; in a handoff the message still goes on."""
    context = Context(previous_state="handoff", previous=Context(misses=0))
    decision = decide(shop(), EXPIRED, context, Event(TEXT, text="¿Siguen ahí?"), facts())
    assert decision.state == "handoff" and decision.replies == []
    assert decision.effects == [RelayToStaff(Event(TEXT, text="¿Siguen ahí?"))]


# --- what the admins read ----------------------------------------------------------------


def test_a_text_is_relayed_under_the_customer_name_and_handoff_number() -> None:
    [relayed] = views.relay_messages(TEXTS, Event(TEXT, text="¿Tienen pan?"), "Ana López", 12)
    assert not relayed.media
    assert relayed.message == outbound.text("💬 *Ana López* · #12\n¿Tienen pan?")


def test_a_photo_is_relayed_as_a_photo_with_its_caption() -> None:
    [relayed] = views.relay_messages(TEXTS, PHOTO, "Ana López", 12)
    assert relayed.media
    assert relayed.message == {
        "type": "image",
        "image": {"id": "778899", "caption": "💬 *Ana López* · #12\n¿Este sí lo tienen?"},
    }


def test_a_document_keeps_its_name_and_audio_gets_its_header_before_it() -> None:
    document = Event(MEDIA, details={"type": "document", "media_id": "5", "filename": "lista.pdf"})
    [relayed] = views.relay_messages(TEXTS, document, "Ana", 3)
    assert relayed.message["document"] == {
        "id": "5",
        "filename": "lista.pdf",
        "caption": "💬 *Ana* · #3",
    }
    voice = Event(MEDIA, details={"type": "audio", "media_id": "6", "mime_type": "audio/ogg"})
    intro, audio = views.relay_messages(TEXTS, voice, "Ana", 3)
    assert not intro.media and lines(intro.message) == "💬 *Ana* · #3\n🎤 Audio"
    assert audio.media and audio.message == {"type": "audio", "audio": {"id": "6"}}


def test_a_pin_is_relayed_as_a_maps_link() -> None:
    pin = Event(
        LOCATION,
        details={"latitude": 19.42, "longitude": -99.16, "name": "Casa", "address": None},
    )
    [relayed] = views.relay_messages(TEXTS, pin, "Ana", 3)
    assert relayed.message["text"]["preview_url"] is True
    body = relayed.message["text"]["body"]
    assert "Compartió su ubicación\nCasa\nhttps://maps.google.com/?q=19.42,-99.16" in body


def test_relayed_messages_stay_within_whatsapp_limits() -> None:
    long_text = "a" * 5000
    [text] = views.relay_messages(TEXTS, Event(TEXT, text=long_text), "Ana", 1)
    assert len(text.message["text"]["body"]) == outbound.TEXT_BODY_MAX
    photo = Event(MEDIA, text="b" * 3000, details={"type": "image", "media_id": "1"})
    [media] = views.relay_messages(TEXTS, photo, "Ana", 1)
    assert len(media.message["image"]["caption"]) == views.CAPTION_MAX


def test_the_template_parameters_are_single_lines_whatsapp_accepts() -> None:
    summary = "Hola\n\nnecesito   \t  esto:     ya" + "x" * 600
    params = views.waiting_params("Ana\nLópez", 12, summary)
    assert params[0] == "Ana · López" and params[1] == "12"
    assert "\n" not in params[2] and "\t" not in params[2] and "     " not in params[2]
    assert len(params[2]) == views.TEMPLATE_PARAM_MAX
    assert views.template_param("  \n ") == "—"
    spec = shipped_templates()["cliente_espera"]
    message = spec.message(params, views.waiting_payloads(12))
    outbound.validate(message)
    assert len(spec.render(params)) <= outbound.TEMPLATE_BODY_MAX


def test_the_admins_buttons_are_commands_the_admin_side_reads() -> None:
    opened = views.opened_message(TEXTS, "Ana López", 12, "525512345678")
    assert "https://wa.me/525512345678" in lines(opened)
    [button] = render(opened).options
    assert read_command(Event(REPLY, reply_id=button.reply_id)) == CloseCommand(12)
    see, close = views.waiting_payloads(12)
    assert read_command(Event(REPLY, reply_id=see)) == ListHandoffs()
    assert read_command(Event(REPLY, reply_id=close)) == CloseCommand(12)


def test_open_handoffs_list_says_who_waits_since_when_and_who_took_it() -> None:
    now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    tz = UTC
    assert lines(views.handoffs_list(TEXTS, [], tz, now)) == "No hay conversaciones abiertas. 🎉"
    briefs = [
        views.HandoffBrief(4, "Ana", "52155", now, now - timedelta(minutes=5), None),
        views.HandoffBrief(3, "Luis", None, now - timedelta(days=1), None, "Marta"),
    ]
    shown = lines(views.handoffs_list(TEXTS, briefs, tz, now))
    assert "#4 *Ana* — espera respuesta desde las 16:55" in shown
    assert "#3 *Luis* — abierta desde las 23/11 17:00 (la atiende Marta)" in shown


# --- what the customer reads -------------------------------------------------------------


def test_the_customer_is_offered_the_menu_when_closed_or_nobody_answered() -> None:
    ended = views.ended_message(TEXTS, "Abarrotes Doña Mary")
    assert "Terminó tu conversación con *Abarrotes Doña Mary*" in lines(ended)
    assert [o.reply_id for o in render(ended).options] == [views.BACK_TO_MENU]
    timeout = views.timeout_message(TEXTS, "Abarrotes Doña Mary")
    assert "Nadie ha podido responderte todavía" in lines(timeout)
    assert [o.reply_id for o in render(timeout).options] == [
        views.BACK_TO_MENU,
        views.KEEP_WAITING,
    ]


# --- the timeout's clock -----------------------------------------------------------------


def test_the_timeout_counts_business_hours_only() -> None:
    grocery = shop()  # Monday to Saturday 09:00–18:00, Mexico City
    friday_1755 = datetime(2026, 11, 27, 23, 55, tzinfo=UTC)
    assert not due(grocery, friday_1755, friday_1755 + timedelta(minutes=9), 10)
    # 18:30 on Friday: 35 minutes later, only 5 of them open, and the shop is closed.
    assert not due(grocery, friday_1755, friday_1755 + timedelta(minutes=35), 10)
    saturday_0904 = datetime(2026, 11, 28, 15, 4, tzinfo=UTC)
    assert not due(grocery, friday_1755, saturday_0904, 10)  # 5 + 4 minutes
    assert due(grocery, friday_1755, saturday_0904 + timedelta(minutes=1), 10)


def test_a_shop_without_hours_counts_every_minute() -> None:
    always = shop()
    always = type(always)(**{**always.__dict__, "business_hours": {}})
    sunday_night = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert not due(always, sunday_night, sunday_night + timedelta(minutes=9), 10)
    assert due(always, sunday_night, sunday_night + timedelta(minutes=10), 10)
