"""The admin API's pure parts: cursors, list-valued query fields, storable text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatcentral.api import pages
from chatcentral.api.endpoint import list_fields
from chatcentral.api.fields import BIGINT_MAX, Name
from chatcentral.api.openapi import openapi_path
from chatcentral.api.orders import OrderQuery


@given(st.integers(1, BIGINT_MAX))
def test_a_cursor_names_the_id_it_was_made_from(last_id: int) -> None:
    assert pages.decode(pages.encode(last_id)) == last_id


@given(st.text(max_size=30))
def test_anything_else_is_not_a_cursor(text: str) -> None:
    try:
        value = pages.decode(text)
    except ValueError:
        return
    assert pages.encode(value) == text  # only the cursors the API gives pass


def test_out_of_range_cursors_are_refused() -> None:
    assert pages.encode(1) == "YWZ0ZXI6MQ"
    for bad in ("YWZ0ZXI6MR", "YWZ0ZXI6MQ==", "", "YWZ0ZXI6MA", "YWZ0ZXI6LTE", "YWZ0ZXI6MDE"):
        with pytest.raises(ValueError):
            pages.decode(bad)


def test_a_page_is_cut_at_its_limit_with_the_next_cursor() -> None:
    assert pages.page([5, 4, 3], [5, 4, 3], 2) == ([5, 4], pages.encode(4))
    assert pages.page([5, 4], [5, 4], 2) == ([5, 4], None)


def test_list_fields_are_the_repeated_query_parameters() -> None:
    class Query(BaseModel):
        many: list[str] | None = None
        also: list[int] = []
        one: str | None = None

    assert list_fields(Query) == {"many", "also"}
    assert list_fields(OrderQuery) == {"status"}


def test_text_postgresql_would_refuse_is_refused() -> None:
    name = TypeAdapter(Name)
    assert name.validate_python("  Café  ") == "Café"
    for bad in ("a\x00b", "a\ud800", "   ", "", "x" * 201):
        with pytest.raises(ValidationError):
            name.validate_python(bad)


def test_openapi_paths_drop_the_convertors() -> None:
    assert openapi_path("/orders/{order_id:int}/status") == "/orders/{order_id}/status"
