"""A product's photo in the panel: the page that shows it with an upload form, the image
itself (from the media store, served by the panel: its CSP allows images from itself
only), and removing it. Storing and checking live in `products/photos.py`, shared with
the API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatcentral.conversation.shop import Shop
from chatcentral.media.store import Store
from chatcentral.panel.access import Session
from chatcentral.panel.render import page
from chatcentral.panel.requests import PREFIX, not_found, notice_of, path_id, signed_in, uploads_of
from chatcentral.products.photos import (
    PhotoRefused,
    ProductPhoto,
    attach_photo,
    key_mime,
    product_photo,
    remove_photo,
)

REFUSALS = {
    "empty": "Elige una foto antes de subirla.",
    "not_image": "Esa foto no es JPG ni PNG. Prueba con otra.",
    "mismatch": "Esa foto no es JPG ni PNG. Prueba con otra.",
    "too_large": "La foto pesa más de 5 MB. Prueba con una más ligera.",
}
NOTICES = {"saved": "¡Listo! La foto ya sale en WhatsApp.", "removed": "Quitamos la foto."}


def _store(request: Request) -> Store:
    store: Store = request.app.state.media_store
    return store


def _page_of(product_id: int) -> str:
    return f"{PREFIX}/products/{product_id}/photo"


async def _product(conn: AsyncConnection, request: Request) -> ProductPhoto | None:
    product_id = path_id(request, "product_id")
    return await product_photo(conn, product_id) if product_id is not None else None


def _show(
    product: ProductPhoto, session: Session, shop: Shop, *, status: int = 200, **say: str | None
) -> Response:
    version = product.image_key.rsplit("/", 1)[-1][:16] if product.image_key else None
    return page(
        "photo.html",
        status,
        product=product,
        shop=shop,
        csrf=session.csrf_token,
        version=version,
        **say,
    )


async def _photo_page(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    product = await _product(conn, request)
    if product is None:
        return not_found()
    notice = notice_of(request, NOTICES)
    return _show(product, session, shop, notice=notice)


async def _image(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    product = await _product(conn, request)
    if product is None or not product.image_key:
        return not_found()
    try:
        data = await _store(request).get(product.image_key)
    except KeyError:
        return not_found()
    # The page asks for it with the photo's own version in the address: a new photo is
    # a new address, so the browser may keep this one.
    headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=key_mime(product.image_key), headers=headers)


async def _upload(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    product = await _product(conn, request)
    if product is None:
        return not_found()
    upload = uploads_of(request).get("photo")
    data, declared = (upload.data, upload.content_type) if upload else (b"", "")
    try:
        await attach_photo(conn, _store(request), shop, product.id, data, declared)
    except PhotoRefused as refused:
        return _show(product, session, shop, status=422, error=REFUSALS[refused.reason])
    return RedirectResponse(f"{_page_of(product.id)}?ok=saved", status_code=303)


async def _remove(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    product = await _product(conn, request)
    if product is None:
        return not_found()
    await remove_photo(conn, _store(request), product.id)
    return RedirectResponse(f"{_page_of(product.id)}?ok=removed", status_code=303)


def routes() -> list[Route]:
    path = "/products/{product_id:int}/photo"
    return [
        Route(path, signed_in(_photo_page), methods=["GET"]),
        Route(path, signed_in(_upload), methods=["POST"]),
        Route(path + ".img", signed_in(_image), methods=["GET"]),
        Route(path + "/remove", signed_in(_remove), methods=["POST"]),
    ]
