from django.urls import URLPattern

from compression.api.tinify.views import OutputApi, ShrinkApi
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("shrink", ShrinkApi.as_view(), "tinify-shrink"),
    *slash_optional("output/<int:output_id>", OutputApi.as_view(), "tinify-output"),
]
