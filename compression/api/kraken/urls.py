from django.urls import URLPattern

from compression.api.kraken.views import DownloadApi, PlaceholderApi, UploadApi, UrlApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("v1/url", UrlApi.as_view(), "kraken-url"),
    *slash_optional("v1/upload", UploadApi.as_view(), "kraken-upload"),
    *slash_optional("dev/placeholder.png", PlaceholderApi.as_view(), "kraken-dev-placeholder"),
    *slash_optional("files/<str:token>/<path:name>", DownloadApi.as_view(), "kraken-download"),
]
