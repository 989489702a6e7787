from django.urls import URLPattern

from accounts.api.kraken.views import UserStatusApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("user_status", UserStatusApi.as_view(), "kraken-user-status"),
]
