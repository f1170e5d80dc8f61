"""respx for every HTTP call the code makes, the Graph API's sends included.

httpx clients are intercepted where respx's own `HTTPXMocker` does (the client's transport
for a URL). The Graph client sends on aiohttp directly, through one narrow method,
`GraphClient._exchange(url, headers, content) -> (status, body)`: here it becomes an
`httpx.Request` for the routers, and a route's answer, or the exception a route raises,
becomes what the real method returns or raises. A route marked pass-through reaches the
real method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import httpx
from respx.mocks import HTTPXMocker
from respx.models import PassThrough

from chatcentral.whatsapp.graph import GraphClient

Exchange = Callable[[GraphClient, str, dict[str, str], bytes], Awaitable[tuple[int, bytes]]]


class GraphMocker(HTTPXMocker):
    name = "httpx+graph"
    targets: ClassVar[list[str]] = [*HTTPXMocker.targets, "chatcentral.whatsapp.graph.GraphClient"]
    target_methods: ClassVar[list[str]] = [*HTTPXMocker.target_methods, "_exchange"]

    @classmethod
    def mock(cls, spec: Any) -> Any:
        if spec.__name__ != "_exchange":
            return super().mock(spec)
        real: Exchange = spec

        async def _exchange(
            self: GraphClient, url: str, headers: dict[str, str], content: bytes
        ) -> tuple[int, bytes]:
            request = httpx.Request("POST", url, headers=headers, content=content)
            try:
                response = await cls.async_handler(request)
            except PassThrough:
                return await real(self, url, headers, content)
            except httpx.TimeoutException:
                raise TimeoutError from None
            except httpx.TransportError as exc:
                raise ConnectionError(type(exc).__name__) from None
            return response.status_code, await response.aread()

        return _exchange
