"""The real URLconf plus views that only tests reach: a 500 on each surface, an ImageRecycle GET-only view."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crush import urls
from crush.api.surfaces.imagerecycle import ImageRecycleApi

handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500


def plain_view_that_breaks(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom in a plain view: /srv/secret/path")


class ApiViewThatBreaks(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("boom in an API view: /srv/secret/path")


class ImageRecycleGetOnly(ImageRecycleApi):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("v1/test-broken-plain", plain_view_that_breaks),
    path("v1/test-broken-api", ApiViewThatBreaks.as_view()),
    path("imagerecycle/v1/test-broken-plain", plain_view_that_breaks),
    path("imagerecycle/v1/test-broken-api", ApiViewThatBreaks.as_view()),
    path("imagerecycle/v1/test-get-only", ImageRecycleGetOnly.as_view()),
    path("admin-test-broken", plain_view_that_breaks),
    *urls.urlpatterns,
]
