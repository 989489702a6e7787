from collections.abc import Callable, Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from accounts import services
from accounts.models import Account
from tests.live_web import live_web, live_web_servers  # noqa: F401 - a real gunicorn for the official client


@pytest.fixture
def kraken_auth(db) -> Callable[[Account], dict[str, str]]:  # type: ignore[no-untyped-def]
    """`{"api_key", "api_secret"}` of a fresh key/secret pair of the account."""

    def issue(account: Account) -> dict[str, str]:
        issued = services.api_key_create(account=account)
        return {"api_key": issued.api_key.key, "api_secret": issued.secret}

    return issue


CUSTOMER_BUCKET = "customer-bucket"


@pytest.fixture
def customer_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A customer's bucket on a loopback S3-protocol server (moto), reached the way boto3 is pointed at any
    such server (AWS_ENDPOINT_URL_S3); yields that endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_address[1]  # type: ignore[union-attr]  # bound to port 0: the one it got
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket=CUSTOMER_BUCKET)
    yield endpoint
    server.stop()
