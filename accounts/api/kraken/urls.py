from django.urls import URLPattern

from accounts.api.kraken import schema  # noqa: F401 - registers the security scheme
from accounts.api.kraken.views import UserStatusApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("user_status", UserStatusApi.as_view(), "kraken-user-status"),
]
