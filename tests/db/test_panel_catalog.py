"""The panel's Catálogo: products by category with a search, a row saved at a time (bad
values and the plan's limit refused with nothing saved), a product added, the CSV import
of the admin API (the first bad line named, nothing imported), another shop's product
not found and every POST needing the session's CSRF token."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_water_product_90000, rows
from tests.support.panel import sign_in

HEADER = "name,category,price,unit,description,stock,active\n"


def product_id(engine: Engine, name: str, schema: str = "tenant_tienda") -> int:
    [(found,)] = rows(engine, f"SELECT id FROM {schema}.products WHERE name = :n", n=name)
    return int(found)


def product_state(engine: Engine, name: str) -> tuple[Any, ...]:
    [found] = rows(
        engine, "SELECT price, stock, active FROM tenant_tienda.products WHERE name = :n", n=name
    )
    return found


def catalog_state(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT id, name, category_id, price, stock, active FROM tenant_tienda.products "
        "ORDER BY id",
    )


async def save_row(
    browser: httpx.AsyncClient, csrf: str, product: int, **fields: str
) -> httpx.Response:
    return await browser.post(f"/panel/catalog/{product}", data={"csrf": csrf, **fields})


async def test_the_catalog_is_grouped_by_category_and_searched_without_accents_or_case(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    page = await browser.get("/panel/catalog")
    assert page.status_code == 200
    html = page.text
    fruits, staples = html.index("<h2>Frutas y verduras "), html.index("<h2>Abarrotes ")
    assert fruits < html.index("Jitomate saladet") < staples < html.index("Frijol negro")
    limon = product_id(sync_engine, "Limón sin semilla")
    assert f'href="/panel/products/{limon}/photo"' in html
    assert 'value="36.00"' in html and "activos de 50 (plan Básico)" in html
    tortillas = product_id(sync_engine, "Tortillas de maíz")
    assert f'id="stock-{tortillas}" name="stock"' in html
    assert 'placeholder="sin control" value=""' in html.split(f'id="stock-{tortillas}"')[1][:80]
    assert "Garrafón" not in html  # the water shop's catalog

    for query in ("LIMON", "limón", "  sin sem"):
        found = (await browser.get("/panel/catalog", params={"q": query})).text
        assert "Limón sin semilla" in found and "Jitomate" not in found, query
        assert "<h2>Abarrotes " not in found  # a category with no match is not shown
        assert 'name="q" value="' in found
    nothing = (await browser.get("/panel/catalog", params={"q": "caviar"})).text
    assert "Ningún producto se llama así" in nothing


async def test_a_row_saves_its_price_stock_and_active(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    cebolla = product_id(sync_engine, "Cebolla blanca")
    saved = await save_row(browser, csrf, cebolla, price="31", stock="12.5", active="1", q="ceb")
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/panel/catalog?q=ceb&saved={cebolla}#p{cebolla}"
    assert product_state(sync_engine, "Cebolla blanca") == (31, 12.5, True)
    shown = (await browser.get(saved.headers["location"])).text
    assert 'value="31.00"' in shown and 'value="12.5"' in shown and "Guardado ✓" in shown

    # No stock is "not tracked"; an unticked box turns the product off.
    off = await save_row(browser, csrf, cebolla, price="31.00", stock="")
    assert off.status_code == 303
    assert product_state(sync_engine, "Cebolla blanca") == (31, None, False)


async def test_bad_values_show_the_rows_error_and_save_nothing(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    queso = product_id(sync_engine, "Queso fresco 400 g")  # sold by the piece
    before = catalog_state(sync_engine)
    for fields, message in (
        ({"price": "-5", "stock": "3"}, "El precio no puede ser negativo."),
        ({"price": "doce", "stock": "3"}, "El precio «doce» no es un número"),
        ({"price": "", "stock": "3"}, "no es un número"),
        ({"price": "12.345", "stock": "3"}, "máximo 2 decimales"),
        ({"price": "12", "stock": "1.5"}, "las existencias no llevan decimales"),
        ({"price": "12", "stock": "-1"}, "Las existencias van de 0"),
        ({"price": "12", "stock": "muchos"}, "Las existencias «muchos» no son un número"),
    ):
        refused = await save_row(browser, csrf, queso, active="1", **fields)
        assert refused.status_code == 422, fields
        assert message in refused.text, fields
        assert f'id="price-{queso}" name="price" inputmode="decimal" value="{fields["price"]}"' in (
            refused.text
        )
        assert 'aria-invalid="true"' in refused.text
    assert catalog_state(sync_engine) == before


async def test_activating_beyond_the_plans_limit_is_refused_with_the_plan_named(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    [(active,)] = rows(sync_engine, "SELECT count(*) FROM tenant_tienda.products WHERE active")
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.plans SET active_product_limit = :n WHERE code = 'basic'"),
            {"n": active},
        )
    papa = product_id(sync_engine, "Papa blanca")
    assert (await save_row(browser, csrf, papa, price="30", stock="50")).status_code == 303
    new = {"name": "Café de olla", "category": "Abarrotes", "price": "64.50", "unit": "PIECE"}
    added = await browser.post("/panel/catalog/new", data={"csrf": csrf, **new, "stock": ""})
    assert added.status_code == 303, added.text  # back at the limit exactly

    before = catalog_state(sync_engine)
    refused = await save_row(browser, csrf, papa, price="29", stock="50", active="1")
    assert refused.status_code == 409
    assert f"Tu plan Básico permite {active} productos activos" in refused.text
    assert f"serían {active + 1}" in refused.text and "No se guardó nada" in refused.text
    assert catalog_state(sync_engine) == before  # not even the price
    more = {**new, "name": "Té de limón"}
    over = await browser.post("/panel/catalog/new", data={"csrf": csrf, **more, "stock": ""})
    assert over.status_code == 409 and "Tu plan Básico permite" in over.text
    assert catalog_state(sync_engine) == before
    # Editing an active product's price is not an activation: still allowed.
    cafe = product_id(sync_engine, "Café de olla")
    assert (await save_row(browser, csrf, cafe, price="60", active="1")).status_code == 303


async def test_a_product_is_added_in_a_new_or_existing_category(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    new = {
        "name": " Café de olla 250 g ",
        "category": "Cafetería",
        "price": "64.5",
        "unit": "PIECE",
        "stock": "12",
        "description": "Con canela",
    }
    added = await browser.post("/panel/catalog/new", data={"csrf": csrf, **new})
    assert added.status_code == 303, added.text
    made = product_id(sync_engine, "Café de olla 250 g")
    assert added.headers["location"] == f"/panel/catalog?added=1&saved={made}#p{made}"
    assert rows(
        sync_engine,
        "SELECT c.name, p.price, p.unit, p.stock, p.description, p.active "
        "FROM tenant_tienda.products p JOIN tenant_tienda.categories c ON c.id = p.category_id "
        "WHERE p.id = :id",
        id=made,
    ) == [("Cafetería", 64.5, "PIECE", 12, "Con canela", True)]
    shown = (await browser.get(added.headers["location"])).text
    assert "Listo: producto agregado." in shown and '<option value="Cafetería">' in shown

    # An existing category, any case; the same name there again is refused.
    again = {**new, "category": "cafetería", "price": "70"}
    twice = await browser.post("/panel/catalog/new", data={"csrf": csrf, **again})
    assert twice.status_code == 409 and "Ya hay un producto «Café de olla 250 g»" in twice.text

    before = catalog_state(sync_engine)
    bad = {"name": "", "category": "Cafetería", "price": "-1", "unit": "BARRIL", "stock": "x"}
    refused = await browser.post("/panel/catalog/new", data={"csrf": csrf, **bad})
    assert refused.status_code == 422
    for message in ("Falta el nombre.", "El precio no puede ser negativo.", "«BARRIL» no existe"):
        assert message in refused.text
    assert '<details class="catalog-box" id="add" open>' in refused.text
    whole = {**new, "name": "Pan dulce", "stock": "2.5"}
    pieces = await browser.post("/panel/catalog/new", data={"csrf": csrf, **whole})
    assert pieces.status_code == 422 and "no llevan decimales" in pieces.text
    assert catalog_state(sync_engine) == before


async def upload(browser: httpx.AsyncClient, csrf: str, content: bytes) -> httpx.Response:
    return await browser.post(
        "/panel/catalog/import",
        data={"csrf": csrf},
        files={"file": ("catalogo.csv", content, "text/csv")},
    )


async def test_a_csv_import_adds_and_updates(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    good = (
        HEADER + "cebolla blanca,Frutas y verduras,27.00,KG,,30,true\n"
        "Café de olla 250 g,Despensa,64.50,PIEZA,Molido,,true\n"
    )
    done = await upload(browser, csrf, good.encode())
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/panel/catalog?created=1&updated=1"
    assert product_state(sync_engine, "Cebolla blanca") == (27, 30, True)
    assert product_state(sync_engine, "Café de olla 250 g") == (64.5, None, True)
    shown = (await browser.get(done.headers["location"])).text
    assert "Listo: se importó el archivo (nuevos: 1, actualizados: 1)." in shown


async def test_a_csv_with_a_bad_line_names_it_and_imports_nothing(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    before = catalog_state(sync_engine)
    bad = (
        HEADER + "Cebolla blanca,Frutas y verduras,27.00,KG,,30,true\n"
        "Café de olla 250 g,Despensa,sesenta,PIECE,,,true\n"
    )
    refused = await upload(browser, csrf, bad.encode())
    assert refused.status_code == 422
    assert (
        "No se importó nada: revisa la línea 3. "
        "El precio «sesenta» no es un número (por ejemplo 23.50)."
    ) in refused.text
    for content, message in (
        (b"", "Elige un archivo CSV"),
        (b"\xff\xfe", "no es texto UTF-8"),
        (b"name,price\n", "la línea 1. Faltan las columnas category, unit"),
        ((HEADER + "A,B,1,PIECE\n").encode(), "línea 2. Se esperaban 7 columnas y hay 4"),
        ((HEADER + "A,B,1,PIECE,,,true\na,b,2,PIECE,,,true\n").encode(), "«a» aparece dos veces"),
        ((HEADER + "<b>X</b>,B,1,BARRIL,,,true\n").encode(), "La unidad «BARRIL» no existe"),
    ):
        answer = await upload(browser, csrf, content)
        assert answer.status_code == 422 and message in answer.text, (content, answer.text)
    assert catalog_state(sync_engine) == before


async def test_another_shops_product_is_not_found_and_nothing_changes(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    add_water_product_90000(sync_engine)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    for target in (90000, 2**63, 2**70):
        missing = await save_row(browser, csrf, target, price="1", stock="")
        assert missing.status_code == 404 and "secreto" not in missing.text
    assert rows(sync_engine, "SELECT price, active FROM tenant_agua.products WHERE id = 90000") == [
        (99, True)
    ]
    # Id 1 exists in both shops: the session changes its own shop's.
    [(theirs,)] = rows(sync_engine, "SELECT price FROM tenant_agua.products WHERE id = 1")
    assert (await save_row(browser, csrf, 1, price="1.50", stock="", active="1")).status_code == 303
    assert rows(sync_engine, "SELECT price FROM tenant_tienda.products WHERE id = 1") == [(1.5,)]
    assert rows(sync_engine, "SELECT price FROM tenant_agua.products WHERE id = 1") == [(theirs,)]


async def test_every_post_needs_the_sessions_csrf_token(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    before = catalog_state(sync_engine)
    fields = {"price": "1", "stock": "", "active": "1", "name": "X", "category": "Y"}
    for path in ("/panel/catalog/1", "/panel/catalog/new"):
        for csrf in ({}, {"csrf": "not-the-token"}):
            answer = await browser.post(path, data={**fields, "unit": "PIECE", **csrf})
            assert answer.status_code == 403, path
    csv = (HEADER + "Nuevo,Despensa,1,PIECE,,,true\n").encode()
    answer = await browser.post("/panel/catalog/import", files={"file": ("c.csv", csv, "text/csv")})
    assert answer.status_code == 403
    assert catalog_state(sync_engine) == before


async def test_names_are_escaped(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    sneaky = {"name": "<script>alert(1)</script>", "category": '"><img src=x>', "price": "1"}
    added = await browser.post(
        "/panel/catalog/new", data={"csrf": csrf, **sneaky, "unit": "PIECE", "stock": ""}
    )
    assert added.status_code == 303
    html = (await browser.get("/panel/catalog")).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
