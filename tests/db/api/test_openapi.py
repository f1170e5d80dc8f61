"""The OpenAPI document: valid OpenAPI 3.1, built from the handlers' models, and a
property-based run that sends requests generated from it (valid and not) to the app
and finds no 500, every error a problem, every success matching its declared schema."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from sqlalchemy import Engine

from chatcentral.api.orders import OrderDetail
from chatcentral.api.routes import ENDPOINTS
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, add_customer, add_order
from tests.support.openapi_strategies import Request, requests


async def test_the_document_is_openapi_31_and_names_every_operation(api: Api) -> None:
    response = await api.get("/openapi.json", key=None)  # public: it holds no shop's data
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert len(operations) == len(ENDPOINTS)
    assert ("POST", "/api/v1/orders/{order_id}/status") in operations
    schemas = document["components"]["schemas"]
    # The answer's schema is the handler's own model's.
    assert schemas["OrderDetail"]["properties"].keys() == OrderDetail.model_fields.keys()
    status = document["paths"]["/api/v1/orders/{order_id}/status"]["post"]
    assert set(status["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "422"}
    assert status["responses"]["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def _response_schema(document: dict[str, Any], request: Request, status: int) -> Any:
    for path, methods in document["paths"].items():
        operation = methods.get(request.method.lower())
        if operation is None or path.count("/") != request.url.count("/"):
            continue
        parts = zip(path.split("/"), request.url.split("/"), strict=True)
        if all(a == b or a.startswith("{") for a, b in parts):
            content = operation["responses"].get(str(status), {}).get("content", {})
            return content.get("application/json", {}).get("schema")
    return None


async def test_requests_generated_from_the_document_never_answer_500(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    for status in ("pendiente", "confirmado", "en_camino", "entregado"):
        add_order(sync_engine, "tenant_tienda", ana, status=status)
    document = (await api.get("/openapi.json", key=None)).json()
    components = {"components": document["components"]}
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {api.key}"}
    seen: dict[int, int] = {}

    def send(request: Request) -> httpx.Response:
        call = api.client.request(
            request.method,
            request.url,
            params=request.params,
            content=request.content,
            headers=request.headers,
        )
        return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)

    @settings(
        max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "400")),  # more: a longer hunt
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(document, headers), anonymous=st.integers(0, 19))
    def check(request: Request, anonymous: int) -> None:
        if anonymous == 0:  # now and then without a key: 401 whatever the request
            request = Request(request.method, request.url, request.params, request.content, {})
        response = send(request)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (request, response.text)
        if not request.headers:
            assert response.status_code in (401, 404), (request, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == response.status_code
            return
        schema = _response_schema(document, request, response.status_code)
        if schema is not None:
            jsonschema.validate(response.json(), {**schema, **components})

    await asyncio.to_thread(check)
    # The run reached the handlers, not only the refusals.
    assert seen.get(200, 0) > 20 and seen.get(422, 0) > 20, seen
