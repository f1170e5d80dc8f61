"""The catalog: list, one product, create, update, deactivate, its photo, and the whole
catalog in and out as CSV in the onboarding format (`tenancy/catalog.py`: the same
parser, so the same line-numbered errors as `tenant create --catalog`). The writes, the
plan's limit and the import are `tenancy/products.py`, shared with the panel."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, and_
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from chatcentral.api import pages
from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.api.fields import Money, Name, Note, Quantity, Short
from chatcentral.api.problems import FieldError, conflict, invalid, not_found
from chatcentral.models.tenant import Category, Product, Unit
from chatcentral.products.photos import PHOTO_MAX, PhotoRefused, attach_photo, remove_photo
from chatcentral.tenancy import products
from chatcentral.tenancy.catalog import COLUMNS, CatalogError, fits_unit, parse_upload
from chatcentral.tenancy.products import PRODUCTS, DuplicateProduct, NewProduct, ProductLimit

CSV_MEDIA = "text/csv"
PHOTO_MEDIA = ("image/jpeg", "image/png")
UPLOAD = "upload"  # how the parser names the file in its errors: "upload:LINE: …"


class ProductOut(BaseModel):
    id: int
    name: str
    category: str
    price: Decimal
    unit: Unit
    description: str | None
    stock: Decimal | None = Field(description="null: not tracked, always available")
    active: bool
    retailer_id: str | None
    photo: bool = Field(description="whether it has a photo (PUT /products/{id}/photo)")
    position: int
    created_at: datetime
    updated_at: datetime


class ProductPage(pages.Page[ProductOut]):
    pass


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    category: Name | None = Field(default=None, description="category name, exactly")
    search: Short | None = Field(default=None, description="part of the name, any case")
    cursor: pages.Cursor | None = None
    limit: pages.Limit = pages.PAGE_DEFAULT


def _whole_stock(unit: Unit, stock: Decimal | None) -> str | None:
    if not fits_unit(unit, stock):
        return f"stock must be a whole number for unit {unit}"
    return None


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    category: Name = Field(description="created when the shop has no category of that name")
    price: Money
    unit: Unit
    description: Note | None = None
    stock: Quantity | None = Field(default=None, description="null: not tracked")
    active: bool = True
    retailer_id: Short | None = Field(default=None, description="WhatsApp catalog id")

    @model_validator(mode="after")
    def _stock_fits_unit(self) -> ProductCreate:
        problem = _whole_stock(self.unit, self.stock)
        if problem:
            raise ValueError(problem)
        return self


class ProductUpdate(BaseModel):
    """Only the fields given change; `stock`, `description` and `retailer_id` may be set
    to null (stock null: not tracked)."""

    model_config = ConfigDict(extra="forbid")

    # Omitted means unchanged; null is refused for these (`_not_null`).
    name: Name | None = None
    category: Name | None = None
    price: Money | None = None
    unit: Unit | None = None
    active: bool | None = None
    description: Note | None = None
    stock: Quantity | None = None
    retailer_id: Short | None = None

    @field_validator("name", "category", "price", "unit", "active", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted, not null")
        return value


class ImportResult(BaseModel):
    created: int
    updated: int


async def _read(conn: AsyncConnection, product_id: int) -> ProductOut | None:
    row = await products.product(conn, product_id)
    return None if row is None else ProductOut.model_validate(row._asdict())


async def _written(conn: AsyncConnection, product_id: int) -> ProductOut:
    """A product this call has just added or changed, read back as the answer."""
    product = await _read(conn, product_id)
    assert product is not None
    return product


def _duplicate(exc: DuplicateProduct) -> Exception:
    return conflict("duplicate", str(exc))


def _over_limit(exc: ProductLimit) -> Exception:
    return conflict("product-limit", str(exc), limit=exc.limit, active=exc.active)


async def list_products(call: Call) -> ProductPage:
    """The catalog, newest first, a page at a time."""
    q = call.query(ProductQuery)
    conditions: list[ColumnElement[bool]] = []
    if q.active is not None:
        conditions.append(Product.active.is_(q.active))
    if q.category is not None:
        conditions.append(Category.name == q.category)
    if q.search is not None:
        conditions.append(Product.name.ilike(pages.containing(q.search), escape=pages.LIKE_ESCAPE))
    if q.cursor is not None:
        conditions.append(Product.id < pages.decode(q.cursor))
    query = PRODUCTS.where(and_(True, *conditions)).order_by(Product.id.desc()).limit(q.limit + 1)
    items = [ProductOut.model_validate(r._asdict()) for r in (await call.conn.execute(query))]
    shown, cursor = pages.page(items, [item.id for item in items], q.limit)
    return ProductPage(items=shown, next_cursor=cursor)


async def get_product(call: Call) -> ProductOut:
    """One product."""
    product = await _read(call.conn, call.path["product_id"])
    if product is None:
        raise not_found(f"no product {call.path['product_id']} in this shop")
    return product


async def create_product(call: Call) -> ProductOut:
    """Add a product (its category is made if the shop has none of that name)."""
    new = call.body(ProductCreate)
    try:
        made = await products.add_product(
            call.conn, call.caller.shop, NewProduct(**new.model_dump())
        )
    except DuplicateProduct as exc:
        raise _duplicate(exc) from None
    except ProductLimit as exc:
        raise _over_limit(exc) from None
    return await _written(call.conn, made)


async def update_product(call: Call) -> ProductOut:
    """Change some fields of a product."""
    product_id = call.path["product_id"]
    change = call.body(ProductUpdate)
    current = await _read(call.conn, product_id)
    if current is None:
        raise not_found(f"no product {product_id} in this shop")
    given = change.model_fields_set
    values: dict[str, Any] = {
        name: getattr(change, name)
        for name in ("name", "price", "description", "stock", "active", "retailer_id")
        if name in given
    }
    unit = current.unit if change.unit is None else change.unit
    if change.unit is not None:
        values["unit"] = change.unit  # change_product stores a Unit's value
    stock = change.stock if "stock" in given else current.stock
    problem = _whole_stock(unit, stock)
    if problem:
        where = "stock" if "stock" in given else "unit"
        raise invalid([FieldError(loc=["body", where], message=problem, type="value_error")])
    if change.category is not None:
        values["category"] = change.category
    try:
        await products.change_product(call.conn, call.caller.shop, product_id, values)
    except DuplicateProduct as exc:
        raise _duplicate(exc) from None
    except ProductLimit as exc:
        raise _over_limit(exc) from None
    return await _written(call.conn, product_id)


async def deactivate_product(call: Call) -> ProductOut:
    """Stop offering a product (it stays in past orders and can be activated again)."""
    product_id = call.path["product_id"]
    # Turning a product off never meets the plan's limit nor a duplicate name.
    if not await products.change_product(
        call.conn, call.caller.shop, product_id, {"active": False}
    ):
        raise not_found(f"no product {product_id} in this shop")
    return await _written(call.conn, product_id)


async def set_product_photo(call: Call) -> ProductOut:
    """Make the body (a JPEG or PNG of at most 5 MB) the product's photo, shown with it on
    WhatsApp; the previous photo is deleted."""
    product_id = call.path["product_id"]
    if call.content_type.split(";", 1)[0].strip().lower() not in PHOTO_MEDIA:
        raise _photo_problem("send the photo as the body, with Content-Type image/jpeg or png")
    assert call.store is not None  # the app's, set at start-up
    try:
        key = await attach_photo(
            call.conn, call.store, call.caller.shop, product_id, call.raw_body, call.content_type
        )
    except PhotoRefused as exc:
        raise _photo_problem(str(exc)) from None
    if key is None:
        raise not_found(f"no product {product_id} in this shop")
    return await _written(call.conn, product_id)


async def delete_product_photo(call: Call) -> ProductOut:
    """Remove the product's photo (its messages go without one)."""
    product_id = call.path["product_id"]
    assert call.store is not None
    if not await remove_photo(call.conn, call.store, product_id):
        raise not_found(f"no product {product_id} in this shop")
    return await _written(call.conn, product_id)


def _photo_problem(message: str) -> Exception:
    return invalid([FieldError(loc=["body"], message=message, type="photo")], message)


async def import_products(call: Call) -> ImportResult:
    """A CSV in the onboarding format: the whole file is checked first (the first bad
    line is named), then each row updates the product of that category and name, or adds
    it. Products not in the file are left as they are."""
    try:
        items = parse_upload(call.raw_body, source=UPLOAD)
        done = await products.import_catalog(call.conn, call.caller.shop, items)
    except CatalogError as exc:
        raise _file_problem(exc) from None
    except ProductLimit as exc:
        raise _over_limit(exc) from None
    return ImportResult(created=done.created, updated=done.updated)


def _file_problem(exc: CatalogError) -> Exception:
    """The first bad line named as `["body", LINE]`, the file as a whole as `["body"]`."""
    if exc.line is None:
        return invalid([FieldError(loc=["body"], message=str(exc), type="csv")], str(exc))
    message = str(exc).removeprefix(f"{UPLOAD}:{exc.line}: ")
    return _line_problem(exc.line, message)


def _line_problem(line: int, message: str) -> Exception:
    return invalid(
        [FieldError(loc=["body", line], message=message, type="csv")],
        f"line {line}: {message} (nothing was imported)",
    )


async def export_products(call: Call) -> Response:
    """The whole catalog as CSV in the onboarding format (import it back unchanged)."""
    rows = await products.catalog(call.conn)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        stock = "" if row.stock is None else _plain(row.stock)
        writer.writerow(
            (
                row.name,
                row.category,
                f"{row.price:.2f}",
                row.unit,
                row.description or "",
                stock,
                "true" if row.active else "false",
            )
        )
    return Response(
        out.getvalue(),
        media_type=f"{CSV_MEDIA}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="catalogo.csv"'},
    )


def _plain(value: Decimal) -> str:
    """12.500 → 12.5, 40.000 → 40."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


ENDPOINTS = (
    Endpoint(
        "GET",
        "/products",
        list_products,
        "List products, newest first",
        "products",
        response=ProductPage,
        query=ProductQuery,
    ),
    Endpoint(
        "POST",
        "/products",
        create_product,
        "Add a product",
        "products",
        response=ProductOut,
        body=ProductCreate,
        status=201,
        problems=(409,),
    ),
    Endpoint(
        "GET",
        "/products/export",
        export_products,
        "The catalog as CSV (the onboarding format)",
        "products",
        response_media=CSV_MEDIA,
    ),
    Endpoint(
        "POST",
        "/products/import",
        import_products,
        "Import a CSV catalog (the onboarding format)",
        "products",
        response=ImportResult,
        body_media=(CSV_MEDIA,),
        problems=(),
        description=(
            "Columns name,category,price,unit,description,stock,active. The whole file "
            "is checked first; the first bad line is answered as 422 with "
            "`errors[0].loc == ['body', LINE]` and nothing is imported."
        ),
    ),
    Endpoint(
        "GET",
        "/products/{product_id:int}",
        get_product,
        "One product",
        "products",
        response=ProductOut,
        problems=(404,),
    ),
    Endpoint(
        "PATCH",
        "/products/{product_id:int}",
        update_product,
        "Change some fields of a product",
        "products",
        response=ProductOut,
        body=ProductUpdate,
        problems=(404, 409),
    ),
    Endpoint(
        "PUT",
        "/products/{product_id:int}/photo",
        set_product_photo,
        "Set a product's photo",
        "products",
        response=ProductOut,
        body_media=PHOTO_MEDIA,
        body_max=PHOTO_MAX,
        problems=(404,),
        description=(
            "The raw image as the body: JPEG or PNG (checked by its content, not only the "
            "Content-Type), at most 5 MB, WhatsApp's limit for images. A customer who opens "
            "the product on WhatsApp sees it above its description."
        ),
    ),
    Endpoint(
        "DELETE",
        "/products/{product_id:int}/photo",
        delete_product_photo,
        "Remove a product's photo",
        "products",
        response=ProductOut,
        problems=(404,),
    ),
    Endpoint(
        "POST",
        "/products/{product_id:int}/deactivate",
        deactivate_product,
        "Stop offering a product",
        "products",
        response=ProductOut,
        problems=(404,),
    ),
)
