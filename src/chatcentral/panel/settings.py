"""The panel's Ajustes page: the shop's hours and holidays, its delivery zones and the
texts its customers read, each text with a preview as WhatsApp shows it.

Every change goes through the code the operators' commands use (`business_hours.apply_hours`,
`shop_settings.apply_settings`): validated whole, written in the request's transaction,
announced on the tenants channel so every process drops its cached copy of the shop at
commit (as after `chatcentral tenant hours`), and audited as `panel:<phone>`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatcentral.conversation import hours
from chatcentral.conversation.cart import money
from chatcentral.conversation.flow import Settings as FlowSettings
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.shop_texts import (
    BY_KEY,
    PLACEHOLDER_HINTS,
    SHOP_TEXTS,
    ShopText,
    TextRefused,
    check_text,
    clean,
)
from chatcentral.conversation.views import week_line
from chatcentral.panel import settings_forms as forms
from chatcentral.panel.access import Session
from chatcentral.panel.bubble import whatsapp_html
from chatcentral.panel.render import page
from chatcentral.panel.requests import (
    PREFIX,
    Form,
    actor,
    field,
    form_of,
    not_found,
    notice_of,
    signed_in,
)
from chatcentral.panel.settings_forms import FormRefused
from chatcentral.tenancy.business_hours import HolidayMissing, HoursChange, apply_hours, normalised
from chatcentral.tenancy.shop_settings import SettingsRefused, apply_settings

HERE = f"{PREFIX}/settings"
ZONES = "delivery_zones"
NOTICES = {
    "hours": "Listo: tu horario quedó guardado.",
    "holiday": "Listo: agregamos el día cerrado.",
    "unholiday": "Listo: quitamos el día cerrado.",
    "delivery": "Listo: guardamos los datos de entrega.",
    "zone": "Listo: la zona quedó guardada.",
    "unzone": "Listo: quitamos la zona.",
    "text": "Listo: así lo verán tus clientes.",
    "restored": "Listo: volvió el texto original.",
}
# What the preview fills in for what only a real conversation knows.
SAMPLE_NAME = " Ana"
SAMPLE_ORDER = 123
SAMPLE_LINES = (("2 kg Jitomate", "56"), ("1 pieza Pan de caja", "48"))


async def _change_hours(
    conn: AsyncConnection, shop: Shop, session: Session, change: HoursChange
) -> None:
    """Through the code of `tenant hours`, on this request's connection and transaction."""
    await conn.run_sync(lambda sync: apply_hours(sync, shop.slug, change, actor=actor(session)))


async def _change_settings(
    conn: AsyncConnection, shop: Shop, session: Session, action: str, **changes: Any
) -> None:
    await conn.run_sync(
        lambda sync: apply_settings(sync, shop.slug, action, actor=actor(session), **changes)
    )


def _done(notice: str, anchor: str) -> Response:
    return RedirectResponse(f"{HERE}?ok={notice}#{anchor}", status_code=303)


# --- the page ----------------------------------------------------------------------------


def _context(shop: Shop, session: Session, **extra: Any) -> dict[str, Any]:
    week = normalised(shop.business_hours)
    delivery = _effective(shop)
    custom = _own_texts(shop)
    return {
        "shop": shop,
        "csrf": session.csrf_token,
        "days": forms.day_rows(week),
        "holidays": [(day, forms.holiday_label(day)) for day in sorted(hours.holidays_of(week))],
        "today": _today(shop).isoformat(),
        "delivery": delivery,
        "location": forms.location_text(delivery.shop_location),
        "zones": delivery.delivery_zones,
        "texts": [(spec, _current(shop, spec), spec.key in custom) for spec in SHOP_TEXTS],
        "errors": {},
        **extra,
    }


async def _page(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    notice = notice_of(request, NOTICES)
    return page("settings.html", **_context(shop, session, notice=notice))


def _refused(shop: Shop, session: Session, section: str, message: str, **typed: Any) -> Response:
    return page("settings.html", 422, **_context(shop, session, errors={section: message}, **typed))


def _today(shop: Shop) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(shop.timezone)).date()


# --- hours -------------------------------------------------------------------------------


async def _save_hours(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    form = form_of(request)
    try:
        change = HoursChange(days=(forms.read_week(form),))
    except FormRefused as exc:
        return _refused(shop, session, "hours", str(exc), days=forms.typed_rows(form))
    await _change_hours(conn, shop, session, change)
    return _done("hours", "horario")


async def _add_holiday(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    try:
        day = forms.read_holiday(form_of(request), _today(shop))
    except FormRefused as exc:
        return _refused(shop, session, "holidays", str(exc))
    change = HoursChange(add_holidays=(day,))
    await _change_hours(conn, shop, session, change)
    return _done("holiday", "cerrados")


async def _remove_holiday(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    try:
        day = hours.parse_holiday(field(form_of(request), "date") or "")
        change = HoursChange(remove_holidays=(day,))
        await _change_hours(conn, shop, session, change)
    except HolidayMissing:
        return _refused(shop, session, "holidays", "Ese día ya no estaba entre tus días cerrados.")
    except hours.HoursError:
        return not_found()
    return _done("unholiday", "cerrados")


# --- delivery ----------------------------------------------------------------------------


async def _save_delivery(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    form = form_of(request)
    try:
        values = {
            "minimum_order": forms.money(form, "minimum_order", "Pedido mínimo"),
            "delivery_fee": forms.money(form, "delivery_fee", "Costo de envío"),
            "shop_location": forms.read_location(form),
        }
        if values["shop_location"] is None and _radius_zones(shop):
            raise FormRefused("Tienes zonas por distancia: la ubicación de la tienda es necesaria.")
    except FormRefused as exc:
        return _refused(shop, session, "delivery", str(exc))
    return await _settings(conn, shop, session, "tenant.delivery", values, "delivery")


def _radius_zones(shop: Shop) -> bool:
    return any(zone.radius_km for zone in _effective(shop).delivery_zones)


def _effective(shop: Shop) -> FlowSettings:
    """The settings as the bot reads them: the flow's, with the shop's own over them."""
    return effective(shipped_flow(shop.flow), shop.settings)[0]


def _zones(shop: Shop) -> list[dict[str, Any]]:
    """The zones as they are stored, whether the shop's own or its flow's."""
    return [
        zone.model_dump(mode="json", exclude_none=True) for zone in _effective(shop).delivery_zones
    ]


async def _save_zone(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    form = form_of(request)
    zones = _zones(shop)
    index = _zone_index(form, zones)
    if index == -1:
        return not_found()
    try:
        zone = forms.read_zone(form, _effective(shop).shop_location is not None)
        if forms.zone_names_clash(zones, zone, index):
            raise FormRefused(f"Ya tienes una zona llamada «{zone['name']}».")
        if index is None and len(zones) >= forms.ZONES_MAX:
            raise FormRefused(f"Puedes tener hasta {forms.ZONES_MAX} zonas.")
    except FormRefused as exc:
        return _refused(shop, session, _zone_section(index), str(exc), typed_zone=form)
    if index is None:
        zones.append(zone)
    else:
        zones[index] = zone
    return await _settings(
        conn, shop, session, "tenant.zones", {ZONES: zones}, "zone", _zone_section(index)
    )


async def _remove_zone(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    zones = _zones(shop)
    index = _zone_index(form_of(request), zones)
    if index is None or index == -1:
        return not_found()
    del zones[index]
    return await _settings(conn, shop, session, "tenant.zones", {ZONES: zones or None}, "unzone")


def _zone_index(form: Form, zones: list[dict[str, Any]]) -> int | None:
    """None for a new zone; -1 when the zone named is not (or no longer) the one at its
    place, e.g. removed meanwhile in another tab."""
    typed = field(form, "index") or ""
    if not typed:
        return None
    if not typed.isdigit() or int(typed) >= len(zones):
        return -1
    index = int(typed)
    return index if zones[index].get("name") == field(form, "was") else -1


def _zone_section(index: int | None) -> str:
    return "zone-new" if index is None else f"zone-{index}"


async def _settings(
    conn: AsyncConnection,
    shop: Shop,
    session: Session,
    action: str,
    values: dict[str, Any],
    notice: str,
    section: str = "delivery",
) -> Response:
    try:
        await _change_settings(conn, shop, session, action, values=values)
    except SettingsRefused as exc:
        return _refused(shop, session, section, f"No se pudo guardar ({exc}).")
    return _done(notice, "zonas")


# --- texts -------------------------------------------------------------------------------


def _own_texts(shop: Shop) -> dict[str, str]:
    """The texts the shop has worded its own way, by key."""
    texts: dict[str, str] = shop.settings.get("texts") or {}
    return texts


def _spec_of(form: Form) -> ShopText | None:
    return BY_KEY.get(field(form, "key") or "")


def _bubble(shop: Shop, spec: ShopText, text: str) -> Markup:
    """The text as WhatsApp will show it; TextRefused when the shop cannot use it."""
    return whatsapp_html(check_text(spec, text, shop.name, _values(shop, spec)))


def _default(shop: Shop, spec: ShopText) -> str:
    return shipped_flow(shop.flow).texts[spec.key]


def _current(shop: Shop, spec: ShopText) -> str:
    return _own_texts(shop).get(spec.key) or _default(shop, spec)


def _values(shop: Shop, spec: ShopText) -> dict[str, object]:
    """Real values where the shop has them (its hours, its next opening), samples for
    what belongs to one conversation (a customer's name, an order)."""
    week = normalised(shop.business_hours)
    now = datetime.now(UTC)
    after = hours.next_closing(week, None, shop.timezone, now) or now
    opening = hours.next_opening(week, None, shop.timezone, after)
    known: dict[str, object] = {
        "name": SAMPLE_NAME,
        "hours": week_line(week),
        "opening": hours.describe_opening(opening, now) if opening else "—",
        "number": SAMPLE_ORDER,
        "summary": "\n".join(f"• {line} — {money(Decimal(price))}" for line, price in SAMPLE_LINES),
        "total": money(Decimal("104")),
    }
    return {name: known[name] for name in spec.placeholders}


def _text_page(
    shop: Shop,
    session: Session,
    spec: ShopText,
    text: str,
    status: int = 200,
    *,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    preview = None
    if error is None:
        try:
            preview = _bubble(shop, spec, text)
        except TextRefused as exc:
            error = str(exc)
    return page(
        "settings_text.html",
        status,
        shop=shop,
        csrf=session.csrf_token,
        spec=spec,
        text=text,
        default=_default(shop, spec),
        custom=spec.key in _own_texts(shop),
        placeholders=[(name, PLACEHOLDER_HINTS[name]) for name in ("shop", *spec.placeholders)],
        preview=preview,
        error=error,
        notice=notice,
    )


async def _edit_text(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    spec = BY_KEY.get(request.path_params["key"])
    if spec is None:
        return not_found()
    notice = notice_of(request, NOTICES)
    return _text_page(shop, session, spec, _current(shop, spec), notice=notice)


async def _preview(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    """The typed text as WhatsApp will show it: the whole page, or only the bubble for
    settings.js (`fragment`), which asks as the owner types."""
    form = form_of(request)
    spec = _spec_of(form)
    if spec is None:
        return not_found()
    text = field(form, "text") or ""
    if field(form, "fragment"):
        try:
            bubble = _bubble(shop, spec, text)
        except TextRefused as exc:
            return page("_bubble.html", 422, error=str(exc))
        return page("_bubble.html", preview=bubble)
    return _text_page(shop, session, spec, text)


async def _save_text(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    form = form_of(request)
    spec = _spec_of(form)
    if spec is None:
        return not_found()
    typed = field(form, "text") or ""
    try:
        check_text(spec, typed, shop.name, _values(shop, spec))
    except TextRefused as exc:
        return _text_page(shop, session, spec, typed, 422, error=str(exc))
    # The default typed again is no override: the shop keeps following the flow's wording.
    text = clean(typed)
    return await _set_text(
        conn, shop, session, spec, None if text == _default(shop, spec) else text, "text"
    )


async def _restore_text(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    spec = _spec_of(form_of(request))
    if spec is None:
        return not_found()
    return await _set_text(conn, shop, session, spec, None, "restored")


async def _set_text(
    conn: AsyncConnection,
    shop: Shop,
    session: Session,
    spec: ShopText,
    text: str | None,
    notice: str,
) -> Response:
    try:
        await _change_settings(conn, shop, session, "tenant.texts", texts={spec.key: text})
    except SettingsRefused as exc:
        return _text_page(
            shop, session, spec, text or "", 422, error=f"No se pudo guardar ({exc})."
        )
    return RedirectResponse(f"{HERE}/texts/{spec.key}?ok={notice}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/settings", signed_in(_page), methods=["GET"]),
        Route("/settings/hours", signed_in(_save_hours), methods=["POST"]),
        Route("/settings/holidays", signed_in(_add_holiday), methods=["POST"]),
        Route("/settings/holidays/remove", signed_in(_remove_holiday), methods=["POST"]),
        Route("/settings/delivery", signed_in(_save_delivery), methods=["POST"]),
        Route("/settings/zones", signed_in(_save_zone), methods=["POST"]),
        Route("/settings/zones/remove", signed_in(_remove_zone), methods=["POST"]),
        Route("/settings/texts/preview", signed_in(_preview), methods=["POST"]),
        Route("/settings/texts/restore", signed_in(_restore_text), methods=["POST"]),
        Route("/settings/texts/{key}", signed_in(_edit_text), methods=["GET"]),
        Route("/settings/texts", signed_in(_save_text), methods=["POST"]),
    ]
