"""The whole life of an ImageRecycle integration, as a client written from the original documentation would
drive it: account, sub-account, uploads (file, PDF, URL), list, get, downloads, zip, deletes, secret and
quota resets, consumption."""

from __future__ import annotations

import datetime
import io
import json
import zipfile

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from tests.compression.pipeline_support import jpeg, pdf, png
from tests.imagerecycle.conftest import ImageRecycleClient

pytestmark = pytest.mark.django_db


def download(url: str) -> bytes:
    response = APIClient().get(url.removeprefix("http://testserver"))
    assert response.status_code == 200, url
    return response.getvalue()  # the joined streaming_content of a streaming response, else content


def test_seed_document_client_performs_the_whole_sequence(
    ir: ImageRecycleClient, httpserver: HTTPServer
) -> None:
    photo, document, remote = jpeg(320, 240), pdf(), png(200, 100)
    httpserver.expect_request("/logo11w.png").respond_with_data(remote, content_type="image/png")

    # account info
    mine = ir.get("accounts/mine")
    assert mine.status_code == 200
    assert set(mine.json()) == {"quota_start", "quota_end", "quota_current", "quota_allowed", "file_max_size"}
    assert mine.json()["quota_current"] == 0

    # a sub-account, whose credentials do the uploads
    created = ir.post(
        "accounts/sub", {"title": "New subaccount", "description": "Shop 2", "quota": "5000000"}
    )
    assert created.status_code == 201
    sub = created.json()
    assert sub["title"] == "New subaccount" and sub["quota_allowed"] == 5_000_000
    assert sub["api_key"] and sub["api_secret"]
    shop = ImageRecycleClient(sub["api_key"], sub["api_secret"])

    # uploads: multipart with params as a JSON string, a PDF, then a URL inside params
    added = shop.post(
        "images/",
        {
            "file": SimpleUploadedFile("photo.jpg", photo, "image/jpeg"),
            "params": json.dumps({"compression_type": "lossy"}),
        },
        multipart=True,
    )
    assert added.status_code == 201, added.json()
    image = added.json()
    assert set(image) == {
        "id", "filename", "width", "height", "size_before", "size_after", "saved", "time",
        "origin_url", "optimized_url", "expiration_date",
    }  # fmt: skip
    assert (image["filename"], image["width"], image["height"]) == ("photo.jpg", 320, 240)
    assert image["size_before"] == len(photo)
    assert image["size_after"] <= image["size_before"]
    assert 0 <= image["saved"] <= 1
    assert image["saved"] == pytest.approx(1 - image["size_after"] / image["size_before"], abs=1e-4)
    expires = datetime.datetime.fromisoformat(image["expiration_date"].replace("Z", "+00:00"))
    received = datetime.datetime.fromisoformat(image["time"].replace("Z", "+00:00"))
    assert expires - received == pytest.approx(datetime.timedelta(days=30), abs=datetime.timedelta(minutes=1))

    added_pdf = shop.post(
        "images",
        {"file": SimpleUploadedFile("brochure.pdf", document, "application/pdf"), "params": "{}"},
        multipart=True,
    )
    assert added_pdf.status_code == 201, added_pdf.json()
    pdf_image = added_pdf.json()
    assert (pdf_image["width"], pdf_image["height"]) == (None, None)
    assert pdf_image["size_after"] <= pdf_image["size_before"] == len(document)

    by_url = shop.post(
        "images/",
        {
            "params": json.dumps(
                {"url": httpserver.url_for("/logo11w.png"), "params": {"compression_type": "lossless"}}
            )
        },
    )
    assert by_url.status_code == 201, by_url.json()
    assert (by_url.json()["filename"], by_url.json()["width"]) == ("logo11w.png", 200)

    # list with offset/limit: newest first, prev/next at the ends
    first_page = shop.get("images/", offset=0, limit=2)
    assert first_page.status_code == 200
    body = first_page.json()
    assert body["total"] == 3
    assert [item["id"] for item in body["items"]] == [by_url.json()["id"], pdf_image["id"]]
    assert body["prev"] is None
    assert (body["next"]["offset"], body["next"]["limit"]) == (2, 2)
    last_page = shop.get("images", offset=body["next"]["offset"], limit=body["next"]["limit"]).json()
    assert [item["id"] for item in last_page["items"]] == [image["id"]]
    assert last_page["next"] is None
    assert (last_page["prev"]["offset"], last_page["prev"]["limit"]) == (0, 2)

    # get
    got = shop.get(f"images/{image['id']}")
    assert got.status_code == 200
    assert got.json() == image

    # downloads, no auth: the original byte for byte, the optimized a smaller JPEG of the same size
    assert download(image["origin_url"]) == photo
    optimized = download(image["optimized_url"])
    assert len(optimized) == image["size_after"]
    assert optimized[:3] == b"\xff\xd8\xff"
    optimized_pdf = download(pdf_image["optimized_url"])
    assert len(pikepdf.open(io.BytesIO(optimized_pdf)).pages) == 1

    # zips of both images
    for kind, expected in (("original", [photo, document]), ("optimized", [optimized, optimized_pdf])):
        zipped = shop.get(f"images/zip/{kind}/{image['id']},{pdf_image['id']}")
        assert zipped.status_code == 200
        assert zipped["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content)))
        assert archive.testzip() is None
        assert archive.namelist() == ["photo.jpg", "brochure.pdf"]
        assert [archive.read(name) for name in archive.namelist()] == expected

    # delete one, then all
    assert shop.delete(f"images/{pdf_image['id']}").status_code == 204
    assert shop.get(f"images/{pdf_image['id']}").status_code == 404
    assert APIClient().get(pdf_image["origin_url"].removeprefix("http://testserver")).status_code == 404
    assert shop.delete("images/all").status_code == 204
    assert shop.get("images").json() == {"items": [], "total": 0, "prev": None, "next": None}

    # reset secret: the old one is refused
    reset = ir.put(f"accounts/sub/reset_secret/{sub['id']}")
    assert reset.status_code == 200
    assert reset.json()["api_key"] == sub["api_key"]
    assert reset.json()["api_secret"] not in (None, sub["api_secret"])
    refused = shop.get("accounts/mine")
    assert refused.status_code == 401
    assert refused.json()["errCode"] == 401
    assert (
        ImageRecycleClient(sub["api_key"], reset.json()["api_secret"]).get("accounts/mine").status_code == 200
    )

    # reset quota: the sub-account's usage is zero again, the parent keeps counting it
    used = len(photo) + len(document) + len(remote)
    assert ir.get(f"accounts/sub/{sub['id']}").json()["quota_current"] == used
    after_reset = ir.put(f"accounts/sub/reset_quota/{sub['id']}")
    assert after_reset.status_code == 200
    assert after_reset.json()["quota_current"] == 0
    assert ir.get("accounts/mine").json()["quota_current"] == used

    # consumption: today's bytes (the sub-account's count for its parent), 30 days and 12 months
    consumption = ir.get("accounts/mine/consumption").json()["consumption"]
    assert len(consumption["last_days"]) == 30
    assert len(consumption["last_months"]) == 12
    today = consumption["last_days"][-1]
    assert today["date"] == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert today["total_size_before"] == used
    assert today["files_count"] == 3
    assert 0 < today["total_size_after"] <= used
    assert all(day["files_count"] == 0 for day in consumption["last_days"][:-1])
    assert consumption["last_months"][-1]["total_size_before"] == used
