"""The panel's Catálogo: the shop's products by category with a search, each row a small
form (price, stock, active) saved on its own, a form to add a product and a CSV import.

Every write goes through `tenancy/products.py` and every value through the CSV's cell
readers (`tenancy/catalog.py`), as the admin API and onboarding do: the same rules, the
same plan limit, the same import. Problems come back as codes, worded here in Spanish.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatcentral.conversation.shop import Shop
from chatcentral.models.tenant import Unit
from chatcentral.panel.access import Session
from chatcentral.panel.render import page
from chatcentral.panel.requests import (
    PREFIX,
    field,
    form_of,
    not_found,
    path_id,
    signed_in,
    uploads_of,
)
from chatcentral.tenancy import products
from chatcentral.tenancy.catalog import (
    COLUMNS,
    CatalogError,
    FieldProblem,
    parse_upload,
    read_description,
    read_money,
    read_name,
    read_stock,
    read_unit,
)
from chatcentral.tenancy.products import DuplicateProduct, NewProduct, ProductLimit

SEARCH_MAX = 100
SHOWN_VALUE_MAX = 40  # a bad value quoted back, cut short (a CSV cell may be huge)
UNITS = (
    (Unit.PIECE, "pieza"),
    (Unit.KG, "kg"),
    (Unit.LITER, "litro"),
    (Unit.BOX, "caja"),
    (Unit.UNIT, "unidad"),
    (Unit.GARRAFON, "garrafón"),
)
UNIT_LABELS = {unit.value: label for unit, label in UNITS}
ADD_FIELDS = ("name", "category", "price", "unit", "stock", "description")

_PROBLEMS = {
    "name_empty": "Falta el nombre.",
    "name_too_long": "El nombre es muy largo (máximo 200 letras).",
    "name_not_text": "El nombre tiene caracteres no válidos.",
    "category_empty": "Falta la categoría.",
    "category_too_long": "La categoría es muy larga (máximo 200 letras).",
    "category_not_text": "La categoría tiene caracteres no válidos.",
    "description_too_long": "La descripción es muy larga (máximo 1000 letras).",
    "description_not_text": "La descripción tiene caracteres no válidos.",
    "price_not_number": "El precio «{value}» no es un número (por ejemplo 23.50).",
    "price_negative": "El precio no puede ser negativo.",
    "price_decimals": "El precio lleva máximo 2 decimales.",
    "price_too_large": "El precio es demasiado alto.",
    "unit_unknown": "La unidad «{value}» no existe: usa pieza, kg, litro, caja, unidad o garrafón.",
    "stock_not_number": "Las existencias «{value}» no son un número (vacío: sin control).",
    "stock_range": "Las existencias van de 0 a 999,999,999.",
    "stock_decimals": "Las existencias llevan máximo 3 decimales.",
    "stock_not_whole": "Este producto se vende entero: las existencias no llevan decimales.",
    "active_unknown": "«{value}» en la columna active: usa true o false.",
    "not_utf8": "El archivo no es texto UTF-8: guárdalo como «CSV UTF-8».",
    "nul": "El archivo tiene un carácter nulo.",
    "empty": "El archivo está vacío: la primera línea debe ser {header}.",
    "missing_columns": "Faltan las columnas {columns}.",
    "field_count": "Se esperaban {expected} columnas y hay {got}.",
    "duplicate": "«{name}» aparece dos veces en «{category}».",
    "csv": "El archivo CSV está mal formado ({error}).",
}


def problem_text(code: str, **values: Any) -> str:
    """A problem from `tenancy/catalog.py` in the owner's words."""
    shown = {
        key: ", ".join(value) if isinstance(value, list) else _cut(str(value))
        for key, value in values.items()
    }
    return _PROBLEMS.get(code, "Hay un dato que no es válido.").format(
        header=",".join(COLUMNS), **shown
    )


def _cut(value: str) -> str:
    return value if len(value) <= SHOWN_VALUE_MAX else value[:SHOWN_VALUE_MAX] + "…"


def limit_text(exc: ProductLimit) -> str:
    return (
        f"Tu plan {exc.plan} permite {exc.limit} productos activos y con este cambio "
        f"serían {exc.active}. Desactiva alguno o cambia de plan. No se guardó nada."
    )


def folded(text: str) -> str:
    """Lowercase without accents: «Jamón» and «jamon» are searched alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass
class View:
    """What the page shows besides the catalog: the search, a notice, and the typed
    values with their errors for the form that was refused."""

    q: str = ""
    notice: str | None = None
    saved: int | None = None
    row_id: int | None = None
    row: dict[str, Any] = dataclass_field(default_factory=dict)
    row_error: str | None = None
    add: dict[str, str] = dataclass_field(default_factory=dict)
    add_errors: dict[str, str] = dataclass_field(default_factory=dict)
    import_error: str | None = None


def _groups(rows: list[Row[Any]], q: str) -> list[tuple[str, list[Row[Any]]]]:
    wanted = folded(q)
    groups: dict[str, list[Row[Any]]] = {}
    for row in rows:
        if wanted in folded(row.name):
            groups.setdefault(row.category, []).append(row)
    return list(groups.items())


async def _show(
    conn: AsyncConnection, session: Session, shop: Shop, view: View, status: int = 200
) -> Response:
    rows = await products.catalog(conn)
    return page(
        "catalog.html",
        status,
        csrf=session.csrf_token,
        shop=shop,
        view=view,
        groups=_groups(rows, view.q),
        total=len(rows),
        active=sum(1 for row in rows if row.active),
        plan=await products.plan_name(conn, shop),
        categories=await products.category_names(conn),
        units=[(unit.value, label) for unit, label in UNITS],
        unit_labels=UNIT_LABELS,
    )


def _search(typed: str | None) -> str:
    """The search as typed (in the address, or kept by a row's form), trimmed."""
    return (typed or "").strip()[:SEARCH_MAX]


def _back(q: str, anchor: str = "", **params: int) -> Response:
    query = urlencode({**({"q": q} if q else {}), **params})
    address = f"{PREFIX}/catalog" + (f"?{query}" if query else "") + anchor
    return RedirectResponse(address, status_code=303)


async def _catalog_page(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    view = View(q=_search(request.query_params.get("q")), notice=_notice(request))
    saved = request.query_params.get("saved", "")
    view.saved = int(saved) if saved.isdigit() else None
    return await _show(conn, session, shop, view)


def _notice(request: Request) -> str | None:
    params = request.query_params
    if params.get("added"):
        return "Listo: producto agregado."
    created, updated = params.get("created", ""), params.get("updated", "")
    if created.isdigit() and updated.isdigit():
        return f"Listo: se importó el archivo (nuevos: {created}, actualizados: {updated})."
    return None


# --- one row ----------------------------------------------------------------------------


async def _save(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    """One row's price, stock and active, as typed; nothing saved when any is wrong."""
    product_id = path_id(request, "product_id")
    current = await products.product(conn, product_id) if product_id is not None else None
    if product_id is None or current is None:
        return not_found()
    form = form_of(request)
    q = _search(field(form, "q"))
    price, stock = field(form, "price") or "", field(form, "stock") or ""
    active = field(form, "active") is not None  # an unticked checkbox sends nothing
    view = View(q=q, row_id=product_id, row={"price": price, "stock": stock, "active": active})
    try:
        values = {
            "price": read_money(price),
            "stock": read_stock(stock, Unit(current.unit)),
            "active": active,
        }
    except FieldProblem as exc:
        view.row_error = problem_text(exc.code, value=exc.value)
        return await _show(conn, session, shop, view, 422)
    try:
        await products.change_product(conn, shop, product_id, values)
    except ProductLimit as exc:
        view.row_error = limit_text(exc)
        return await _show(conn, session, shop, view, 409)
    return _back(q, f"#p{product_id}", saved=product_id)


# --- a new product ----------------------------------------------------------------------


def _new_product(typed: dict[str, str]) -> tuple[NewProduct | None, dict[str, str]]:
    """The product typed in the form, or the Spanish error of each wrong field."""
    errors: dict[str, str] = {}
    read: dict[str, Any] = {}
    readers: dict[str, Callable[[str], Any]] = {
        "name": lambda raw: read_name(raw, "name"),
        "category": lambda raw: read_name(raw, "category"),
        "price": read_money,
        "unit": read_unit,
        "description": read_description,
    }
    for name, reader in readers.items():
        try:
            read[name] = reader(typed[name])
        except FieldProblem as exc:
            errors[name] = problem_text(exc.code, value=exc.value)
    if "unit" in read:
        try:
            read["stock"] = read_stock(typed["stock"], read["unit"])
        except FieldProblem as exc:
            errors["stock"] = problem_text(exc.code, value=exc.value)
    return (None, errors) if errors else (NewProduct(**read), errors)


async def _add(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    form = form_of(request)
    typed = {name: field(form, name) or "" for name in ADD_FIELDS}
    new, errors = _new_product(typed)
    view = View(add=typed, add_errors=errors)
    if new is None:
        return await _show(conn, session, shop, view, 422)
    try:
        made = await products.add_product(conn, shop, new)
    except DuplicateProduct:
        view.add_errors["name"] = f"Ya hay un producto «{new.name}» en «{new.category}»."
        return await _show(conn, session, shop, view, 409)
    except ProductLimit as exc:
        view.add_errors["form"] = limit_text(exc)
        return await _show(conn, session, shop, view, 409)
    return _back("", f"#p{made}", added=1, saved=made)


# --- CSV import -------------------------------------------------------------------------


def import_problem(exc: CatalogError) -> str:
    said = problem_text(exc.code, **exc.values)
    if exc.line is None:
        return f"No se importó nada. {said}"
    return f"No se importó nada: revisa la línea {exc.line}. {said}"


async def _import(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    """The API's import: the whole file checked first, the first bad line named, and
    nothing imported unless all of it is."""
    upload = uploads_of(request).get("file")
    view = View()
    if upload is None or not upload.data:
        view.import_error = "Elige un archivo CSV con tus productos."
        return await _show(conn, session, shop, view, 422)
    try:
        done = await products.import_catalog(conn, shop, parse_upload(upload.data))
    except CatalogError as exc:
        view.import_error = import_problem(exc)
        return await _show(conn, session, shop, view, 422)
    except ProductLimit as exc:
        view.import_error = limit_text(exc)
        return await _show(conn, session, shop, view, 409)
    return _back("", created=done.created, updated=done.updated)


def routes() -> list[Route]:
    return [
        Route("/catalog", signed_in(_catalog_page), methods=["GET"]),
        Route("/catalog/new", signed_in(_add), methods=["POST"]),
        Route("/catalog/import", signed_in(_import), methods=["POST"]),
        Route("/catalog/{product_id:int}", signed_in(_save), methods=["POST"]),
    ]
