"""A shop's products, written the same way by the admin API and the panel: a category
found by name (made when new), a product added or changed, a CSV catalog imported, and
the plan's limit on active products checked after each change that may add one.

Each write runs in a savepoint: a refusal (`ProductLimit`, `DuplicateProduct`) leaves
the caller's transaction as it was, so the API can answer a problem and the panel can
show the page again with nothing saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.shop import Shop
from chatcentral.models.central import Plan
from chatcentral.models.tenant import Category, Product, Unit
from chatcentral.tenancy.catalog import CatalogItem

# One product with its category's name; the catalog's order is the categories' then the
# products' positions (as the customer's menus list them).
PRODUCTS = select(
    Product.id,
    Product.name,
    Category.name.label("category"),
    Product.price,
    Product.unit,
    Product.description,
    Product.stock,
    Product.active,
    Product.retailer_id,
    Product.image_key.is_not(None).label("photo"),
    Product.position,
    Product.created_at,
    Product.updated_at,
).join(Category, Category.id == Product.category_id)
CATALOG_ORDER = (Category.position, Category.id, Product.position, Product.id)
# A new category or product goes at the end of its list.
_NEXT_CATEGORY = select(func.coalesce(func.max(Category.position) + 1, 0)).scalar_subquery()
_NEXT_PRODUCT = select(func.coalesce(func.max(Product.position) + 1, 0)).scalar_subquery()


class ProductLimit(Exception):
    """The change would leave more active products than the shop's plan allows."""

    def __init__(self, plan: str, limit: int, active: int) -> None:
        super().__init__(
            f"the {plan} plan allows {limit} active products and this would make {active}: "
            "deactivate some or change plans"
        )
        self.plan = plan
        self.limit = limit
        self.active = active


class DuplicateProduct(Exception):
    """Another product has this name in the category (`field` "name") or this
    WhatsApp catalog id (`field` "retailer_id")."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "another product has this retailer_id"
            if field == "retailer_id"
            else "the category already has a product of this name"
        )
        self.field = field


@dataclass(frozen=True)
class NewProduct:
    name: str
    category: str
    price: Decimal
    unit: Unit
    description: str | None = None
    stock: Decimal | None = None
    active: bool = True
    retailer_id: str | None = None


@dataclass(frozen=True)
class Imported:
    created: int
    updated: int


async def product(conn: AsyncConnection, product_id: int) -> Row[Any] | None:
    found = await conn.execute(PRODUCTS.where(Product.id == product_id))
    return cast("Row[Any] | None", found.one_or_none())


async def catalog(conn: AsyncConnection) -> list[Row[Any]]:
    """Every product, active or not, in the catalog's order."""
    return list(await conn.execute(PRODUCTS.order_by(*CATALOG_ORDER)))


async def category_names(conn: AsyncConnection) -> list[str]:
    query = select(Category.name).order_by(Category.position, Category.id)
    return [str(name) for name in (await conn.execute(query)).scalars()]


async def category_id(conn: AsyncConnection, name: str) -> int:
    """The shop's category of this name (any case), made at the end of the list if new."""
    found = (
        await conn.execute(select(Category.id).where(func.lower(Category.name) == name.lower()))
    ).scalar()
    if found is not None:
        return int(found)
    made = await conn.execute(
        insert(Category).values(name=name, position=_NEXT_CATEGORY).returning(Category.id)
    )
    return int(made.scalar_one())


def _duplicate(exc: IntegrityError) -> DuplicateProduct:
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or ""
    return DuplicateProduct("retailer_id" if "retailer" in name else "name")


async def add_product(conn: AsyncConnection, shop: Shop, new: NewProduct) -> int:
    """Add a product (its category made if new); its id."""
    try:
        async with conn.begin_nested():
            category = await category_id(conn, new.category)
            made = await conn.execute(
                insert(Product)
                .values(
                    category_id=category,
                    name=new.name,
                    price=new.price,
                    unit=new.unit.value,
                    description=new.description,
                    stock=new.stock,
                    active=new.active,
                    retailer_id=new.retailer_id,
                    position=_NEXT_PRODUCT,
                )
                .returning(Product.id)
            )
            if new.active:
                await within_plan(conn, shop)
            return int(made.scalar_one())
    except IntegrityError as exc:
        raise _duplicate(exc) from None


async def change_product(
    conn: AsyncConnection, shop: Shop, product_id: int, values: dict[str, Any]
) -> bool:
    """Set these columns of a product (`category` by name, `unit` a Unit); False when
    the shop has no such product. Turning an inactive product on checks the plan."""
    try:
        async with conn.begin_nested():
            was_active = (
                await conn.execute(
                    select(Product.active).where(Product.id == product_id).with_for_update()
                )
            ).scalar()
            if was_active is None:
                return False
            await _update(conn, product_id, values)
            if values.get("active") and not was_active:
                await within_plan(conn, shop)
            return True
    except IntegrityError as exc:
        raise _duplicate(exc) from None


async def _update(conn: AsyncConnection, product_id: int, values: dict[str, Any]) -> None:
    columns = dict(values)
    if "category" in columns:
        columns["category_id"] = await category_id(conn, columns.pop("category"))
    if isinstance(columns.get("unit"), Unit):
        columns["unit"] = columns["unit"].value
    if columns:
        await conn.execute(
            update(Product).where(Product.id == product_id).values(**columns, updated_at=func.now())
        )


async def import_catalog(conn: AsyncConnection, shop: Shop, items: list[CatalogItem]) -> Imported:
    """Each item updates the product of that category and name (any case), or is added;
    products not among the items are left as they are. All or nothing: the plan is
    checked once at the end."""
    created = updated = 0
    async with conn.begin_nested():
        for item in items:
            if await _import_one(conn, item):
                created += 1
            else:
                updated += 1
        await within_plan(conn, shop)
    return Imported(created=created, updated=updated)


async def _import_one(conn: AsyncConnection, item: CatalogItem) -> bool:
    """True when the item was added, False when it updated a product."""
    category = await category_id(conn, item.category)
    values = {
        "price": item.price,
        "unit": item.unit.value,
        "description": item.description,
        "stock": item.stock,
        "active": item.active,
    }
    changed = await conn.execute(
        update(Product)
        .where(Product.category_id == category, func.lower(Product.name) == item.name.lower())
        .values(**values, updated_at=func.now())
        .returning(Product.id)
    )
    if changed.first() is not None:
        return False
    await conn.execute(
        insert(Product).values(
            category_id=category, name=item.name, position=_NEXT_PRODUCT, **values
        )
    )
    return True


async def within_plan(conn: AsyncConnection, shop: Shop) -> None:
    """After a change that may add active products (in its transaction): ProductLimit
    when the shop now has more than its plan allows."""
    if shop.product_limit is None:
        return
    active = (
        await conn.execute(select(func.count()).select_from(Product).where(Product.active))
    ).scalar_one()
    if active > shop.product_limit:
        raise ProductLimit(await plan_name(conn, shop), shop.product_limit, active)


async def plan_name(conn: AsyncConnection, shop: Shop) -> str:
    """The plan's name as the shop knows it ("Básico"), its code when unknown."""
    name = (await conn.execute(select(Plan.name).where(Plan.code == shop.plan))).scalar()
    return str(name or shop.plan)
