from django.urls import URLPattern

from compression.api.imagerecycle.views import (
    ImageApi,
    ImageDownloadApi,
    ImagesApi,
    ImagesDeleteAllApi,
    ImageZipApi,
)
from crush.api.routing import slash_optional

# Order matters: `images/zip/…` before the download pattern, whose first segment would also match "zip".
urlpatterns: list[URLPattern] = [
    *slash_optional("images", ImagesApi.as_view(), "imagerecycle-images"),
    *slash_optional("images/all", ImagesDeleteAllApi.as_view(), "imagerecycle-images-all"),
    *slash_optional("images/<int:image_id>", ImageApi.as_view(), "imagerecycle-image"),
    *slash_optional("images/zip/<str:kind>/<str:ids>", ImageZipApi.as_view(), "imagerecycle-images-zip"),
    *slash_optional(
        "images/<str:kind>/<str:token>/<path:name>", ImageDownloadApi.as_view(), "imagerecycle-image-download"
    ),
]
