"""Plain dicts of API.md's `original_image`, `optimized_image` and `export` objects (API views, webhook
payloads)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from accounts.models import CompressionType
from compression import engine
from compression.engine.resize import target_geometry
from compression.models import Export, OptimizedImage, OriginalImage, Status, StoredFile
from crush.api.surfaces import kraken
from crush.api.surfaces.crushpics import file_link
from crush.lib.timestamps import iso_utc


def _link(stored_file: StoredFile | None, *, base_url: str) -> str | None:
    if stored_file is None:
        return None
    return file_link(base_url, token=stored_file.token, filename=stored_file.filename)


def _quality_target(compression_type: str, original_image: OriginalImage) -> int | None:
    """The SSIMULACRA2 floor the outputs were held to: only ``balanced`` has one."""
    return original_image.quality_target if compression_type == CompressionType.BALANCED else None


def optimized_image_data(optimized_image: OptimizedImage, *, base_url: str) -> dict[str, Any]:
    original_size = optimized_image.original.size
    size = optimized_image.size
    saved = None if size is None or original_size is None else original_size - size
    return {
        "id": optimized_image.id,
        "status": optimized_image.status,
        "error_msg": optimized_image.error_msg,
        "compression_type": optimized_image.compression_type,
        "compression_level": optimized_image.compression_level,
        "style": optimized_image.style,
        "strategy": optimized_image.strategy or None,
        "width": optimized_image.width,
        "height": optimized_image.height,
        "background": optimized_image.background,
        "size": size,
        "saved_bytes": saved,
        "ssimulacra2": optimized_image.ssimulacra2,
        "convert": optimized_image.convert.split(",") if optimized_image.convert else None,
        "candidates": optimized_image.candidates,
        "quality_target": _quality_target(optimized_image.compression_type, optimized_image.original),
        "file_type": optimized_image.file_type or None,
        "filename": optimized_image.filename,
        "link": _link(optimized_image.file, base_url=base_url),
        "kept_original": optimized_image.kept_original,
        "warning": optimized_image.warning,
        "expire_at": iso_utc(optimized_image.expire_at),
        "created_at": iso_utc(optimized_image.created_at),
        "updated_at": iso_utc(optimized_image.updated_at),
    }


def original_image_data(
    original_image: OriginalImage,
    *,
    base_url: str,
    optimized_images: Iterable[OptimizedImage] | None = None,
) -> dict[str, Any]:
    """`optimized_images` defaults to the (prefetched) related rows, oldest first ("original" leads)."""
    rows = list(optimized_images if optimized_images is not None else original_image.optimized_images.all())
    return {
        "id": original_image.id,
        "compression_type": original_image.compression_type,
        "compression_level": original_image.compression_level,
        "quality_target": _quality_target(original_image.compression_type, original_image),
        "convert": original_image.convert.split(",") if original_image.convert else None,
        "preserve": original_image.preserve.split(",") if original_image.preserve else [],
        "origin": original_image.origin,
        "size": original_image.size,
        "width": original_image.width,
        "height": original_image.height,
        "file_type": original_image.file_type or None,
        "filename": original_image.filename,
        "status": original_image.status,
        "error_msg": original_image.error_msg,
        "created_at": iso_utc(original_image.created_at),
        "updated_at": iso_utc(original_image.updated_at),
        "expire_at": iso_utc(original_image.expire_at),
        "link": _link(original_image.file, base_url=base_url),
        "optimized_images": [optimized_image_data(row, base_url=base_url) for row in rows],
    }


def export_data(export: Export, *, base_url: str) -> dict[str, Any]:
    """`link` only while the zip can be downloaded: completed, not purged, not past `expire_at`."""
    stored = export.file
    downloadable = (
        export.status == Status.COMPLETED
        and stored is not None
        and stored.deleted_at is None
        and stored.expire_at > timezone.now()
    )
    return {
        "id": export.id,
        "type": export.type,
        "status": export.status,
        "files": export.files,
        "size": export.size,
        "link": _link(stored, base_url=base_url) if downloadable else None,
        "error_msg": export.error_msg,
        "created_at": iso_utc(export.created_at),
        "expire_at": iso_utc(export.expire_at),
    }


# --- Kraken's result (its /v1/url and /v1/upload answers with `wait`, and its callbacks)


def kraken_id(original_image: OriginalImage) -> str:
    """The `id` Kraken answers a callback_url request with and repeats in the callback: hex, like its own."""
    return f"{original_image.id:032x}"


def _kraken_dimensions(original_image: OriginalImage, row: OptimizedImage) -> tuple[int | None, int | None]:
    """The output's width and height, from the source's and the style's geometry (no pixel is read)."""
    if original_image.width is None or original_image.height is None or not row.strategy:
        return original_image.width, original_image.height
    spec = engine.ResizeSpec(
        strategy=engine.ResizeStrategy(row.strategy), width=row.width, height=row.height, background=None
    )
    geometry = target_geometry(original_image.width, original_image.height, spec)
    return geometry.width, geometry.height


def _kraken_output(original_image: OriginalImage, row: OptimizedImage, *, base_url: str) -> dict[str, Any]:
    original_size = original_image.size or 0
    size = row.size if row.size is not None else original_size
    stored = row.file
    width, height = _kraken_dimensions(original_image, row)
    return {
        "file_name": (stored.filename if stored else "") or original_image.filename,
        "original_size": original_size,
        "kraked_size": size,
        "saved_bytes": max(original_size - size, 0),
        "kraked_url": kraken.download_link(base_url, token=stored.token, filename=stored.filename)
        if stored is not None
        else None,
        "kraked_width": width,
        "kraked_height": height,
    }


def kraken_result_data(
    original_image: OriginalImage, *, base_url: str, optimized_images: Iterable[OptimizedImage] | None = None
) -> dict[str, Any]:
    """One output: `{"success", "file_name", "original_size", "kraked_size", "saved_bytes", "kraked_url",
    "original_width", "original_height", "kraked_width", "kraked_height"}`. With resize styles (a `resize`
    array, each style named by its `id`): the original's fields and `results: {id: {…}}`. A failed original:
    `{"success": false, "message"}`."""
    if original_image.status == Status.FAILED:
        return {"success": False, "message": original_image.error_msg or "The image could not be optimized."}
    rows = list(optimized_images if optimized_images is not None else original_image.optimized_images.all())
    main = next((row for row in rows if row.style == OptimizedImage.ORIGINAL_STYLE), None)
    styles = [row for row in rows if row.style != OptimizedImage.ORIGINAL_STYLE]
    head = {
        "success": True,
        "file_name": original_image.filename,
        "original_size": original_image.size or 0,
        "original_width": original_image.width,
        "original_height": original_image.height,
    }
    if not styles:
        return {**head, **(_kraken_output(original_image, main, base_url=base_url) if main else {})}
    return {
        **head,
        "results": {
            row.style: _kraken_output(original_image, row, base_url=base_url)
            if row.status == Status.COMPLETED
            else {"success": False, "message": row.error_msg}
            for row in styles
        },
    }
