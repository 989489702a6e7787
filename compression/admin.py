from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from compression.models import Export, OptimizedImage, OriginalImage, Status, StoredFile
from compression.services.files import stored_files_delete
from compression.services.operator import original_image_retry
from crush.lib.errors import CrushError
from crush.lib.urls import url_masked


class OptimizedImageInline(admin.TabularInline):
    model = OptimizedImage
    extra = 0
    can_delete = False
    fields = (
        "style",
        "strategy",
        "width",
        "height",
        "status",
        "size",
        "ssimulacra2",
        "file_type",
        "kept_original",
        "warning",
        "error_msg",
        "error_code",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: OriginalImage | None = None) -> bool:
        return False


@admin.register(OriginalImage)
class OriginalImageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "filename",
        "file_type",
        "status",
        "compression_type",
        "origin",
        "size",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "file_type", "compression_type", "origin", "synchronous", "account")
    list_select_related = ("account",)
    search_fields = ("=id", "filename", "account__login")
    raw_id_fields = ("account", "file")
    readonly_fields = ("created_at", "updated_at", "ended_at", "image_url_safe")
    exclude = ("image_url",)
    date_hierarchy = "created_at"
    inlines = [OptimizedImageInline]
    actions = ["retry_failed", "delete_files"]

    @admin.display(description="image url")
    def image_url_safe(self, obj: OriginalImage) -> str:
        return url_masked(obj.image_url)

    @admin.action(description="Retry failed jobs")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OriginalImage]) -> None:
        retried = 0
        for original in queryset.filter(status__in=[Status.FAILED, Status.COMPLETED]):
            try:
                retried += original_image_retry(original_image=original)
            except CrushError as exc:
                self.message_user(request, f"#{original.id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{retried} job(s) enqueued again.")

    @admin.action(description="Delete stored files (keep the rows)")
    def delete_files(self, request: HttpRequest, queryset: QuerySet[OriginalImage]) -> None:
        deleted = stored_files_delete(originals=queryset)
        self.message_user(request, f"{deleted} stored file(s) deleted.")


@admin.register(OptimizedImage)
class OptimizedImageAdmin(admin.ModelAdmin):
    list_display = ("id", "original", "style", "strategy", "status", "file_type", "size", "ssimulacra2")
    list_filter = ("status", "file_type", "compression_type")
    list_select_related = ("original",)
    raw_id_fields = ("original", "file")
    search_fields = ("=original__id", "style")


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    list_display = ("id", "key", "filename", "content_type", "size", "expire_at", "deleted_at")
    list_filter = ("content_type",)
    search_fields = ("key", "filename")
    exclude = ("token",)


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    """Read-only: exports are made through the API and end on their own."""

    list_display = ("id", "account", "type", "status", "files", "size", "created_at", "expire_at")
    list_filter = ("status", "type")
    list_select_related = ("account",)
    search_fields = ("=id", "account__login")
    raw_id_fields = ("account", "file")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return False
