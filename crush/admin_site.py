"""The operators' admin: Django's admin with a landing page of platform-wide numbers (staff only)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone


class CrushAdminSite(admin.AdminSite):
    site_header = "Crush operators"
    site_title = "Crush admin"
    index_title = "Platform"
    index_template = "admin/crush_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from crush.platform_stats import (
            platform_stats,  # reads every app's models: import once they are ready
        )

        context = {"platform": platform_stats(now=timezone.now()), **(extra_context or {})}
        return super().index(request, extra_context=context)
