"""Catalog CSV import: good files load, the first bad row is named by its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chatcentral.models.tenant import Unit
from chatcentral.resources import resource_dir
from chatcentral.tenancy.catalog import CatalogError, parse_catalog, read_catalog

HEADER = "name,category,price,unit,description,stock,active\n"


def test_a_good_file_loads_with_decimals_units_and_flags() -> None:
    items = parse_catalog(
        HEADER
        + "Jitomate,Verduras,32.50,kg,Fresco,12.5,true\n"
        + '"Huevo, 12 piezas",Lácteos,42,BOX,,,no\n'
        + "Garrafón 20 L,Agua,35.00,garrafón,,,\n"
    )
    assert [i.name for i in items] == ["Jitomate", "Huevo, 12 piezas", "Garrafón 20 L"]
    assert items[0].price == Decimal("32.50") and items[0].unit is Unit.KG
    assert items[0].stock == Decimal("12.5")
    assert items[1].price == Decimal("42.00") and items[1].active is False
    assert items[1].stock is None and items[1].description is None
    assert items[2].unit is Unit.GARRAFON and items[2].active is True


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("A,B,1.00,KG,,,true\nC,D,doce,KG,,,true\n", "catalog:3: price 'doce' is not a number"),
        ("A,B,1.00,KG,,,true\nC,D,-1,KG,,,true\n", "catalog:3: price '-1' must be zero or more"),
        ("A,B,1.005,KG,,,true\n", "catalog:2: price '1.005' has more than 2 decimals"),
        ("A,B,1.00,KG,,,true\nA,B,2.00,kilo,,,true\n", "catalog:3: unit 'kilo' is not one of"),
        ("A,B,1.00,KG,,,true\n\nC,D,1.00\n", "catalog:4: expected 7 fields, got 3"),
        (",B,1.00,KG,,,true\n", "catalog:2: name is empty"),
        ("A,,1.00,KG,,,true\n", "catalog:2: category is empty"),
        ("A,B,1.00,PIECE,,2.5,true\n", "catalog:2: stock '2.5' must be a whole number"),
        ("A,B,1.00,KG,,,quizá\n", "catalog:2: active 'quizá' must be true or false"),
        ("A,B,1.00,KG,,,true\na,b,2.00,KG,,,true\n", "catalog:3: duplicate product 'a'"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_number(rows: str, message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(HEADER + rows)
    assert str(caught.value).startswith(message)


def test_missing_columns_and_empty_files_are_refused() -> None:
    with pytest.raises(CatalogError, match="catalog:1: missing column"):
        parse_catalog("name,category,price\nA,B,1\n")
    with pytest.raises(CatalogError, match="empty file"):
        parse_catalog("")


def test_files_name_themselves_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "productos.csv"
    path.write_bytes((HEADER + "A,B,x,KG,,,true\n").encode())
    with pytest.raises(CatalogError, match=r"productos.csv:2: price 'x'"):
        read_catalog(path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(CatalogError, match="not UTF-8"):
        read_catalog(path)
    with pytest.raises(CatalogError, match="file not found"):
        read_catalog(tmp_path / "missing.csv")


def test_demo_catalogs_are_valid_and_sized_for_a_demo() -> None:
    grocery = read_catalog(resource_dir("flows") / "catalogs" / "grocery.csv")
    water = read_catalog(resource_dir("flows") / "catalogs" / "water_delivery.csv")
    assert 24 <= len(grocery) <= 30
    assert len({item.category for item in grocery}) == 5
    names = {item.name for item in water}
    assert {"Garrafón 20 L (recarga)", "Garrafón 20 L (nuevo)", "Garrafón 10 L (recarga)"} <= names
    assert any(item.unit is Unit.BOX and "1 L" in item.name for item in water)
