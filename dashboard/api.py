"""REST API of the dashboard: stats, usage (JSON or CSV), trends and the caller's budget."""

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import audit, services
from generation.usage import budgets
from imagegen.core.audit import ACTIONS
from imagegen.core.models import AuditEntry
from imagegen.core.schema import ErrorSerializer, error_response
from settings_app.models import time_zone_for

SCOPE_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such project or user.")
SCOPE_PARAMETERS = [
    OpenApiParameter(
        "from",
        str,
        description="first day in your time zone (Preferences), "
        "YYYY-MM-DD (default: 29 days before `to`)",
    ),
    OpenApiParameter(
        "to", str, description="last day in your time zone, YYYY-MM-DD (default: today)"
    ),
    OpenApiParameter("scope", enum=["own", "team"], description="staff: `team` for everyone"),
    OpenApiParameter("user", int, description="staff: one user's figures"),
    OpenApiParameter("project", int, description="one project's figures"),
]


class RangeSerializer(serializers.Serializer):
    """The query of every dashboard endpoint: a date range and a scope."""

    scope = serializers.ChoiceField(choices=["own", "team"], required=False, default="own")
    user = serializers.IntegerField(required=False, min_value=1)
    project = serializers.IntegerField(required=False, min_value=1)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword, so these two are declared here.
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs):
        default_start, default_end = services.default_range(self.context.get("zone"))
        end = attrs.get("to") or default_end
        start = attrs.get("from") or (end - (default_end - default_start))
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (end - start).days + 1 > services.MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"from": [f"The range may cover at most {services.MAX_RANGE_DAYS} days."]}
            )
        attrs["start"], attrs["end"] = start, end
        return attrs


class UsageSerializer(RangeSerializer):
    by = serializers.ChoiceField(
        choices=list(services.USAGE_GROUPS), required=False, default="model"
    )
    sort = serializers.ChoiceField(
        choices=[p + s for s in services.USAGE_SORTS for p in ("", "-")],
        required=False,
        default="-spend",
    )


def scope_from(request, serializer_class=RangeSerializer):
    """Validate the query (400 with field errors) and resolve the scope (403/404)."""
    zone = time_zone_for(request.user)
    form = serializer_class(data=request.query_params, context={"zone": zone})
    form.is_valid(raise_exception=True)
    data = form.validated_data
    scope, subject = services.scope_for(
        request.user,
        start=data["start"],
        end=data["end"],
        team=data["scope"] == "team",
        user_id=data.get("user"),
        project_id=data.get("project"),
        zone=zone,
    )
    return scope, subject, data


class CSVRenderer(renderers.BaseRenderer):
    """A list of flat dicts as CSV, one header row (for ?format=csv)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        columns = None
        if isinstance(data, dict) and "rows" in data:
            data, columns = data["rows"], data.get("columns")
        if isinstance(data, dict):  # an error answer
            data = [
                {"field": k, "error": " ".join(map(str, v if isinstance(v, list) else [v]))}
                for k, v in data.items()
            ]
        if data or columns:
            # The header even without rows: an empty body would lose its Content-Type.
            writer = csv.DictWriter(out, fieldnames=columns or list(data[0]), lineterminator="\n")
            writer.writeheader()
            for row in data:
                writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        return out.getvalue().encode(self.charset)


def _csv_safe(value):
    """Neutralise spreadsheet formulas in text cells (names are user input)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return "" if value is None else value


class StatsView(APIView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: dict, 404: SCOPE_NOT_FOUND})
    def get(self, request):
        scope, subject, _ = scope_from(request)
        return Response(services.stats(scope, budget_user=subject))


class UsageView(APIView):
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=SCOPE_PARAMETERS
        + [
            OpenApiParameter("by", enum=list(services.USAGE_GROUPS)),
            OpenApiParameter(
                "sort",
                str,
                description="generations, images, failures, spend, gpu_seconds, "
                "avg_latency or name; prefix - for descending (default -spend)",
            ),
            OpenApiParameter("format", enum=["json", "csv"]),
        ],
        responses={
            200: dict,
            (200, "text/csv"): OpenApiTypes.STR,
            404: OpenApiResponse(
                ErrorSerializer, description="No such project or user, or an unknown format."
            ),
        },
    )
    def get(self, request):
        scope, _, data = scope_from(request, UsageSerializer)
        rows = services.usage(scope, by=data["by"], sort=data["sort"])
        if request.accepted_renderer.format == "csv":
            name = f"usage-{data['by']}-{scope.start}-{scope.end}.csv"
            return Response(
                {"rows": rows, "columns": services.usage_columns(data["by"])},
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(
            {"scope": scope.as_dict(), "by": data["by"], "sort": data["sort"], "rows": rows}
        )


class TrendsView(APIView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: dict, 404: SCOPE_NOT_FOUND})
    def get(self, request):
        scope, _, _ = scope_from(request)
        return Response(services.trends(scope))


class BudgetView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        """The caller's budgets: used and left this month and today, with 80% warnings."""
        return Response(budgets.budget_status(request.user))


# --- The audit trail (staff) ----------------------------------------------------------------

AUDIT_NOT_FOUND = error_response("Not staff: the audit trail does not exist for you.")
AUDIT_PARAMETERS = [
    OpenApiParameter("actor", str, description="a username, exactly"),
    OpenApiParameter("action", enum=sorted(ACTIONS), description="one action"),
    OpenApiParameter("object_type", str, description="e.g. settings_app.teamkey"),
    OpenApiParameter("from", OpenApiTypes.DATE, description="first day, in your time zone"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="last day, in your time zone"),
]


class AuditEntrySerializer(serializers.ModelSerializer):
    changes = serializers.JSONField(help_text="{field: [before, after]}; never a secret.")
    details = serializers.JSONField()

    class Meta:
        model = AuditEntry
        fields = ["id", *AuditEntry.FIELDS]


class AuditListView(generics.ListAPIView):
    """GET /api/audit: the audit trail, newest first (staff only; anyone else: 404)."""

    serializer_class = AuditEntrySerializer

    @extend_schema(
        parameters=AUDIT_PARAMETERS,
        responses={200: AuditEntrySerializer(many=True), 404: AUDIT_NOT_FOUND},
        description="Staff only: everyone else gets 404. Filters as on the /audit/ page.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if not audit.is_auditor(self.request.user):
            raise NotFound()
        form = audit.AuditFilterSerializer(data=self.request.query_params)
        form.is_valid(raise_exception=True)
        return audit.entries_for(self.request.user, form.validated_data)
