from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crush import health
from crush.api.handlers import api_not_found
from crush.api.routing import slash_optional
from crush.api.surfaces.crushpics import CRUSHPICS
from crush.api.views import JsonErrorsMixin, SurfaceErrorsMixin

handler400 = "crush.api.handlers.handler400"
handler403 = "crush.api.handlers.handler403"
handler404 = "crush.api.handlers.handler404"
handler500 = "crush.api.handlers.handler500"


class SchemaApi(JsonErrorsMixin, SurfaceErrorsMixin, SpectacularAPIView):
    surface = CRUSHPICS


class DocsApi(JsonErrorsMixin, SurfaceErrorsMixin, SpectacularSwaggerView):
    surface = CRUSHPICS


urlpatterns = [
    path("admin/", admin.site.urls),
    *slash_optional("health/live", health.live, "health-live"),
    *slash_optional("health/ready", health.ready, "health-ready"),
    *slash_optional("v1/schema", SchemaApi.as_view(), "schema"),
    *slash_optional("v1/docs", DocsApi.as_view(url_name="schema"), "swagger-ui"),
    path("v1/", include("accounts.api.urls")),
    path("v1/", include("compression.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    path("imagerecycle/v1/", include("accounts.api.imagerecycle.urls")),
    path("imagerecycle/v1/", include("compression.api.imagerecycle.urls")),
    path("tinify/", include("compression.api.tinify.urls")),
    re_path(r"^tinify(?:/.*)?$", api_not_found),
    path("kraken/", include("accounts.api.kraken.urls")),
    path("kraken/", include("compression.api.kraken.urls")),
    re_path(r"^kraken(?:/.*)?$", api_not_found),
    re_path(r"^(?:v1|imagerecycle)(?:/.*)?$", api_not_found),
]
