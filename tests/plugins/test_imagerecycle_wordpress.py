"""The ImageRecycle WordPress plugin, replayed request by request as its PHP builds them: the release in
`wp-plugins/imagerecycle-pdf-image-compression` and the later one in
`common-repository/imagerecycle-pdf-image-compression`.

Its bundled client (`class/ioa.class.php`, class ioaphp) sends `auth` as the JSON string
`{"key":…,"secret":…}`: in a cURL multipart body for POSTs, in the query string (`http_build_query`, with an
empty `params`) for GETs. Uploads always go to the hard-coded `https://api.imagerecycle.com/v1/images/` (the
plugin's `setAPIUrl` call is commented out), so they are replayed with that Host, which CRUSH_SURFACE_HOSTS
maps to the ImageRecycle surface."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
from django.test import override_settings
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account
from tests.compression.engine.test_metadata_preserve import COPYRIGHT, TAKEN, exif_fields, photo_with_exif
from tests.compression.pipeline_support import jpeg
from tests.plugins.conftest import CurlFile, curl_multipart, fetch, http_build_query, php_json_encode

RECYCLE_HOST = "api.imagerecycle.com"
FILES = Path(__file__).parent.parent / "files"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recycle_host() -> Iterator[None]:
    """The plugin's machine resolves api.imagerecycle.com to Crush (docs/imagerecycle.md)."""
    hosts = override_settings(
        CRUSH_SURFACE_HOSTS={RECYCLE_HOST: "imagerecycle"}, ALLOWED_HOSTS=["testserver", RECYCLE_HOST]
    )
    with hosts:
        yield


def auth_for(account: Account) -> str:
    issued = services.api_key_create(account=account)
    return php_json_encode({"key": issued.api_key.key, "secret": issued.secret})


def post_images(fields: list[tuple[str, str | CurlFile]]) -> Any:
    """ioaphp::callAPI for a POST: CURLOPT_CUSTOMREQUEST "POST", CURLOPT_POSTFIELDS the PHP array."""
    body, content_type = curl_multipart(fields)
    return APIClient().generic(
        "POST",
        "/v1/images/",
        body,  # type: ignore[arg-type]  # Django takes bytes; the stubs say str
        content_type=content_type,
        secure=True,
        HTTP_HOST=RECYCLE_HOST,
    )


def get(path: str, auth: str) -> Any:
    """ioaphp::callAPI for a GET: `$url .= '?'.http_build_query(['auth' => …, 'params' => ''])`."""
    query = http_build_query([("auth", auth), ("params", "")])
    return APIClient().get(f"/v1/{path}?{query}", secure=True, HTTP_HOST=RECYCLE_HOST)


def upload_file(auth: str, name: str, data: bytes, params: dict[str, Any]) -> Any:
    """ioaphp::uploadFile of the plugin's release: parts `auth`, `file`, `params` in that order."""
    return post_images([("auth", auth), ("file", CurlFile(name, data)), ("params", php_json_encode(params))])


def decoded_size(data: bytes) -> tuple[int, int]:
    image = pyvips.Image.new_from_buffer(data, "")
    return image.width, image.height


def test_upload_file_answers_what_optimize_reads(account: Account) -> None:
    """class/ioa.class.php ioaphp::uploadFile from class/class-image-otimizer.php wpImageRecycle::optimize
    (`{"compression_type":"lossy"}` for a JPG): a 2xx JSON object (not null, not a string), then
    `file_get_contents($return->optimized_url)`, and `$return->id` and `$return->expiration_date` saved."""
    source = (FILES / "camera-photo-gps.jpg").read_bytes()

    response = upload_file(auth_for(account), "camera-photo-gps.jpg", source, {"compression_type": "lossy"})

    assert 200 <= response.status_code < 300, response.content
    image = response.json()
    assert isinstance(image, dict) and isinstance(image["id"], int) and image["id"] > 0
    optimized = fetch(image["optimized_url"])
    assert decoded_size(optimized) == (1591, 1458)
    assert len(optimized) <= len(source)
    datetime.datetime.fromisoformat(image["expiration_date"].replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("resize", "expected"),
    [
        pytest.param({"width": 600}, (600, 300), id="width"),
        pytest.param({"width": 600, "height": 200}, (400, 200), id="width-and-height"),
        pytest.param([], (800, 400), id="empty"),
    ],
)
def test_upload_file_with_resize_bounds_the_optimized_image(
    account: Account, resize: Any, expected: tuple[int, int]
) -> None:
    """wpImageRecycle::optimize with "Image resize" on: `$fparams['resize'] = array("width" => $maxsize)` for
    a wider image; the later release adds "height" and sends `array()` (JSON `[]`) when neither applies,
    with the parts in its order (`auth`, `params`, then `file` added by its cURL hook)."""
    fields: list[tuple[str, str | CurlFile]] = [
        ("auth", auth_for(account)),
        ("params", php_json_encode({"compression_type": "lossy", "resize": resize})),
        ("file", CurlFile("wide.jpg", jpeg(800, 400))),
    ]

    response = post_images(fields)

    assert response.status_code == 201, response.content
    assert decoded_size(fetch(response.json()["optimized_url"])) == expected


def test_upload_file_by_url_of_the_later_release(account: Account, httpserver: HTTPServer) -> None:
    """common-repository/imagerecycle-pdf-image-compression class/ioa.class.php ioaphp::uploadFileByUrl
    (tried first by wpImageRecycle::optimize): multipart parts `auth`, `params`, then `url`, the file's
    public URL on the site."""
    httpserver.expect_request("/wp-content/uploads/2024/05/photo.jpg").respond_with_data(
        jpeg(160, 120), content_type="image/jpeg"
    )
    fields: list[tuple[str, str | CurlFile]] = [
        ("auth", auth_for(account)),
        ("params", php_json_encode({"compression_type": "lossy"})),
        ("url", httpserver.url_for("/wp-content/uploads/2024/05/photo.jpg")),
    ]

    response = post_images(fields)

    assert response.status_code == 201, response.content
    image = response.json()
    assert image["id"] and decoded_size(fetch(image["optimized_url"])) == (160, 120)


def test_upload_file_with_preserve_metas_keeps_the_copyright_and_date_only(account: Account) -> None:
    """common-repository/… class/class-image-otimizer.php wpImageRecycle::optimize with "Clean metadata:
    Preserve Selected" and Copyright ticked: `$fparams['preserve_metas'][] = 'copyright'`."""
    params = {"compression_type": "lossy", "preserve_metas": ["copyright", "datetime"]}

    response = upload_file(auth_for(account), "photo.jpg", photo_with_exif(), params)

    assert response.status_code == 201, response.content
    kept = exif_fields(fetch(response.json()["optimized_url"]))
    assert COPYRIGHT in kept.get("Copyright", "") and TAKEN in kept.get("DateTimeOriginal", "")
    assert not any(name.startswith("GPS") for name in kept) and "Make" not in kept


def test_upload_file_with_a_wrong_secret_is_401_in_errcode(account: Account) -> None:
    """ioaphp::callAPI on a non-2xx answer throws `Exception($error->errMessage, $error->errCode)`;
    wpImageRecycle::doActionOptimizeAll stops when `$returned->errCode == '401'`."""
    issued = services.api_key_create(account=account)
    auth = php_json_encode({"key": issued.api_key.key, "secret": "mistyped"})

    response = upload_file(auth, "photo.jpg", jpeg(), {"compression_type": "lossy"})

    assert response.status_code == 401
    error = response.json()
    assert error["errCode"] == 401 and isinstance(error["errMessage"], str) and error["errMessage"]


def test_upload_file_with_the_quota_used_up_is_403_in_errcode(account: Account) -> None:
    """ioaphp::uploadFile once the month's quota is used: wpImageRecycle::doActionOptimizeAll stops the run
    when `$returned->errCode == '403'` and shows `errMessage`."""
    assert account.plan_bytes is not None
    services.quota_reserve(account=account, size_bytes=account.plan_bytes)

    response = upload_file(auth_for(account), "photo.jpg", jpeg(), {"compression_type": "lossy"})

    assert response.status_code == 403
    error = response.json()
    assert error["errCode"] == 403 and isinstance(error["errMessage"], str) and error["errMessage"]


def test_get_image_for_revert_answers_id_and_origin_url(account: Account) -> None:
    """class/ioa.class.php ioaphp::getImage from wpImageRecycle::doActionRevert (GET images/<id> with auth and
    an empty params in the query string): `isset($return->id)`, then `file_get_contents($return->origin_url)`
    restores the original file."""
    auth = auth_for(account)
    source = jpeg(160, 120)
    image_id = upload_file(auth, "photo.jpg", source, {"compression_type": "lossy"}).json()["id"]

    response = get(f"images/{image_id}", auth)

    assert response.status_code == 200, response.content
    image = response.json()
    assert image["id"] == image_id
    assert fetch(image["origin_url"]) == source


def test_get_account_infos_answers_the_quota_the_settings_page_shows(account: Account) -> None:
    """common-repository/… class/ioa.class.php ioaphp::getAccountInfos (GET accounts/mine) from
    class/wpio-setting.php wpioSetting::display: `floatval($return->quota_allowed) > 0` picks the progress
    bar, `$return->quota_current / $return->quota_allowed` its percentage."""
    response = get("accounts/mine", auth_for(account))

    assert response.status_code == 200, response.content
    mine = response.json()
    assert float(mine["quota_allowed"]) == account.plan_bytes
    assert float(mine["quota_current"]) == 0


def test_get_account_infos_answers_the_quota_period_as_unix_timestamps(account: Account) -> None:
    """ioaphp::getAccountInfos from wpioSetting::display: "Consummated quota from <quota_start> to
    <quota_end>", each formatted with PHP's `date()`."""
    response = get("accounts/mine", auth_for(account))

    mine = response.json()
    assert isinstance(mine["quota_start"], int) and isinstance(mine["quota_end"], int)
    assert mine["quota_start"] < mine["quota_end"]
