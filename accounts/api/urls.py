from django.urls import URLPattern

from accounts.api import schema  # noqa: F401 - registers the OpenAPI security schemes
from accounts.api.dashboard import DashboardApi
from accounts.api.views import ShopApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("shop", ShopApi.as_view(), "shop"),
    *slash_optional("dashboard", DashboardApi.as_view(), "dashboard"),
]
