"""Dashboard pages: the figures with a chart and tables, and the Generate page's budget
notice, and the audit trail for staff (/audit/ and its CSV export). They read the same
services as the API."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from dashboard import audit, services
from dashboard.api import RangeSerializer
from dashboard.charts import spend_and_count_chart
from generation.forms import GenerateForm
from generation.services import estimate_cost
from generation.usage import budgets
from settings_app.models import time_zone_for


def _chosen_scope(request):
    """The scope the page's query asks for (the last 30 days when it is invalid): the scope,
    its subject, the cleaned values, the errors and the query that reproduces it."""
    zone = time_zone_for(request.user)
    form = RangeSerializer(data=request.GET, context={"zone": zone})
    errors = {}
    if form.is_valid():
        data = form.validated_data
    else:
        errors = form.errors
        data = RangeSerializer(data={}, context={"zone": zone}).run_validation({})
    scope, subject = services.scope_for(
        request.user,
        start=data["start"],
        end=data["end"],
        team=data["scope"] == "team",
        user_id=data.get("user"),
        project_id=data.get("project"),
        zone=zone,
    )
    query = {"from": scope.start.isoformat(), "to": scope.end.isoformat()}
    if data["scope"] == "team":
        query["scope"] = "team"
    for name in ("user", "project"):
        if data.get(name):
            query[name] = data[name]
    return scope, subject, data, errors, query


@login_required
@require_GET
def dashboard_page(request):
    """Summary cards, a chart over time, provider/model and per-operation usage, failure
    reasons, and for staff the per-user and per-project breakdown, for the chosen range and
    scope."""
    scope, subject, data, errors, query = _chosen_scope(request)
    trends = services.trends(scope)
    context = {
        "errors": errors,
        "scope": scope,
        "selected": data,
        "stats": services.stats(scope, budget_user=subject),
        "trends": trends,
        "chart": spend_and_count_chart(trends["points"], trends["interval"]),
        "models": services.usage(scope, by="model"),
        "operations": services.usage(scope, by="operation"),
        "csv_url": reverse("api-dashboard-usage")
        + "?"
        + urlencode({**query, "by": "model", "format": "csv"}),
        "csv_operation_url": reverse("api-dashboard-usage")
        + "?"
        + urlencode({**query, "by": "operation", "format": "csv"}),
        "in_progress_url": reverse("dashboard-in-progress") + "?" + urlencode(query),
    }
    if request.user.is_staff:
        context["users"] = get_user_model().objects.order_by("username").only("id", "username")
        if scope.owner_id is None:
            context["by_user"] = services.usage(scope, by="user")
        context["by_project"] = services.usage(scope, by="project")
        context["csv_user_url"] = (
            reverse("api-dashboard-usage")
            + "?"
            + urlencode({**query, "by": "user", "format": "csv"})
        )
    return render(request, "dashboard/index.html", context)


@login_required
@require_GET
def in_progress(request):
    """The "In progress" card's figure for the page's scope: the page re-fetches it on each
    live generation event (static/js/live.js)."""
    scope, *_ = _chosen_scope(request)
    return render(
        request, "dashboard/_in_progress.html", {"in_progress": services.in_progress_count(scope)}
    )


@login_required
@require_POST
def budget_notice(request):
    """The Generate page's estimate for the form's current values, and a warning when a
    budget is 80% used (this request included).

    A read, but a POST: the values include the prompt (and the form's CSRF token), which
    must never reach a URL and so the access log; the form's values travel in the body."""
    estimate, num_images = None, 0
    # The same cleaning as a submit (model options, fields the model ignores on the page),
    # with or without a prompt yet.
    form = GenerateForm(request.POST, user=request.user, prompt_required=False)
    if form.is_valid():
        try:
            priced = estimate_cost(request.user, form.cleaned_data, prompt_required=False)
        except ValidationError:
            pass
        else:
            estimate, num_images = priced.usd, priced.request.num_images
    status = budgets.budget_status(request.user, estimate, num_images)
    return render(
        request,
        "dashboard/_budget_notice_content.html",
        {
            "status": status,
            "estimate": estimate,
            "free": estimate == Decimal(0),
        },
    )


AUDIT_PAGE_SIZE = 50


def _audit_filters(request):
    """The audit page's cleaned filters, their errors (the filter is then ignored) and the
    query that reproduces them; a 404 for anyone but staff."""
    if not audit.is_auditor(request.user):
        raise Http404("No such page.")
    form = audit.AuditFilterSerializer(data=request.GET)
    if form.is_valid():
        return form.validated_data, {}, _filter_query(form.validated_data)
    valid = {k: v for k, v in request.GET.items() if k not in form.errors}
    retry = audit.AuditFilterSerializer(data=valid)
    data = retry.validated_data if retry.is_valid() else {}
    return data, form.errors, _filter_query(data)


def _filter_query(data: dict) -> dict:
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in data.items()
        if value not in (None, "")
    }


@login_required
@require_GET
def audit_page(request):
    """The audit trail (staff only, everyone else 404): filters, newest first, in pages of
    AUDIT_PAGE_SIZE by keyset (``before``: the oldest id shown), a CSV of the same filters."""
    filters, errors, query = _audit_filters(request)
    entries = audit.entries_for(request.user, filters)
    before = request.GET.get("before", "")
    if before.isdigit() and len(before) < 19:
        entries = entries.filter(id__lt=int(before))
    rows = list(entries[: AUDIT_PAGE_SIZE + 1])
    older = None
    if len(rows) > AUDIT_PAGE_SIZE:
        rows = rows[:AUDIT_PAGE_SIZE]
        older = "?" + urlencode({**query, "before": rows[-1].pk})
    context = {
        "rows": audit.display_rows(rows),
        "errors": errors,
        "selected": filters,
        "actions": sorted(audit.ACTIONS.items()),
        "object_types": audit.object_types(),
        "older_url": older,
        "newest_url": "?" + urlencode(query) if before else None,
        "csv_url": reverse("audit-export") + ("?" + urlencode(query) if query else ""),
    }
    return render(request, "dashboard/audit.html", context)


@login_required
@require_GET
def audit_export(request):
    """The audit trail as CSV, streamed, with the page's filters (staff only)."""
    filters, _errors, _query = _audit_filters(request)
    response = StreamingHttpResponse(
        audit.csv_rows(audit.entries_for(request.user, filters)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
