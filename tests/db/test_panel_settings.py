"""The panel's Ajustes page: hours, holidays, delivery zones and texts saved through the
operators' code (validated, announced to every process, audited as `panel:<phone>`), and
the bot answering with them; the WhatsApp preview escaped; refusals in Spanish with
nothing saved; no CSRF, no change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette

from chatcentral.conversation import hours
from chatcentral.conversation.shop import Shop
from chatcentral.models.central import AuditLog, Tenant
from tests.conftest import ProvisionedShop
from tests.db.test_conversation import grocery_cart
from tests.support.conversation import Customer
from tests.support.panel import ADMIN, sign_in

ACTOR = f"panel:{ADMIN}"
MEXICO = ZoneInfo("America/Mexico_City")


def stored(engine: Engine, slug: str = "tienda") -> tuple[dict[str, Any], dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Tenant.business_hours, Tenant.settings).where(Tenant.slug == slug)
        ).one()
    return dict(row.business_hours), dict(row.settings)


def audit(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    """The panel's changes (provisioning the shops is audited too)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.details)
            .where(AuditLog.actor.like("panel:%"))
            .order_by(AuditLog.id)
        ).all()
    return [(row.actor, row.action, row.details) for row in rows]


def today() -> datetime:
    return datetime.now(UTC).astimezone(MEXICO)


def week_closed_today() -> dict[str, str]:
    """09:00–18:00 every day but today (in the shop's zone), as the form sends it."""
    form: dict[str, str] = {}
    closed = hours.WEEKDAYS[today().weekday()]
    for day in hours.WEEKDAYS:
        if day != closed:
            form |= {f"{day}_open": "on", f"{day}_from0": "09:00", f"{day}_to0": "18:00"}
    return form


async def seen_by_the_bot(app: Starlette, number: str, check: Callable[[Shop], bool]) -> None:
    """The shop as the webhook's cached directory has it, once the change's NOTIFY has
    dropped the old copy (the cache would otherwise keep it for its TTL)."""
    for _ in range(100):
        shop = await app.state.directory.by_phone_number_id(number)
        if shop is not None and check(shop):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the change never reached the bot's cached shop")


# --- the page ------------------------------------------------------------------------------


async def test_the_page_shows_hours_zones_and_texts(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    page = await browser.get("/panel/settings")
    assert page.status_code == 200
    html = page.text
    for heading in ("Horario", "Días cerrados", "Zonas de entrega", "Textos"):
        assert heading in html
    assert 'name="mon_from0" value="00:00"' in html  # the fixture's shop opens around the clock
    assert "Saludo" in html and "Soy el asistente de" in html  # the flow's own wording
    assert 'name="minimum_order" inputmode="decimal" value="100.00"' in html  # the flow's
    assert 'aria-current="page">Ajustes' in html


# --- hours -----------------------------------------------------------------------------------


async def test_hours_saved_make_the_bot_say_it_is_closed_and_are_audited(
    browser: httpx.AsyncClient,
    panel_app: Starlette,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    ana = Customer(browser, sync_engine, "1110001")
    await ana.says("hola")  # the bot has the shop cached, open around the clock
    saved = await browser.post("/panel/settings/hours", data={"csrf": csrf, **week_closed_today()})
    assert saved.status_code == 303 and saved.headers["location"].endswith("ok=hours#horario")
    business_hours, _ = stored(sync_engine)
    closed = hours.WEEKDAYS[today().weekday()]
    assert (
        business_hours[closed] == [] and len([d for d in hours.WEEKDAYS if business_hours[d]]) == 6
    )
    await seen_by_the_bot(panel_app, "1110001", lambda shop: shop.business_hours == business_hours)

    await ana.says("asesor")
    said = ana.text_of_last()
    assert "Ahora estamos cerrados" in said and "mañana a las 09:00" in said
    [(actor, action, details)] = audit(sync_engine)
    assert (actor, action) == (ACTOR, "tenant.hours") and details["after"] == business_hours
    page = await browser.get(saved.headers["location"])
    assert "tu horario quedó guardado" in page.text
    assert f'name="{closed}_open" value="on" checked' not in page.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"mon_from0": "18:00", "mon_to0": "09:00"}, "la hora de cierre debe ser después"),
        ({"mon_from0": "09:00", "mon_to0": "25:00"}, "no es una hora válida"),
        ({"mon_from0": "09:00", "mon_to0": ""}, "pon la hora de apertura y la de cierre"),
        (
            {"mon_from0": "09:00", "mon_to0": "14:00", "mon_from1": "13:00", "mon_to1": "18:00"},
            "el segundo horario empieza antes",
        ),
    ],
)
async def test_bad_hours_are_refused_in_spanish_and_nothing_is_saved(
    typed: dict[str, str],
    message: str,
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    before = stored(sync_engine)
    form = {"csrf": csrf, **week_closed_today(), "mon_open": "on", **typed}
    refused = await browser.post("/panel/settings/hours", data=form)
    assert refused.status_code == 422
    assert '<p class="error" role="alert">Lunes: ' in refused.text and message in refused.text
    assert f'value="{typed["mon_from0"]}"' in refused.text  # what was typed, shown again
    assert stored(sync_engine) == before and audit(sync_engine) == []


async def test_a_holiday_is_added_and_removed(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    christmas = f"{today().year}-12-25" if today().month < 12 else f"{today().year + 1}-12-25"
    added = await browser.post("/panel/settings/holidays", data={"csrf": csrf, "date": christmas})
    assert added.status_code == 303
    assert stored(sync_engine)[0]["holidays"] == [christmas]
    page = (await browser.get("/panel/settings")).text
    assert "25 de diciembre de" in page

    for typed, message in (("25/12/2026", "no es una fecha válida"), ("2020-01-01", "ya pasó")):
        refused = await browser.post("/panel/settings/holidays", data={"csrf": csrf, "date": typed})
        assert refused.status_code == 422 and message in refused.text
    assert stored(sync_engine)[0]["holidays"] == [christmas]

    gone = await browser.post(
        "/panel/settings/holidays/remove", data={"csrf": csrf, "date": christmas}
    )
    assert gone.status_code == 303 and stored(sync_engine)[0]["holidays"] == []
    again = await browser.post(
        "/panel/settings/holidays/remove", data={"csrf": csrf, "date": christmas}
    )
    assert again.status_code == 422 and "ya no estaba" in again.text
    assert [a[1] for a in audit(sync_engine)] == ["tenant.hours", "tenant.hours"]


# --- delivery zones ----------------------------------------------------------------------------


ROMA = {"name": "Roma", "postal_codes": "06700, 06760", "fee": "35", "minimum_order": "0"}


async def test_a_zone_added_is_accepted_at_checkout_and_others_are_not(
    browser: httpx.AsyncClient,
    panel_app: Starlette,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    added = await browser.post("/panel/settings/zones", data={"csrf": csrf, **ROMA})
    assert added.status_code == 303, added.text
    _, settings = stored(sync_engine)
    assert settings["delivery_zones"] == [
        {
            "name": "Roma",
            "postal_codes": ["06700", "06760"],
            "fee": "35.00",
            "minimum_order": "0.00",
        }
    ]
    await seen_by_the_bot(panel_app, "1110001", lambda shop: "delivery_zones" in shop.settings)

    ana = Customer(browser, sync_engine, "1110001")
    await grocery_cart(ana)
    await ana.taps(1)  # Finalizar pedido
    await ana.taps(1)  # Entrega a domicilio
    await ana.says("Calle Durango 10, Roma Norte, CP 06700")
    assert "Total a pagar: *$271.50*" in ana.text_of_last()  # 236.50 + the zone's 35.00

    luis = Customer(browser, sync_engine, "1110001", wa_id="5215599998888", name="Luis")
    await grocery_cart(luis)
    await luis.taps(1)
    await luis.taps(1)
    await luis.says("Av. Vallarta 100, CP 44100")
    assert "no hacemos entregas en esa dirección" in luis.text_of_last()
    [(actor, action, details)] = audit(sync_engine)
    assert (actor, action) == (ACTOR, "tenant.zones")
    assert details["before"] == {"delivery_zones": None}


async def test_a_zone_is_edited_and_removed_and_bad_ones_refused(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    await browser.post("/panel/settings/zones", data={"csrf": csrf, **ROMA})
    edited = await browser.post(
        "/panel/settings/zones",
        data={"csrf": csrf, **ROMA, "fee": "$40", "index": "0", "was": "Roma"},
    )
    assert edited.status_code == 303
    assert stored(sync_engine)[1]["delivery_zones"][0]["fee"] == "40.00"

    for typed, message in (
        ({"postal_codes": "067"}, "no es un código postal de 5 dígitos"),
        ({"postal_codes": ""}, "al menos un código postal o un radio"),
        ({"radius_km": "3"}, "guarda primero la ubicación de la tienda"),
        ({"fee": "gratis"}, "no es una cantidad válida"),
        ({"name": ""}, "Ponle a la zona un nombre"),
    ):
        refused = await browser.post(
            "/panel/settings/zones", data={"csrf": csrf, **ROMA, "name": "Condesa", **typed}
        )
        assert refused.status_code == 422 and message in refused.text, typed
    clash = await browser.post("/panel/settings/zones", data={"csrf": csrf, **ROMA})
    assert clash.status_code == 422 and "Ya tienes una zona llamada «Roma»" in clash.text

    # a zone that is not (or no longer) there: not found, nothing changed
    for index, was in (("1", "Roma"), ("0", "Centro"), ("x", "Roma")):
        missing = await browser.post(
            "/panel/settings/zones/remove", data={"csrf": csrf, "index": index, "was": was}
        )
        assert missing.status_code == 404
    assert len(stored(sync_engine)[1]["delivery_zones"]) == 1

    removed = await browser.post(
        "/panel/settings/zones/remove", data={"csrf": csrf, "index": "0", "was": "Roma"}
    )
    assert removed.status_code == 303 and "delivery_zones" not in stored(sync_engine)[1]
    assert [a[1] for a in audit(sync_engine)] == ["tenant.zones"] * 3


async def test_minimum_order_fee_and_location_are_saved(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    form = {"minimum_order": "150", "delivery_fee": "30.50", "location": "19.4326, -99.1332"}
    saved = await browser.post("/panel/settings/delivery", data={"csrf": csrf, **form})
    assert saved.status_code == 303
    settings = stored(sync_engine)[1]
    assert (settings["minimum_order"], settings["delivery_fee"]) == ("150.00", "30.50")
    assert settings["shop_location"] == {"latitude": 19.4326, "longitude": -99.1332}
    radius = {**ROMA, "name": "3 km", "postal_codes": "", "radius_km": "3"}
    assert (
        await browser.post("/panel/settings/zones", data={"csrf": csrf, **radius})
    ).status_code == 303
    # the radius zone needs the location: it cannot be dropped now
    refused = await browser.post(
        "/panel/settings/delivery", data={"csrf": csrf, **form, "location": ""}
    )
    assert refused.status_code == 422 and "la ubicación de la tienda es necesaria" in refused.text


# --- texts -----------------------------------------------------------------------------------


WELCOME = "¡Qué onda{name}! Bienvenido a *{shop}* 🍅"


async def test_a_text_override_is_used_by_the_bot_and_restored(
    browser: httpx.AsyncClient,
    panel_app: Starlette,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    saved = await browser.post(
        "/panel/settings/texts", data={"csrf": csrf, "key": "welcome", "text": WELCOME}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/panel/settings/texts/welcome?ok=text"
    assert stored(sync_engine)[1]["texts"] == {"welcome": WELCOME}
    await seen_by_the_bot(panel_app, "1110001", lambda shop: "texts" in shop.settings)

    ana = Customer(browser, sync_engine, "1110001")
    await ana.says("hola")
    assert ana.text_of_last().startswith("¡Qué onda Ana! Bienvenido a *Abarrotes Doña Mary* 🍅")
    page = (await browser.get("/panel/settings/texts/welcome")).text
    assert "Restaurar el original" in page and "Soy el asistente de" in page  # the default

    restored = await browser.post(
        "/panel/settings/texts/restore", data={"csrf": csrf, "key": "welcome"}
    )
    assert restored.status_code == 303 and "texts" not in stored(sync_engine)[1]
    assert "Restaurar el original" not in (await browser.get(restored.headers["location"])).text
    actions = [(a[0], a[1], a[2]["after"]) for a in audit(sync_engine)]
    assert actions == [
        (ACTOR, "tenant.texts", {"texts.welcome": WELCOME}),
        (ACTOR, "tenant.texts", {"texts.welcome": None}),
    ]


async def test_the_preview_shows_whatsapp_formatting_and_escapes_the_rest(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    typed = "Hola{name}, *{shop}* _abre_ ~nunca~\n<script>alert(1)</script>"
    form = {"csrf": csrf, "key": "welcome", "text": typed}
    for extra in ({}, {"fragment": "1"}):
        shown = await browser.post("/panel/settings/texts/preview", data={**form, **extra})
        assert shown.status_code == 200
        html = shown.text
        assert (
            "Hola Ana, <strong>Abarrotes Doña Mary</strong> <em>abre</em> <s>nunca</s><br>" in html
        )
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert stored(sync_engine)[1] == {} and audit(sync_engine) == []  # a preview saves nothing
    closed = await browser.post(
        "/panel/settings/texts/preview",
        data={
            "csrf": csrf,
            "key": "handoff.closed",
            "text": "Cerrado. Horario: {hours}",
            "fragment": "1",
        },
    )
    assert "Horario: lun–dom 00:00–24:00" in closed.text  # the shop's real hours


@pytest.mark.parametrize(
    ("key", "typed", "message"),
    [
        ("welcome", "x" * 1025, "WhatsApp acepta hasta 1024"),
        ("hours.order_later", "y" * 301, "WhatsApp acepta hasta 300"),
        ("welcome", "Hola {total}", "{total} no se puede usar en este texto"),
        ("welcome", "Hola {name", "Las llaves { } solo van alrededor de un dato"),
        ("welcome", "   ", "Escribe el texto"),
    ],
)
async def test_texts_past_whatsapp_limits_or_with_unknown_placeholders_are_refused(
    key: str,
    typed: str,
    message: str,
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    refused = await browser.post(
        "/panel/settings/texts", data={"csrf": csrf, "key": key, "text": typed}
    )
    assert refused.status_code == 422 and message in refused.text
    assert stored(sync_engine)[1] == {} and audit(sync_engine) == []


async def test_unknown_texts_are_not_found(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    assert (await browser.get("/panel/settings/texts/staff.help")).status_code == 404
    for path in ("/panel/settings/texts", "/panel/settings/texts/restore"):
        posted = await browser.post(path, data={"csrf": csrf, "key": "bank_details", "text": "x"})
        assert posted.status_code == 404


# --- one shop, one session ---------------------------------------------------------------------


async def test_a_shop_changes_only_its_own_settings(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["water"].id)
    await browser.post("/panel/settings/zones", data={"csrf": csrf, **ROMA})
    assert stored(sync_engine, "tienda")[1] == {}
    assert stored(sync_engine, "agua")[1]["delivery_zones"][0]["name"] == "Roma"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/panel/settings/hours", week_closed_today()),
        ("/panel/settings/holidays", {"date": "2030-01-01"}),
        ("/panel/settings/holidays/remove", {"date": "2030-01-01"}),
        ("/panel/settings/delivery", {"minimum_order": "1"}),
        ("/panel/settings/zones", ROMA),
        ("/panel/settings/zones/remove", {"index": "0", "was": "Roma"}),
        ("/panel/settings/texts", {"key": "welcome", "text": WELCOME}),
        ("/panel/settings/texts/restore", {"key": "welcome"}),
        ("/panel/settings/texts/preview", {"key": "welcome", "text": WELCOME}),
    ],
)
async def test_a_post_without_the_csrf_token_is_refused(
    path: str,
    form: dict[str, str],
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    before = stored(sync_engine)
    for csrf in ({}, {"csrf": "not-the-token"}):
        refused = await browser.post(path, data={**form, **csrf})
        assert refused.status_code == 403
    assert stored(sync_engine) == before and audit(sync_engine) == []
