"""An output written to the customer's own bucket (Tinify's `store`): Amazon S3 with the credentials the
request carries. Only AWS's own endpoints are addressed (the region picks one), so no address the caller
chooses is ever contacted."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crush.lib.errors import CrushError, ValidationFailed

logger = logging.getLogger(__name__)

STORE_TIMEOUT_SECONDS = 30  # connect and read, each: an upload of one image, however slow the link
DEFAULT_REGION = "us-east-1"
# Headers a customer may set on the object (Tinify documents Cache-Control; the others are as harmless).
_HEADER_ARGUMENTS = {
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-language": "ContentLanguage",
    "expires": "Expires",
}


class StoreFailed(CrushError):
    """The customer's bucket refused the upload (credentials, permissions, bucket name) or could not be
    reached: the request's fault or the network's, never ours."""

    code = "store_failed"
    status = 400
    default_message = "The upload to your bucket failed."


@dataclass(frozen=True, slots=True)
class S3Target:
    access_key_id: str
    secret_access_key: str
    region: str
    path: str  # "<bucket>/<key>"
    acl: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def output_store_s3(*, target: S3Target, data: bytes, content_type: str) -> str:
    """Uploads `data` to `target` and returns the object's URL."""
    bucket, _, key = target.path.strip("/").partition("/")
    if not bucket or not key:
        raise ValidationFailed({"store": ["path must be <bucket>/<key>."]})
    extra: dict[str, str] = {"ContentType": content_type}
    for name, value in target.headers.items():
        argument = _HEADER_ARGUMENTS.get(name.lower())
        if argument is None:
            raise ValidationFailed({"store": [f"The header {name} cannot be set."]})
        extra[argument] = value
    if target.acl:
        extra["ACL"] = target.acl
    client = boto3.client(
        "s3",
        region_name=target.region or DEFAULT_REGION,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=Config(
            connect_timeout=STORE_TIMEOUT_SECONDS,
            read_timeout=STORE_TIMEOUT_SECONDS,
            retries={"max_attempts": 2},
        ),
    )
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, **extra)  # type: ignore[arg-type]
    except ClientError as exc:
        reason = exc.response.get("Error", {}).get("Code", "error")
        logger.info("store to s3 bucket refused: %s", reason)
        raise StoreFailed(f"Your bucket refused the upload ({reason}).") from exc
    except BotoCoreError as exc:
        logger.info("store to s3 failed: %s", type(exc).__name__)
        raise StoreFailed() from exc
    return f"https://s3.{target.region or DEFAULT_REGION}.amazonaws.com/{quote(bucket)}/{quote(key)}"
