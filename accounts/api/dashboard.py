"""GET /v1/dashboard: image counts and consumption by origin for charts (API.md §1, "Dashboard").

Everything comes from the accounts ledger (ConsumptionDay): the accounts app owns the data shown.
"""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_account
from accounts.selectors import ReportType, consumption_report, image_counts
from crush.api.surfaces.crushpics import CrushPicsApi


class ConsumptionCellSerializer(serializers.Serializer):
    origin = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes of originals")
    period = serializers.IntegerField(help_text="Day of month (week, month) or month number (six_months)")


class ConsumptionOutputSerializer(serializers.Serializer):
    type = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField(), help_text="YYYY-MM-DD or YYYY-MM")
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Per origin, bytes of originals aligned with columns (zeros for empty periods)",
    )
    # A field named like Serializer.data: DRF's metaclass moves declared fields off the class, so it is safe.
    data = ConsumptionCellSerializer(many=True, help_text="The non-empty cells")  # type: ignore[assignment]


class DashboardStatsSerializer(serializers.Serializer):
    original_images_count = serializers.IntegerField(
        help_text="Originals processed (completed) for the account and its sub-accounts, all time; "
        "images deleted later still count, failed or unfinished ones do not."
    )
    optimized_images_count = serializers.IntegerField(
        help_text="Optimized images (one per style) completed with those originals, all time; "
        "images deleted later still count."
    )
    consumption = ConsumptionOutputSerializer()


class DashboardApi(CrushPicsApi):
    """Counts of the images processed for the account and its consumption by origin, sub-accounts included.

    The counts are of originals and optimized images processed (completed), all time, from the consumption
    ledger: deleting images later does not lower them, and failed or unfinished jobs are not counted.
    """

    class InputSerializer(serializers.Serializer):
        # Without report_type the answer is the week: the cheapest report, and the one a landing view shows.
        report_type = serializers.ChoiceField(choices=ReportType.choices, default=ReportType.WEEK)

    @extend_schema_serializer(component_name="Dashboard")
    class OutputSerializer(serializers.Serializer):
        stats = DashboardStatsSerializer()

    @extend_schema(
        operation_id="dashboard",
        description="Counts of the images processed for the account and its sub-accounts, and their "
        "consumption by origin for charts. `original_images_count` / `optimized_images_count` are the "
        "originals and optimized images processed (completed), all time: images deleted later still count, "
        "failed or unfinished jobs do not.",
        parameters=[
            OpenApiParameter(
                "report_type",
                enum=ReportType.values,
                default=ReportType.WEEK,
                description="week: 7 days, month: 30 days (both ending today, UTC); "
                "six_months: 6 calendar months ending with the current one.",
            )
        ],
        responses={
            200: OutputSerializer,
            422: OpenApiResponse(description='Unknown report_type: {"message": {"report_type": ["…"]}}'),
        },
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        account = request_account(request)

        counts = image_counts(account=account)
        report = consumption_report(account=account, report_type=params.validated_data["report_type"])

        stats = {
            "original_images_count": counts.original_images,
            "optimized_images_count": counts.optimized_images,
            "consumption": asdict(report),
        }
        return Response(self.OutputSerializer({"stats": stats}).data)
