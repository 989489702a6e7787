"""Webhook fixtures: loopback receivers and a way to end an original the way the pipeline does."""

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer

from accounts.models import Account
from webhooks import services
from webhooks.models import CallbackUrl, WebhookEvent


def sample_payload(*, account: Account, image_id: int = 5) -> dict:
    return {
        "shop_identifier": account.login,
        "quota_usage": 3600688,
        "image_id": image_id,
        "original_image": {"id": image_id, "status": "completed", "filename": "photo.jpg"},
        "optimized_images": [
            {
                "id": 6698,
                "style": "original",
                "status": "completed",
                "size": 40484,
                "link": "http://x/f/a.jpg",
            }
        ],
    }


@pytest.fixture
def callback_url_for(db) -> Callable[..., CallbackUrl]:  # type: ignore[no-untyped-def]
    def create(account: Account, url: str) -> CallbackUrl:
        return services.callback_url_create(account=account, url=url)

    return create


@pytest.fixture
def emit(django_capture_on_commit_callbacks) -> Callable[..., WebhookEvent | None]:  # type: ignore[no-untyped-def]
    """Emits an `optimized` (or given) event and runs what it enqueued, as the pipeline's commit would."""

    def run(account: Account, *, event: str = "optimized", image_id: int = 5) -> WebhookEvent | None:
        with django_capture_on_commit_callbacks(execute=True):
            return services.original_image_event_emit(
                account=account,
                event=event,
                original_image_id=image_id,
                payload=sample_payload(account=account, image_id=image_id),
            )

    return run


@pytest.fixture
def receiver(httpserver: HTTPServer) -> HTTPServer:
    return httpserver


class RawReceiver:
    """A loopback TCP server misbehaving on purpose: `hang` reads the request and never answers, `close` reads
    it and closes the connection without a word."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.released = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            connection.recv(65536)
            if self.behaviour == "hang":
                self.released.wait()
            connection.close()

    def stop(self) -> None:
        self.released.set()
        self.sock.close()


@pytest.fixture
def raw_receiver() -> Iterator[Callable[[str], RawReceiver]]:
    started: list[RawReceiver] = []

    def start(behaviour: str) -> RawReceiver:
        server = RawReceiver(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
