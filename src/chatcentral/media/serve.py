"""`GET /media/{token}`: a file of the local store, for whoever holds a valid, unexpired
link (`links.py`). With S3 configured, links go to S3 itself and this route answers 404.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from chatcentral.media.store import LocalStore, disposition


async def serve_media(request: Request) -> Response:
    store = getattr(request.app.state, "media_store", None)
    if not isinstance(store, LocalStore):
        return _not_found()
    signer = store.signer()
    if signer is None:
        return _not_found()
    link = signer.verify(request.path_params["token"], time.time())
    if link is None:
        return _not_found()  # forged, altered or expired: nothing said about which
    try:
        path = store.path(link.key)
    except ValueError:
        return _not_found()
    if not path.is_file():
        return _not_found()
    left = max(int(link.expires_at - time.time()), 0)
    return FileResponse(
        path,
        media_type=link.mime,
        headers={
            "Content-Disposition": disposition(link.filename),
            # The browser must take the stored type as given, never guess another.
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": f"private, max-age={left}",
        },
    )


def _not_found() -> Response:
    return PlainTextResponse("not found", status_code=404)
