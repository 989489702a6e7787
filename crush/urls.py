from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crush import health
from crush.api.routing import slash_optional
from crush.exceptions import JsonErrorsMixin, api_not_found

handler400 = "crush.exceptions.handler400"
handler403 = "crush.exceptions.handler403"
handler404 = "crush.exceptions.handler404"
handler500 = "crush.exceptions.handler500"


class SchemaApi(JsonErrorsMixin, SpectacularAPIView):
    pass


class DocsApi(JsonErrorsMixin, SpectacularSwaggerView):
    pass


urlpatterns = [
    path("admin/", admin.site.urls),
    *slash_optional("health/live", health.live, "health-live"),
    *slash_optional("health/ready", health.ready, "health-ready"),
    *slash_optional("v1/schema", SchemaApi.as_view(), "schema"),
    *slash_optional("v1/docs", DocsApi.as_view(url_name="schema"), "swagger-ui"),
    path("v1/", include("accounts.api.urls")),
    path("v1/", include("compression.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    path("imagerecycle/v1/", include("accounts.api.imagerecycle_urls")),
    path("imagerecycle/v1/", include("compression.api.imagerecycle.urls")),
    re_path(r"^(?:v1|imagerecycle)(?:/.*)?$", api_not_found),
]
