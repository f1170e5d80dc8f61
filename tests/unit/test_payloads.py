"""Webhook payload models: real shapes parse, unknown shapes pass through, bad parts are named.

Payloads here are written from the shapes in whatsapp-cloud-api.md (sections 3 to 5).
"""

from __future__ import annotations

import contextlib
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatcentral.whatsapp.payloads import (
    Contact,
    InboundMessage,
    InvalidChange,
    InvalidEnvelope,
    InvalidItem,
    Media,
    MessagesValue,
    StatusUpdate,
    WebhookEnvelope,
    contact_for,
    parse_envelope,
    parse_message,
    parse_messages_value,
    parse_status,
)

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"
BSUID = "US.13491208655302741918"
CONTACT: dict[str, Any] = {
    "profile": {"name": "Sheena Nelson"},
    "wa_id": CUSTOMER,
    "user_id": BSUID,
    "parent_user_id": "US.ENT.11815799212886844830",
}


def _message(type_: str, body: Any = None, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": CUSTOMER,
        "id": f"wamid.{type_}",
        "timestamp": "1749416383",
        "type": type_,
    }
    if body is not None:
        message[type_] = body
    message.update(fields)
    return message


def _status(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "wamid.outbound",
        "status": status,
        "timestamp": "1750030073",
        "recipient_id": CUSTOMER,
        **fields,
    }


def _value(**fields: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [CONTACT],
        **fields,
    }


def _body(*changes: dict[str, Any], entry_id: Any = WABA_ID) -> bytes:
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": entry_id, "changes": list(changes)}],
    }
    return json.dumps(envelope).encode()


def _messages_change(**fields: Any) -> dict[str, Any]:
    return {"field": "messages", "value": _value(**fields)}


def _only_message(raw: dict[str, Any]) -> tuple[MessagesValue, InboundMessage]:
    """Send one message through every layer, as the webhook handler will."""
    envelope = parse_envelope(_body(_messages_change(messages=[raw])))
    value = parse_messages_value(envelope.entry[0].changes[0].value)
    assert len(value.messages) == 1
    return value, parse_message(value.messages[0])


def _only_status(raw: dict[str, Any]) -> StatusUpdate:
    envelope = parse_envelope(_body(_messages_change(statuses=[raw])))
    value = parse_messages_value(envelope.entry[0].changes[0].value)
    assert len(value.statuses) == 1
    return parse_status(value.statuses[0])


# --- Envelope -------------------------------------------------------------------------------


def test_text_message_through_every_layer() -> None:
    envelope = parse_envelope(_body(_messages_change(messages=[_message("text", {"body": "Hi"})])))

    assert isinstance(envelope, WebhookEnvelope)
    assert envelope.object == "whatsapp_business_account"
    entry = envelope.entry[0]
    assert entry.id == WABA_ID
    assert entry.changes[0].field == "messages"
    value = parse_messages_value(entry.changes[0].value)
    assert value.messaging_product == "whatsapp"
    assert value.metadata.phone_number_id == PHONE_NUMBER_ID
    assert value.metadata.display_phone_number == "15550783881"
    message = parse_message(value.messages[0])
    assert message.id == "wamid.text"
    assert message.type == "text"
    assert message.timestamp == 1749416383
    assert isinstance(message.timestamp, int)
    assert message.from_ == CUSTOMER
    assert message.text is not None and message.text.body == "Hi"
    assert message.text_body == "Hi"
    assert message.reply_id is None
    assert message.media is None
    assert message.context is None
    assert message.errors == []
    contact = contact_for(value, message)
    assert contact is not None
    assert contact.name == "Sheena Nelson"
    assert contact.user_id == BSUID
    assert contact.parent_user_id == "US.ENT.11815799212886844830"


def test_numeric_ids_become_strings() -> None:
    value = _value()
    value["metadata"] = {"display_phone_number": 15550783881, "phone_number_id": 106540352242922}
    envelope = parse_envelope(
        _body({"field": "messages", "value": value}, entry_id=102290129340398)
    )

    assert envelope.entry[0].id == WABA_ID
    metadata = parse_messages_value(envelope.entry[0].changes[0].value).metadata
    assert metadata.phone_number_id == PHONE_NUMBER_ID
    assert metadata.display_phone_number == "15550783881"


def test_other_webhook_fields_pass_through_raw() -> None:
    account_update = {
        "field": "account_update",
        "value": {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SPAM"}},
    }
    template = {
        "field": "message_template_status_update",
        "value": {"event": "APPROVED", "message_template_id": 123, "reason": None},
    }
    envelope = parse_envelope(_body(account_update, template))

    changes = envelope.entry[0].changes
    assert [change.field for change in changes] == [
        "account_update",
        "message_template_status_update",
    ]
    assert changes[0].value == account_update["value"]
    assert changes[1].value["message_template_id"] == 123


def test_unknown_keys_are_kept_at_every_level() -> None:
    raw = _message("text", {"body": "hi", "lang": "en"}, future_flag=True)
    value = _value(messages=[raw], new_block={"x": 1})
    value["metadata"]["region"] = "EU"
    envelope_dict = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "time": 1, "changes": [{"field": "messages", "value": value}]}],
        "trace": "abc",
    }
    envelope = parse_envelope(json.dumps(envelope_dict).encode())

    assert envelope.model_extra == {"trace": "abc"}
    assert envelope.entry[0].model_extra == {"time": 1}
    parsed = parse_messages_value(envelope.entry[0].changes[0].value)
    assert parsed.model_extra == {"new_block": {"x": 1}}
    assert parsed.metadata.model_extra == {"region": "EU"}
    message = parse_message(parsed.messages[0])
    assert message.model_extra == {"future_flag": True}
    assert message.text is not None and message.text.model_extra == {"lang": "en"}


def test_unknown_future_message_type_parses_and_keeps_its_body() -> None:
    body = {"question": "Lunch?", "options": ["yes", "no"]}
    _, message = _only_message(_message("poll_creation", body, brand_new_field={"a": [1, 2]}))

    assert message.type == "poll_creation"
    assert message.model_extra == {"poll_creation": body, "brand_new_field": {"a": [1, 2]}}
    assert message.text_body is None
    assert message.reply_id is None
    assert message.media is None


# --- Message types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interactive", "reply_id", "title", "description"),
    [
        (
            {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}},
            "cancel-button",
            "Cancel",
            None,
        ),
        (
            {
                "type": "list_reply",
                "list_reply": {
                    "id": "priority_express",
                    "title": "Priority Mail Express",
                    "description": "Next Day to 2 Days",
                },
            },
            "priority_express",
            "Priority Mail Express",
            "Next Day to 2 Days",
        ),
        (
            {"type": "list_reply", "list_reply": {"id": "row-2", "title": "Apples"}},
            "row-2",
            "Apples",
            None,
        ),
    ],
)
def test_interactive_replies(
    interactive: dict[str, Any], reply_id: str, title: str, description: str | None
) -> None:
    context = {"from": "15550783881", "id": "wamid.menu"}
    _, message = _only_message(_message("interactive", interactive, context=context))

    assert message.interactive is not None
    assert message.interactive.type == interactive["type"]
    assert message.reply_id == reply_id
    assert message.text_body == title
    reply = message.interactive.button_reply or message.interactive.list_reply
    assert reply is not None and reply.description == description
    assert message.context is not None
    assert message.context.from_ == "15550783881"
    assert message.context.id == "wamid.menu"


def test_flow_reply_keeps_nfm_reply_raw() -> None:
    nfm = {"response_json": '{"flow_token": "t-1", "qty": "2"}', "body": "Sent", "name": "flow"}
    _, message = _only_message(_message("interactive", {"type": "nfm_reply", "nfm_reply": nfm}))

    assert message.interactive is not None and message.interactive.nfm_reply == nfm
    assert message.reply_id is None
    assert message.text_body is None


def test_interactive_without_body_and_change_level_errors() -> None:
    error = {
        "code": 131000,
        "title": "Something went wrong",
        "message": "Something went wrong",
        "error_data": {"details": "Unsupported webhook payload"},
    }
    raw = _message("interactive", context={"from": "15550783881", "id": "wamid.menu"})
    body = _body(_messages_change(messages=[raw], errors=[error]))
    value = parse_messages_value(parse_envelope(body).entry[0].changes[0].value)

    assert [e.code for e in value.errors] == [131000]
    assert value.errors[0].error_data == {"details": "Unsupported webhook payload"}
    assert value.errors[0].href is None
    message = parse_message(value.messages[0])
    assert message.interactive is None
    assert message.reply_id is None


def test_template_quick_reply_button() -> None:
    button = {"payload": "Unsubscribe", "text": "Stop promotions"}
    context = {"from": "15550783881", "id": "wamid.template"}
    _, message = _only_message(_message("button", button, context=context))

    assert message.button is not None and message.button.payload == "Unsubscribe"
    assert message.reply_id == "Unsubscribe"
    assert message.text_body == "Stop promotions"
    assert message.context is not None and message.context.id == "wamid.template"


def test_location_with_place_details() -> None:
    location = {
        "latitude": 37.44221496582,
        "longitude": -122.16165924072,
        "name": "Philz Coffee",
        "address": "101 Forest Ave, Palo Alto, CA 94301",
        "url": "https://philzcoffee.com/",
    }
    _, message = _only_message(_message("location", location))

    assert message.location is not None
    assert message.location.latitude == pytest.approx(37.44221496582)
    assert message.location.longitude == pytest.approx(-122.16165924072)
    assert message.location.name == "Philz Coffee"
    assert message.location.address == "101 Forest Ave, Palo Alto, CA 94301"
    assert message.location.url == "https://philzcoffee.com/"


def test_location_with_coordinates_only() -> None:
    _, message = _only_message(_message("location", {"latitude": 12, "longitude": 43.90539}))

    assert message.location is not None
    assert message.location.latitude == 12.0
    assert isinstance(message.location.latitude, float)
    assert (message.location.name, message.location.address, message.location.url) == (
        None,
        None,
        None,
    )


def test_image_with_sha256_and_url() -> None:
    image = {
        "caption": "Taj Mahal",
        "mime_type": "image/jpeg",
        "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=",
        "id": "1003383421387256",
        "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256",
    }
    _, message = _only_message(_message("image", image))

    media = message.media
    assert isinstance(media, Media)
    assert media is message.image
    assert media.id == "1003383421387256"
    assert media.sha256 == "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="
    assert media.url is not None and media.url.startswith("https://lookaside.fbsbx.com/")
    assert media.caption == "Taj Mahal"
    assert message.text_body is None


@pytest.mark.parametrize(
    ("type_", "body", "attribute", "expected"),
    [
        ("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "1", "voice": True}, "voice", True),
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "id": "2", "voice": False},
            "voice",
            False,
        ),
        ("video", {"mime_type": "video/mp4", "id": "3", "caption": "look"}, "caption", "look"),
        (
            "document",
            {"mime_type": "application/pdf", "id": "4", "filename": "menu.pdf"},
            "filename",
            "menu.pdf",
        ),
        ("sticker", {"mime_type": "image/webp", "id": "5", "animated": True}, "animated", True),
    ],
)
def test_media_kinds(type_: str, body: dict[str, Any], attribute: str, expected: Any) -> None:
    _, message = _only_message(_message(type_, body))

    assert message.media is getattr(message, type_)
    assert message.media is not None
    assert message.media.id == body["id"]
    assert getattr(message.media, attribute) == expected


@pytest.mark.parametrize(
    ("reaction", "emoji"),
    [
        ({"message_id": "wamid.ours", "emoji": "\U0001f44d"}, "\U0001f44d"),
        ({"message_id": "wamid.ours", "emoji": ""}, ""),
        ({"message_id": "wamid.ours"}, None),
    ],
    ids=["reaction", "unreaction-empty", "unreaction-missing"],
)
def test_reactions(reaction: dict[str, Any], emoji: str | None) -> None:
    _, message = _only_message(_message("reaction", reaction))

    assert message.reaction is not None
    assert message.reaction.message_id == "wamid.ours"
    assert message.reaction.emoji == emoji


def test_order_prices_are_decimals() -> None:
    order = {
        "catalog_id": "194836987003835",
        "text": "Love these!",
        "product_items": [
            {
                "product_retailer_id": "di9ozbzfi4",
                "quantity": 2,
                "item_price": 30,
                "currency": "USD",
            },
            {
                "product_retailer_id": "nqryix03ez",
                "quantity": 3,
                "item_price": 7.99,
                "currency": "USD",
            },
        ],
    }
    _, message = _only_message(_message("order", order))

    assert message.order is not None
    assert message.order.catalog_id == "194836987003835"
    assert message.order.text == "Love these!"
    items = message.order.product_items
    assert [item.product_retailer_id for item in items] == ["di9ozbzfi4", "nqryix03ez"]
    assert all(isinstance(item.item_price, Decimal) for item in items)
    assert items[0].item_price == Decimal("30")
    assert items[1].item_price == Decimal("7.99")
    assert [item.quantity for item in items] == [2, 3]
    # Exact cents: with floats 3 * 7.99 would be 23.970000000000002.
    assert sum(item.item_price * item.quantity for item in items) == Decimal("83.97")


def test_shared_contacts_stay_raw() -> None:
    shared = [
        {
            "name": {
                "first_name": "Chandler",
                "last_name": "Bing",
                "formatted_name": "Chandler Bing",
            },
            "phones": [{"phone": "+1 555-555-5555", "wa_id": "15555555555", "type": "CELL"}],
            "origin": "contact_request",
        }
    ]
    _, message = _only_message(_message("contacts", shared))

    assert message.contacts == shared


def test_system_message() -> None:
    system = {
        "body": "User A changed from 16505551234 to 16505550000",
        "wa_id": "16505550000",
        "type": "user_changed_number",
    }
    _, message = _only_message(_message("system", system))

    assert message.system == system
    assert message.text_body is None


def test_unsupported_message_carries_its_errors() -> None:
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    _, message = _only_message(_message("unsupported", {"type": "edit"}, errors=errors))

    assert message.unsupported == {"type": "edit"}
    assert len(message.errors) == 1
    assert message.errors[0].code == 131051
    assert message.errors[0].title == "Message type unknown"
    assert message.errors[0].error_data == {"details": "Message type is currently not supported."}


@pytest.mark.parametrize(
    ("context", "forwarded", "frequently"),
    [({"forwarded": True}, True, None), ({"frequently_forwarded": True}, None, True)],
)
def test_forwarded_context(context: dict[str, Any], forwarded: bool, frequently: bool) -> None:
    _, message = _only_message(_message("text", {"body": "fwd"}, context=context))

    assert message.context is not None
    assert message.context.forwarded is forwarded
    assert message.context.frequently_forwarded is frequently
    assert message.context.id is None


def test_referral_and_referred_product_stay_raw() -> None:
    referral = {"source_type": "ad", "source_id": "ADID", "ctwa_clid": "CLID"}
    context = {
        "from": "15550783881",
        "id": "wamid.product",
        "referred_product": {"catalog_id": "1", "product_retailer_id": "apples-1kg"},
    }
    _, message = _only_message(
        _message("text", {"body": "Is this fresh?"}, referral=referral, context=context)
    )

    assert message.referral == referral
    assert message.context is not None
    assert message.context.referred_product == context["referred_product"]


# --- Identity -------------------------------------------------------------------------------


def test_username_user_without_from_is_matched_by_bsuid() -> None:
    other = {"profile": {"name": "Someone Else"}, "wa_id": "447700900123", "user_id": "GB.999"}
    username_user = {"profile": {"name": "Ada"}, "user_id": BSUID}
    raw = _message("text", {"body": "hello"}, from_user_id=BSUID)
    del raw["from"]
    value = parse_messages_value(_value(contacts=[other, username_user], messages=[raw]))
    message = parse_message(value.messages[0])

    assert message.from_ is None
    assert message.from_user_id == BSUID
    contact = contact_for(value, message)
    assert contact is not None and contact.name == "Ada"
    assert contact.wa_id is None


def test_contact_matched_by_wa_id_among_several() -> None:
    first = {"profile": {"name": "First"}, "wa_id": "111"}
    second = {"profile": {"name": "Second"}, "wa_id": "222"}
    value = parse_messages_value(_value(contacts=[first, second]))
    message = parse_message(_message("text", {"body": "x"}, **{"from": "222"}))

    contact = contact_for(value, message)
    assert contact is not None and contact.name == "Second"


def test_lone_contact_is_the_sender_even_when_ids_differ() -> None:
    value = parse_messages_value(_value(contacts=[{"wa_id": "111"}]))
    message = parse_message(_message("text", {"body": "x"}, **{"from": "999"}))

    assert contact_for(value, message) == Contact(wa_id="111")


def test_no_contact_when_several_and_none_match() -> None:
    value = parse_messages_value(_value(contacts=[{"wa_id": "111"}, {"wa_id": "222"}]))
    message = parse_message(_message("text", {"body": "x"}, **{"from": "999"}))

    assert contact_for(value, message) is None
    assert contact_for(parse_messages_value(_value(contacts=[])), message) is None


def test_missing_ids_never_match_each_other() -> None:
    # A contact without wa_id must not be taken as the sender of a message without `from`.
    value = parse_messages_value(_value(contacts=[{"user_id": "US.1"}, {"user_id": "US.2"}]))
    raw = _message("text", {"body": "x"}, from_user_id="US.3")
    del raw["from"]

    assert contact_for(value, parse_message(raw)) is None


# --- Statuses -------------------------------------------------------------------------------


def test_sent_status_with_pricing_and_callback_data() -> None:
    pricing = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    conversation = {"id": "c1", "expiration_timestamp": "1750116480", "origin": {"type": "utility"}}
    status = _only_status(
        _status(
            "sent",
            pricing=pricing,
            conversation=conversation,
            biz_opaque_callback_data="order:42",
        )
    )

    assert status.id == "wamid.outbound"
    assert status.status == "sent"
    assert status.timestamp == 1750030073
    assert status.recipient_id == CUSTOMER
    assert status.pricing == pricing
    assert status.conversation == conversation
    assert status.biz_opaque_callback_data == "order:42"
    assert status.error_code is None


@pytest.mark.parametrize("name", ["delivered", "read", "played", "some_future_status"])
def test_other_statuses_are_plain_strings(name: str) -> None:
    status = _only_status(_status(name))

    assert status.status == name
    assert status.errors == []
    assert status.pricing is None


def test_failed_status_exposes_its_error_code() -> None:
    error = {
        "code": 131049,
        "title": "This message was not delivered to maintain healthy ecosystem engagement.",
        "message": "This message was not delivered to maintain healthy ecosystem engagement.",
        "error_data": {"details": "In order to maintain a healthy ecosystem engagement..."},
        "href": "/documentation/business-messaging/whatsapp/support/error-codes",
    }
    status = _only_status(_status("failed", errors=[error, {"code": 1}]))

    assert status.error_code == 131049
    assert status.errors[0].href == error["href"]
    assert status.errors[0].error_data == error["error_data"]


def test_status_sent_to_a_bsuid_has_no_recipient_id() -> None:
    raw = _status("delivered", recipient_user_id=BSUID)
    del raw["recipient_id"]
    status = _only_status(raw)

    assert status.recipient_id is None
    assert status.recipient_user_id == BSUID


# --- Malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(_body(_messages_change())[:-7], id="truncated"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"whatsapp_business_account"', id="string"),
        pytest.param(b'{"object": "page", "entry": []}', id="wrong-object"),
        pytest.param(b'{"entry": []}', id="object-missing"),
        pytest.param(b'{"object": "whatsapp_business_account"}', id="entry-missing"),
        pytest.param(b'{"object": "whatsapp_business_account", "entry": {}}', id="entry-not-list"),
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [1]}', id="entry-not-object"
        ),
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1"}]}', id="no-changes"
        ),
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": {}}]}',
            id="changes-not-list",
        ),
        pytest.param(_body({"field": "messages"}), id="change-without-value"),
        pytest.param(_body({"field": "messages", "value": []}), id="value-not-object"),
        pytest.param(_body({"value": {}}), id="change-without-field"),
        pytest.param(_body({"field": 7, "value": {}}), id="field-not-string"),
        pytest.param(_body({"field": "messages", "value": {}}, entry_id=None), id="entry-id-null"),
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [], "x": NaN}', id="nan-literal"
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="absurd-nesting"),
    ],
)
def test_malformed_bodies_raise_invalid_envelope(body: bytes) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        parse_envelope(body)

    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert message and "\n" not in message


def test_empty_entry_list_is_a_valid_envelope() -> None:
    envelope = parse_envelope(b'{"object": "whatsapp_business_account", "entry": []}')

    assert envelope.entry == []


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(None, id="metadata-missing"),
        pytest.param({"display_phone_number": "15550783881"}, id="phone-number-id-missing"),
        pytest.param({"phone_number_id": None}, id="null"),
        pytest.param({"phone_number_id": ["1"]}, id="list"),
        pytest.param({"phone_number_id": True}, id="bool"),
        pytest.param({"phone_number_id": 1.0654e14}, id="float-lost-digits"),
    ],
)
def test_unroutable_messages_value_raises_invalid_change(metadata: dict[str, Any] | None) -> None:
    value = _value(messages=[_message("text", {"body": "hi"})])
    if metadata is None:
        del value["metadata"]
    else:
        value["metadata"] = metadata

    with pytest.raises(InvalidChange) as caught:
        parse_messages_value(value)
    assert "metadata" in str(caught.value)
    assert "\n" not in str(caught.value)


def _without(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != key}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_without(_message("text", {"body": "hi"}), "id"), id="missing-id"),
        pytest.param(_without(_message("text", {"body": "hi"}), "type"), id="missing-type"),
        pytest.param(_without(_message("text", {"body": "hi"}), "timestamp"), id="no-timestamp"),
        pytest.param(_message("text", "hi"), id="text-as-string"),
        pytest.param(_message("text", {"body": None}), id="text-body-null"),
        pytest.param(_message("text", {"body": "hi"}, type=3), id="type-not-string"),
        pytest.param(_message("text", {"body": "hi"}, timestamp="yesterday"), id="bad-timestamp"),
        pytest.param(_message("text", {"body": "hi"}, timestamp="17.5"), id="fraction-timestamp"),
        pytest.param(_message("text", {"body": "hi"}, timestamp=True), id="bool-timestamp"),
        pytest.param(
            _message("location", {"latitude": "north", "longitude": 1.0}), id="latitude-not-number"
        ),
        pytest.param(_message("location", {"longitude": 1.0}), id="latitude-missing"),
        pytest.param(
            _message("interactive", {"type": "button_reply", "button_reply": {"title": "Yes"}}),
            id="reply-without-id",
        ),
        pytest.param(
            _message(
                "order",
                {
                    "product_items": [
                        {
                            "product_retailer_id": "a",
                            "quantity": 1,
                            "item_price": "abc",
                            "currency": "USD",
                        }
                    ]
                },
            ),
            id="price-not-number",
        ),
        pytest.param(_message("image", ["not", "an", "object"]), id="image-as-list"),
        pytest.param(
            _message("text", {"body": "hi"}, errors=[{"title": "no code"}]), id="error-no-code"
        ),
    ],
)
def test_malformed_messages_raise_invalid_item(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidItem) as caught:
        parse_message(raw)

    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_without(_status("sent"), "id"), id="missing-id"),
        pytest.param(_without(_status("sent"), "status"), id="missing-status"),
        pytest.param(_status("sent", timestamp="soon"), id="bad-timestamp"),
        pytest.param(_status("failed", errors="boom"), id="errors-not-list"),
    ],
)
def test_malformed_statuses_raise_invalid_item(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidItem):
        parse_status(raw)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        pytest.param("timestamp", "1000000000000", "timestamp", id="year-33658"),
        pytest.param("timestamp", "-99999999999", "timestamp", id="before-1970"),
        pytest.param("errors", [{"code": 2**40}], "errors.0.code", id="code-over-32-bits"),
        pytest.param("errors", [{"code": -(2**31) - 1}], "errors.0.code", id="code-under-32-bits"),
        pytest.param("id", "w" * 9000, "id", id="9000-char-id"),
        pytest.param("status", "s" * 9000, "status", id="9000-char-status"),
    ],
)
def test_statuses_postgres_could_not_store_raise_invalid_item(
    field: str, value: Any, named: str
) -> None:
    with pytest.raises(InvalidItem, match=rf"^{named}:"):
        parse_status({**_status("failed"), field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "0"),
        ("timestamp", "253402300799"),  # 9999-12-31T23:59:59Z: datetime's last second
        ("errors", [{"code": 2**31 - 1}]),
        ("id", "w" * 512),
    ],
)
def test_statuses_at_the_limits_are_read(field: str, value: Any) -> None:
    assert parse_status({**_status("sent"), field: value}).status == "sent"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_message("text", {"body": "hi"}, timestamp="1000000000000"), id="far-future"),
        pytest.param(_message("text", {"body": "hi"}, timestamp="-1"), id="before-1970"),
        pytest.param(_message("text", {"body": "hi"}, id="w" * 9000), id="9000-char-wamid"),
        pytest.param(
            _message("text", {"body": "hi"}, **{"from": "5" * 9000}), id="9000-digit-from"
        ),
    ],
)
def test_messages_postgres_could_not_store_raise_invalid_item(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidItem):
        parse_message(raw)


def test_nul_and_lone_surrogates_become_replacement_characters_in_values_and_keys() -> None:
    body = _body(
        {
            "field": "account_update",
            "value": {"a\udfffb": ["x\ud800", "n\x00ul"], "pair": "\U0001f600", "ok": "\u00e1"},
        }
    )
    value = parse_envelope(body).entry[0].changes[0].value

    assert value == {"a\ufffdb": ["x\ufffd", "n\ufffdul"], "pair": "\U0001f600", "ok": "\u00e1"}


def test_a_number_too_large_for_a_float_is_kept_as_its_text() -> None:
    envelope = parse_envelope(b'{"object": "whatsapp_business_account", "entry": [], "x": -1e400}')

    assert envelope.model_extra == {"x": "-1e400"}


# Characters that make escapes tricky: backslashes, the letters of \uXXXX, surrogates, NUL.
_tricky_text = st.text(
    st.sampled_from(["\\", "u", "d", "D", "8", "c", "0", "a", "\ud800", "\udc00", "\x00"])
    | st.characters(),
    max_size=12,
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(_tricky_text, max_size=4), st.booleans())
@example(["\\ud800\udc00"], False)  # a lone low surrogate after text that looks like a high one
@example(["\ud83d\ude00\ud83d"], True)  # a pair, then a lone high
def test_parsed_text_is_always_storable_and_otherwise_untouched(
    texts: list[str], upper: bool
) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [], "texts": texts}).encode()
    if upper:  # JSON allows \uD800 as well as \ud800
        body = re.sub(rb"\\u[0-9a-f]{4}", lambda m: b"\\u" + m.group()[2:].upper(), body)
    sent = json.loads(body)["texts"]
    extra = parse_envelope(body).model_extra

    assert extra is not None
    assert extra["texts"] == [re.sub("[\x00\ud800-\udfff]", "\ufffd", text) for text in sent]


def test_invalid_item_names_the_bad_field() -> None:
    with pytest.raises(InvalidItem, match=r"location\.latitude"):
        parse_message(_message("location", {"latitude": "north", "longitude": 1.0}))


# --- Batches --------------------------------------------------------------------------------


def _walk(body: bytes) -> dict[str, list[Any]]:
    """Read every entry, change and item, recording what could not be read, like the handler."""
    seen: dict[str, list[Any]] = {
        "messages": [],
        "statuses": [],
        "bad_items": [],
        "bad_changes": [],
        "other_fields": [],
    }
    for entry in parse_envelope(body).entry:
        for change in entry.changes:
            if change.field != "messages":
                seen["other_fields"].append(change.field)
                continue
            try:
                value = parse_messages_value(change.value)
            except InvalidChange:
                seen["bad_changes"].append(change.value)
                continue
            for raw in value.messages:
                try:
                    seen["messages"].append(parse_message(raw))
                except InvalidItem:
                    seen["bad_items"].append(raw)
            for raw in value.statuses:
                try:
                    seen["statuses"].append(parse_status(raw))
                except InvalidItem:
                    seen["bad_items"].append(raw)
    return seen


def test_batch_of_three_entries_is_read_in_full() -> None:
    bad_text = _message("text", "a string, not an object", id="wamid.bad-text")
    no_id = _without(_message("text", {"body": "?"}), "id")
    unroutable = _value(messages=[_message("text", {"body": "lost"})])
    del unroutable["metadata"]["phone_number_id"]
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    _messages_change(
                        messages=[
                            _message("text", {"body": "one"}, id="wamid.1"),
                            bad_text,
                            _message("text", {"body": "two"}, id="wamid.2"),
                        ]
                    ),
                    _messages_change(statuses=[_status("sent", id="wamid.s1"), _status("read")]),
                ],
            },
            {
                "id": 2,
                "changes": [
                    {"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}},
                    _messages_change(
                        messages=[
                            no_id,
                            _message("reaction", {"message_id": "wamid.s1"}, id="wamid.3"),
                        ],
                        statuses=[_without(_status("read"), "status"), _status("delivered")],
                    ),
                ],
            },
            {
                "id": "3",
                "changes": [
                    {"field": "messages", "value": unroutable},
                    _messages_change(messages=[_message("text", {"body": "last"}, id="wamid.4")]),
                ],
            },
        ],
    }
    seen = _walk(json.dumps(envelope).encode())

    assert [m.id for m in seen["messages"]] == ["wamid.1", "wamid.2", "wamid.3", "wamid.4"]
    assert [s.status for s in seen["statuses"]] == ["sent", "read", "delivered"]
    assert seen["bad_items"] == [bad_text, no_id, _without(_status("read"), "status")]
    assert seen["bad_changes"] == [unroutable]
    assert seen["other_fields"] == ["account_update"]


# --- Properties -----------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Draw `valid` nine times in ten, so that deep layers are reached, else `other`."""
    return st.integers(0, 9).flatmap(lambda n: other if n == 0 else valid)


_ITEM_KEYS = [
    "id", "type", "timestamp", "from", "from_user_id", "context", "errors", "text", "interactive",
    "button", "location", "image", "audio", "video", "document", "sticker", "reaction", "order",
    "contacts", "system", "unsupported", "referral", "status", "recipient_id", "pricing",
]  # fmt: skip

_VALID_MESSAGES: list[dict[str, Any]] = [
    _message("text", {"body": "hi"}),
    _message("interactive", {"type": "list_reply", "list_reply": {"id": "r", "title": "R"}}),
    _message("button", {"payload": "p", "text": "t"}),
    _message("location", {"latitude": 1.5, "longitude": 2}),
    _message("image", {"id": "1", "sha256": "x"}),
    _message(
        "order",
        {
            "product_items": [
                {"product_retailer_id": "a", "quantity": 1, "item_price": 7.99, "currency": "USD"}
            ]
        },
    ),
]
_VALID_STATUSES: list[dict[str, Any]] = [
    _status("sent", pricing={"billable": True, "category": "utility"}),
    _status("failed", errors=[{"code": 131049}]),
]

# Valid items with a few keys overwritten or dropped, so both outcomes are explored.
_mutated_items = st.builds(
    lambda base, patch, drop: {k: v for k, v in {**base, **patch}.items() if k not in drop},
    st.sampled_from(_VALID_MESSAGES + _VALID_STATUSES),
    st.dictionaries(st.sampled_from(_ITEM_KEYS), _json, max_size=2),
    st.sets(st.sampled_from(_ITEM_KEYS), max_size=2),
)
_items = _mutated_items | st.dictionaries(st.sampled_from(_ITEM_KEYS) | st.text(max_size=8), _json)

_messages_values = st.builds(
    lambda patch, messages, statuses: {
        **_value(),
        **patch,
        "messages": messages,
        "statuses": statuses,
    },
    _mostly(
        st.just({}),
        st.dictionaries(
            st.sampled_from(["metadata", "contacts", "errors", "messaging_product"]),
            _json,
            max_size=1,
        ),
    ),
    st.lists(_mostly(st.sampled_from(_VALID_MESSAGES), _items), max_size=3),
    st.lists(_mostly(st.sampled_from(_VALID_STATUSES), _items), max_size=3),
)

_changes = _mostly(
    st.fixed_dictionaries(
        {
            "field": _mostly(st.sampled_from(["messages", "account_update"]), _json),
            "value": _mostly(_messages_values, _json),
        }
    ),
    _json,
)

_envelopes = st.fixed_dictionaries(
    {
        "object": _mostly(st.just("whatsapp_business_account"), _json),
        "entry": _mostly(
            st.lists(
                _mostly(
                    st.fixed_dictionaries(
                        {
                            "id": _mostly(st.text(max_size=5) | st.integers(), _json),
                            "changes": st.lists(_changes, max_size=2),
                        }
                    ),
                    _json,
                ),
                max_size=3,
            ),
            _json,
        ),
    }
)

_fast = settings(max_examples=200, deadline=None, database=None)


def _touch(message: InboundMessage) -> None:
    assert isinstance(message.timestamp, int)
    _ = (message.reply_id, message.text_body, message.media)
    if message.order is not None:
        assert all(isinstance(item.item_price, Decimal) for item in message.order.product_items)


@_fast
@given(_json | _envelopes)
def test_any_json_body_parses_or_raises_invalid_envelope(data: Any) -> None:
    body = json.dumps(data).encode()
    try:
        seen = _walk(body)
    except InvalidEnvelope:
        return
    for message in seen["messages"]:
        _touch(message)
    for status in seen["statuses"]:
        assert isinstance(status.timestamp, int)
        _ = status.error_code


@_fast
@given(_items)
def test_any_item_parses_or_raises_invalid_item(raw: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidItem):
        _touch(parse_message(raw))
    try:
        status = parse_status(raw)
    except InvalidItem:
        return
    assert isinstance(status.id, str) and isinstance(status.status, str)


@settings(max_examples=50, deadline=None, database=None)
@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_invalid_envelope(body: bytes) -> None:
    with contextlib.suppress(InvalidEnvelope):
        parse_envelope(body)
