"""HTTP handlers of `/webhook`.

GET answers Meta's verification handshake. POST checks size, then the signature over the
raw bytes, then the shape, then hands the body to the processor; it answers 200 only
after every message in it is committed (or recorded as unhandled), and 503 when that
could not be done, so Meta retries. It never answers 500.
"""

from __future__ import annotations

import hmac
import logging
import time

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from chatcentral.config import Settings
from chatcentral.logs import log_context, request_id_from
from chatcentral.metrics import WEBHOOK_LATENCY, WEBHOOK_REQUESTS
from chatcentral.webhook.processor import DatabaseUnavailable, WebhookProcessor
from chatcentral.whatsapp import signature
from chatcentral.whatsapp.payloads import InvalidEnvelope, parse_envelope

log = logging.getLogger(__name__)

# Meta batches up to 1,000 updates and bodies reach 3 MB: leave headroom above that.
MAX_BODY_BYTES = 4 * 1024 * 1024


class _TooLarge(Exception):
    pass


async def verify_handshake(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    params = request.query_params
    expected = settings.whatsapp_verify_token
    token = params.get("hub.verify_token", "")
    if (
        expected is not None
        and params.get("hub.mode") == "subscribe"
        and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    ):
        log.info("webhook verification handshake accepted")
        return PlainTextResponse(params.get("hub.challenge", ""))
    log.warning("webhook verification handshake refused (mode=%s)", params.get("hub.mode"))
    return PlainTextResponse("Forbidden", status_code=403)


async def receive(request: Request) -> Response:
    started = time.perf_counter()
    # Every line logged while handling this body carries its id (and, deeper in, the
    # shop's slug and the message's wamid): one webhook's story can be read on its own.
    request_id = request_id_from(request.headers.get("x-request-id"))
    with log_context(request_id=request_id):
        response = await _receive(request)
    response.headers["X-Request-Id"] = request_id
    WEBHOOK_LATENCY.observe(time.perf_counter() - started)
    WEBHOOK_REQUESTS.labels(outcome=str(response.status_code)).inc()
    return response


async def _receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    processor: WebhookProcessor = request.app.state.processor
    try:
        body = await _read_body(request)
    except _TooLarge:
        log.warning("webhook body over %d bytes refused", MAX_BODY_BYTES)
        return PlainTextResponse("Payload Too Large", status_code=413)
    except ClientDisconnect:
        return PlainTextResponse("Client Closed Request", status_code=400)
    secret = settings.whatsapp_app_secret
    assert secret is not None  # required at start-up
    if not signature.verify(secret.get_secret_value(), body, request.headers.get(signature.HEADER)):
        reason = "missing" if signature.HEADER not in request.headers else "wrong"
        log.warning("webhook refused: %s X-Hub-Signature-256 (%d bytes)", reason, len(body))
        return PlainTextResponse("Unauthorized", status_code=401)
    try:
        envelope = parse_envelope(body)
    except InvalidEnvelope as exc:
        log.warning("webhook refused: %s", exc)
        return PlainTextResponse(f"Bad Request: {exc}", status_code=400)
    try:
        await processor.process(envelope)
    except DatabaseUnavailable as exc:
        log.error("webhook not acknowledged, database unavailable (%s); Meta will retry", exc)
        return PlainTextResponse("Service Unavailable", status_code=503)
    except Exception:
        # Every item is isolated, so this is a defect of ours, not of the body. Nothing
        # was acknowledged: ask Meta to retry (a fixed release then takes it) rather than
        # answer 500, and keep the trace.
        log.exception("webhook not acknowledged: unexpected failure; Meta will retry")
        return PlainTextResponse("Service Unavailable", status_code=503)
    return PlainTextResponse("OK")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
