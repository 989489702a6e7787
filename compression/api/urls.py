from django.urls import URLPattern

from compression.api.export import ExportApi
from compression.api.files import FileDownloadApi
from compression.api.views import CompressApi, ImageListApi, OriginalImageApi, OriginalImagesApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("compress", CompressApi.as_view(), "compress"),
    *slash_optional("original_images", OriginalImagesApi.as_view(), "original-images"),
    *slash_optional("original_images/<int:original_image_id>", OriginalImageApi.as_view(), "original-image"),
    *slash_optional("images", ImageListApi.as_view(), "images"),
    *slash_optional("files/<str:token>/<path:filename>", FileDownloadApi.as_view(), "file-download"),
    *slash_optional("export", ExportApi.as_view(), "export"),
]
