"""The online checks (skipped with `--offline`): each active shop's number and token on the
Graph API, and the S3 bucket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from chatcentral.config import ConfigError, Settings
from chatcentral.preflight.database import Shop
from chatcentral.preflight.results import Result, failed, passed
from chatcentral.tenancy.secrets import token_for


def check_graph_api(
    settings: Settings, shops: list[Shop], transport: httpx.BaseTransport | None
) -> Iterator[Result]:
    active = [shop for shop in shops if shop.active]
    if not active:
        yield passed("graph api", "no active shops to check")
        return
    base = f"{settings.whatsapp_api_base_url}/{settings.whatsapp_api_version}"
    with httpx.Client(timeout=10, transport=transport) as client:
        for shop in active:
            name = f"graph api {shop.slug}"
            try:
                token = token_for(settings, shop.token)
            except ConfigError as exc:
                yield failed(name, str(exc), "set CHATCENTRAL_TOKEN_KEY (see `token key`)")
                continue
            if token is None:
                yield failed(name, "no access token", "set WHATSAPP_ACCESS_TOKEN")
                continue
            yield _number(client, base, shop, token)


def _number(client: httpx.Client, base: str, shop: Shop, token: str) -> Result:
    name = f"graph api {shop.slug}"
    try:
        response = client.get(
            f"{base}/{shop.phone_number_id}",
            params={"fields": "display_phone_number,quality_rating"},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        return failed(
            name,
            f"Graph API unreachable ({type(exc).__name__})",
            "check outbound HTTPS from this machine and WHATSAPP_API_BASE_URL",
        )
    if response.status_code == 200:
        data = response.json()
        return passed(
            name,
            f"number {data.get('display_phone_number', '?')}, quality "
            f"{data.get('quality_rating', '?')}",
        )
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    detail = f"HTTP {response.status_code}, code {code}"
    if code == 190 or response.status_code == 401:
        owner = "the shop's own token" if shop.token is not None else "WHATSAPP_ACCESS_TOKEN"
        return failed(name, f"{detail}: token rejected", f"renew {owner} in Meta Business settings")
    if code in (10, 200) or response.status_code == 403:
        return failed(
            name,
            f"{detail}: the token may not use this number",
            "give the system user the whatsapp_business_messaging permission on the number's WABA",
        )
    return failed(
        name,
        f"{detail}: phone number id {shop.phone_number_id} not found",
        f"check the shop's phone_number_id (WhatsApp Manager → API setup) for {shop.slug}",
    )


def check_bucket(settings: Settings) -> Result:
    if not settings.chatcentral_s3_bucket:
        return passed("s3", "no bucket configured (media archive off)")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    bucket = settings.chatcentral_s3_bucket
    client = boto3.client(
        "s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return failed(
            "s3",
            f"bucket {bucket}: no AWS credentials",
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchBucket"}:
            return failed(
                "s3",
                f"bucket {bucket} does not exist",
                f"create bucket {bucket} or fix CHATCENTRAL_S3_BUCKET",
            )
        if code in {"403", "AccessDenied"}:
            return failed(
                "s3",
                f"bucket {bucket}: access denied",
                "grant the AWS_* credentials s3:GetObject/PutObject on it",
            )
        return failed("s3", f"bucket {bucket}: {exc}", "check CHATCENTRAL_S3_BUCKET and AWS_*")
    except BotoCoreError as exc:
        return failed("s3", f"bucket {bucket}: {exc}", "check AWS_ENDPOINT_URL and AWS_REGION")
    return passed("s3", f"bucket {bucket} reachable")
