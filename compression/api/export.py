"""/v1/export: POST starts a zip of the account's files (the Node client's `export.create`), GET answers the
latest one's state and, once completed, its download link (`export.get`). One path, so one view class."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from compression.api.serializers import SUCCESS_HELP, validated
from compression.models import ExportType, Status
from compression.presenters import export_data
from compression.selectors import export_latest
from compression.services.export import export_start
from crush.api.surfaces.crushpics import CrushPicsApi, error_responses
from crush.api.views import base_url
from crush.lib.timestamps import UtcTimestampField


class ExportInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=ExportType.values,
        required=False,
        default=ExportType.OPTIMIZED,
        help_text="The optimized files (default) or the original uploads",
    )


class ExportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=ExportType.values)
    status = serializers.ChoiceField(choices=Status.values)
    files = serializers.IntegerField(allow_null=True, help_text="Entries in the zip; null until completed")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes of the zip; null until completed")
    link = serializers.URLField(
        allow_null=True, help_text="The zip's download (no auth) while completed and not expired, else null"
    )
    error_msg = serializers.CharField(allow_null=True)
    created_at = UtcTimestampField()
    expire_at = UtcTimestampField(help_text="When the zip is purged (CRUSH_RETENTION_DAYS after the request)")


class ExportEnvelopeSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text=SUCCESS_HELP)
    export = ExportOutputSerializer(allow_null=True, help_text="Null when the account never asked for one")


class ExportApi(CrushPicsApi):
    @extend_schema(
        operation_id="export_retrieve",
        summary="The latest export",
        description="Its state, and its download link once completed (until it expires).",
        responses={200: ExportEnvelopeSerializer, **error_responses(401, 429)},
    )
    def get(self, request: Request) -> Response:
        export = export_latest(account=request_account(request))
        data = None if export is None else export_data(export, base_url=base_url(request))
        return Response({"success": True, "export": data})

    @extend_schema(
        operation_id="export_create",
        summary="Export the account's files as a zip",
        description="Starts a zip of the account's optimized files (or, with type=original, of its original "
        "uploads), built by a worker; poll GET /v1/export for its link. While an export is enqueued or "
        "processing, that export is answered instead of starting another.",
        request=ExportInputSerializer,
        responses={200: ExportEnvelopeSerializer, **error_responses(401, 422, 429)},
    )
    def post(self, request: Request) -> Response:
        attrs = validated(ExportInputSerializer, request.data)
        export = export_start(account=request_account(request), export_type=attrs["type"])
        return Response({"success": True, "export": export_data(export, base_url=base_url(request))})
