"""moto's S3 server on 127.0.0.1 for tests of the S3 media store, and settings that
point at a fresh bucket of it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from chatcentral.config import Settings
from chatcentral.media.store import s3_client


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def with_bucket(settings: Settings, endpoint: str) -> Settings:
    """`settings` with a new, empty bucket of the S3 server at `endpoint`."""
    configured = settings.model_copy(
        update={
            "chatcentral_s3_bucket": f"media-{uuid.uuid4().hex[:12]}",
            "aws_endpoint_url": endpoint,
            "aws_region": "us-east-1",
            "aws_access_key_id": SecretStr("testing"),
            "aws_secret_access_key": SecretStr("testing"),
        }
    )
    s3_client(configured).create_bucket(Bucket=configured.chatcentral_s3_bucket)
    return configured


def objects(settings: Settings) -> dict[str, bytes]:
    """Every object of the settings' bucket, by key."""
    client = s3_client(settings)
    bucket = settings.chatcentral_s3_bucket
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }
