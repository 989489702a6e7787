"""An output written to the customer's own bucket (Tinify's `store`): Amazon S3 with the credentials the
request carries, or Google Cloud Storage with the OAuth access token it carries. Only the providers' own
endpoints are addressed (for S3 the region picks one; for GCS, CRUSH_GCS_ENDPOINT, which only an operator
sets), so no address the caller chooses is ever contacted."""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

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
# The same headers as GCS object metadata (Expires has no GCS counterpart).
_GCS_METADATA = {
    "cache-control": "cacheControl",
    "content-disposition": "contentDisposition",
    "content-language": "contentLanguage",
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


@dataclass(frozen=True, slots=True)
class GcsTarget:
    access_token: str
    path: str  # "<bucket>/<object name>"
    headers: dict[str, str] = field(default_factory=dict)


def output_store_gcs(*, target: GcsTarget, data: bytes, content_type: str) -> str:
    """Uploads `data` to `target` (the JSON API's multipart upload: the object's metadata, then its bytes)
    and returns the object's URL."""
    bucket, _, name = target.path.strip("/").partition("/")
    if not bucket or not name:
        raise ValidationFailed({"store": ["path must be <bucket>/<object name>."]})
    metadata = {"name": name, "contentType": content_type}
    for header, value in target.headers.items():
        key = _GCS_METADATA.get(header.lower())
        if key is None:
            raise ValidationFailed({"store": [f"The header {header} cannot be set."]})
        metadata[key] = value
    boundary = secrets.token_hex(16)
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(metadata)}\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    endpoint = settings.CRUSH_GCS_ENDPOINT.rstrip("/")
    request = urllib.request.Request(  # noqa: S310 - CRUSH_GCS_ENDPOINT is checked to be http(s) at start-up
        f"{endpoint}/upload/storage/v1/b/{quote(bucket, safe='')}/o?{urlencode({'uploadType': 'multipart'})}",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {target.access_token}",
            "Content-Type": f"multipart/related; boundary={boundary}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=STORE_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        logger.info("store to gcs bucket refused: HTTP %s", exc.code)
        raise StoreFailed(f"Your bucket refused the upload (HTTP {exc.code}).") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        logger.info("store to gcs failed: %s", type(exc).__name__)
        raise StoreFailed() from exc
    return f"https://storage.googleapis.com/{quote(bucket)}/{quote(name)}"
