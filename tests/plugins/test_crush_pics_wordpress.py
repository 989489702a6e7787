"""The Crush.pics WordPress plugin (`crush-pics/crush-pics-wp`), replayed request by request as its PHP builds
them: cURL with `Content-Type: application/json`, `Accept: application/json` and `Authorization: Bearer <key>`
on every call (the GET too), bodies from PHP's `json_encode`, against `https://api.crush.pics/v1/`. Each test
asserts what the plugin then reads from the answer, and the condition it checks."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import quota_reserve
from tests.compression.pipeline_support import jpeg
from tests.plugins.conftest import fetch, php_json_encode

UPLOAD_PATH = "/wp-content/uploads/2024/05/photo.jpg"
WEBHOOK_PATH = "/wp-json/crush/webhook"


def curl(token: str, method: str, path: str, body: str = "") -> Any:
    """One `curl_exec` of Api_Requests: POSTFIELDS (if any) is the JSON string; always these headers."""
    return APIClient().generic(
        method,
        f"/v1/{path}",
        body,
        content_type="application/json",
        secure=True,
        CONTENT_TYPE="application/json",  # sent on a GET without a body too
        HTTP_ACCEPT="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def compress_request_body(image_url: str, compression_type: str, compression_level: int | None = None) -> str:
    """Api_Requests::compress_request: the JSON string is concatenated (the level unquoted, only for `lossy`),
    decoded and encoded again, so it goes out in this key order with `/` escaped."""
    data: dict[str, Any] = {"image_url": image_url, "compression_type": compression_type}
    if compression_level and compression_type == "lossy":
        data["compression_level"] = compression_level
    data["origin"] = "wp"
    return php_json_encode(data)


def php_datetime_parses(value: str) -> bool:
    """`new DateTime($value)` (class-ajax.php) accepts ISO 8601 with a `Z`."""
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def test_api_key_validation_request_answers_login_plan_data_and_next_charge(
    account: Account, token: str
) -> None:
    """inc/class-api-requests.php Api_Requests::api_key_validation_request (GET shop), read by
    inc/class-ajax.php Image_Compression_Ajax::wpic_validate_account:
    `isset($results['shop']['plan_data']) && isset($results['shop']['login'])`, then plan_data quota_usage,
    bytes and name (class-admin-menu.php), and `next_charge_at` given to `new DateTime`."""
    response = curl(token, "GET", "shop")

    assert response.status_code == 200, response.content
    shop = response.json()["shop"]
    assert shop["login"] == account.login
    plan_data = shop["plan_data"]
    assert isinstance(plan_data["quota_usage"], int)
    assert isinstance(plan_data["bytes"], int) and plan_data["bytes"] > plan_data["quota_usage"]
    assert isinstance(plan_data["name"], str)
    assert shop["next_charge_at"] is None or php_datetime_parses(shop["next_charge_at"])


def test_api_key_validation_request_with_a_wrong_key_is_not_valid(db: None) -> None:
    """Api_Requests::api_key_validation_request with a mistyped key: wpic_validate_account answers
    `not-valid` unless `shop.plan_data` and `shop.login` are set."""
    response = curl("not-a-key", "GET", "shop")

    assert response.status_code == 401
    assert "shop" not in response.json()


def test_add_callback_url_registers_the_wp_json_webhook(token: str, httpserver: HTTPServer) -> None:
    """inc/class-api-requests.php Api_Requests::add_callback_url (POST callback_urls, `{"url": <rest url>}`),
    called by wpic_validate_account and on every permalink change; the answer is not read."""
    url = httpserver.url_for(WEBHOOK_PATH)

    response = curl(token, "POST", "callback_urls", php_json_encode({"url": url}))

    assert response.status_code == 201, response.content
    listed = curl(token, "GET", "callback_urls").json()["callback_urls"]
    assert [row["url"] for row in listed] == [url]


def test_add_callback_url_again_keeps_one_callback_url(token: str, httpserver: HTTPServer) -> None:
    """Api_Requests::add_callback_url twice with the same REST URL (wpic_validate_account, then
    Api_Requests::update_crush_callback_url after a permalink change)."""
    body = php_json_encode({"url": httpserver.url_for(WEBHOOK_PATH)})
    curl(token, "POST", "callback_urls", body)

    curl(token, "POST", "callback_urls", body)

    assert len(curl(token, "GET", "callback_urls").json()["callback_urls"]) == 1


def test_update_account_patches_settings_and_adds_the_callback_url(
    token: str, httpserver: HTTPServer
) -> None:
    """inc/class-api-requests.php Api_Requests::update_account (PATCH shop, CURLOPT_CUSTOMREQUEST, JSON body
    with only the fields given; WordPress options arrive as strings), sent twice as a settings save would."""
    url = httpserver.url_for(WEBHOOK_PATH)
    body = php_json_encode(
        {
            "compression_type": "lossy",
            "compression_level_jpg": "70",
            "compression_level_png": "60",
            "compression_level_gif": "50",
            "callback_url": url,
        }
    )

    first = curl(token, "PATCH", "shop", body)
    again = curl(token, "PATCH", "shop", body)

    assert first.status_code == 200, first.content
    assert again.status_code == 200, again.content
    shop = again.json()["shop"]
    assert (shop["compression_type"], shop["compression_level_jpg"], shop["compression_level_png"]) == (
        "lossy",
        70,
        60,
    )
    assert [row["url"] for row in shop["callback_urls"]] == [url]


@pytest.mark.parametrize(
    ("compression_type", "compression_level"),
    [("balanced", None), ("lossless", None), ("lossy", 65)],
)
def test_compress_request_is_accepted_as_compress_image_checks(
    token: str,
    httpserver: HTTPServer,
    django_capture_on_commit_callbacks: Any,
    compression_type: str,
    compression_level: int | None,
) -> None:
    """inc/class-api-requests.php Api_Requests::compress_request (POST original_images with image_url,
    compression_type, compression_level for lossy, origin "wp"), read by inc/class-image-functions.php
    Image_Functions::compress_image: status 402 or not, then
    `if (!empty($results['original_image']) && $results['success'])` and the original's id, status and
    created_at (each `!empty`)."""
    httpserver.expect_request(UPLOAD_PATH).respond_with_data(jpeg(160, 120), content_type="image/jpeg")
    body = compress_request_body(httpserver.url_for(UPLOAD_PATH), compression_type, compression_level)

    with django_capture_on_commit_callbacks(execute=True):
        response = curl(token, "POST", "original_images", body)

    assert response.status_code == 200, response.content
    results = response.json()
    assert results["original_image"] and results["success"] is True
    original = results["original_image"]
    assert original["id"] and original["status"] and original["created_at"]
    assert php_datetime_parses(original["created_at"])
    assert (original["origin"], original["compression_type"]) == ("wp", compression_type)
    done = curl(token, "GET", f"original_images/{original['id']}").json()["original_image"]
    assert done["status"] == "completed"


@pytest.mark.slow
def test_compress_request_answers_the_original_size_compress_image_records(
    token: str, httpserver: HTTPServer, live_worker: Callable[..., Any], settings: Any
) -> None:
    """Api_Requests::compress_request, read by Image_Functions::compress_image: `$original_size =
    $results['original_image']['size']` must be non-empty for the row (and crushed_id) to be saved. The
    download runs on a real worker's `fetch` queue while the request waits for it (never in the request)."""
    settings.CRUSH_URL_SIZE_WAIT_SECONDS = 60
    live_worker(queues="fetch,compression")
    photo = jpeg(160, 120)
    httpserver.expect_request(UPLOAD_PATH).respond_with_data(photo, content_type="image/jpeg")

    response = curl(
        token, "POST", "original_images", compress_request_body(httpserver.url_for(UPLOAD_PATH), "balanced")
    )

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert response.json()["original_image"]["size"] == len(photo)


def test_compress_request_with_the_allowance_used_up_is_402_with_formatted_message(
    account: Account, token: str, httpserver: HTTPServer
) -> None:
    """Api_Requests::compress_request once the month's allowance is used, read by
    Image_Functions::compress_image: `if ($results_json['status'] == 402)` sets `quota_end`, and
    `elseif (isset($results['formatted_message']))` shows that sentence."""
    assert account.plan_bytes is not None
    quota_reserve(account=account, size_bytes=account.plan_bytes)
    httpserver.expect_request(UPLOAD_PATH).respond_with_data(jpeg(160, 120), content_type="image/jpeg")

    response = curl(
        token, "POST", "original_images", compress_request_body(httpserver.url_for(UPLOAD_PATH), "balanced")
    )

    assert response.status_code == 402, response.content
    results = response.json()
    assert results["success"] is False and not results.get("original_image")
    assert isinstance(results["formatted_message"], str) and results["formatted_message"]


def test_compress_request_without_a_saved_compression_type_shows_formatted_message(
    token: str, httpserver: HTTPServer
) -> None:
    """Api_Requests::compress_request from Image_Compression_Ajax::wpic_single_image_media_compress, whose
    compression type falls back to `get_option('compression_type', '-')`; compress_image shows
    `$results['formatted_message']` as the error: one sentence, not a field map."""
    body = compress_request_body(httpserver.url_for(UPLOAD_PATH), "-")

    response = curl(token, "POST", "original_images", body)

    assert response.status_code == 422, response.content
    results = response.json()
    assert results["success"] is False and not results.get("original_image")
    message = results["formatted_message"]
    assert isinstance(message, str) and message and "\n" not in message
    assert "compression_type" in message


def test_compress_request_then_webhook_then_download(
    account: Account, token: str, httpserver: HTTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    """The plugin's whole sequence: Api_Requests::api_key_validation_request (keeps `shop.login` as the shop
    identifier), Api_Requests::add_callback_url, Api_Requests::compress_request; then its listener
    (Api_Requests::wpic_webhooks_listener, answering 201) matches `event` and `shop_identifier`, reads
    `quota_usage`, and Image_Functions::compress_image_webhook_callaback reads `image_id` and
    `optimized_images[0]` `size` and `link`, which Image_Functions::get_image_data downloads."""
    source = jpeg(160, 120)
    httpserver.expect_request(UPLOAD_PATH).respond_with_data(source, content_type="image/jpeg")
    httpserver.expect_request(WEBHOOK_PATH, method="POST").respond_with_data("{}", status=201)
    shop_identifier = curl(token, "GET", "shop").json()["shop"]["login"]
    curl(token, "POST", "callback_urls", php_json_encode({"url": httpserver.url_for(WEBHOOK_PATH)}))

    with django_capture_on_commit_callbacks(execute=True):
        submitted = curl(
            token,
            "POST",
            "original_images",
            compress_request_body(httpserver.url_for(UPLOAD_PATH), "balanced"),
        )

    crushed_id = submitted.json()["original_image"]["id"]
    [event] = [
        json.loads(request.get_data()) for request, _ in httpserver.log if request.path == WEBHOOK_PATH
    ]
    assert (event["event"], event["shop_identifier"], event["image_id"]) == (
        "optimized",
        shop_identifier,
        crushed_id,
    )
    assert isinstance(event["quota_usage"], int) and event["quota_usage"] >= len(source)
    first = event["optimized_images"][0]
    assert isinstance(first["size"], int) and 0 < first["size"] <= len(source)
    assert len(fetch(first["link"])) == first["size"]
