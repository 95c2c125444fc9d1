"""The permission vocabulary (for_user / get_for_user) and the one error mapping."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from gallery.models import Image
from generation.models import Generation, StylePreset
from imagegen.core.api import exception_handler
from imagegen.core.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    UpstreamError,
)
from imagegen.core.middleware import ServiceErrorMiddleware
from imagegen.core.permissions import PermissionQuerySet
from projects import services as project_services
from projects.models import Project, Role
from settings_app.models import ApiKey, NamedToken
from tests.gallery.factories import make_image
from tests.users import member_as

SCOPED = (Project, Image, Generation, StylePreset, ApiKey, NamedToken)


@pytest.mark.parametrize("model", SCOPED)
def test_every_scoped_model_answers_the_same_question(model, db):
    queryset = model.objects.all()
    assert isinstance(queryset, PermissionQuerySet)
    assert "view" in queryset.actions
    for action in queryset.actions:  # nobody signed in: nothing, whatever the action
        assert not model.objects.for_user(AnonymousUser(), action).exists()
    with pytest.raises(ValueError, match="has no action 'steal'"):
        model.objects.for_user(AnonymousUser(), "steal")


@member_as("viewer")
def test_get_for_user_tells_not_yours_from_not_allowed(owner, member, outsider, shared_project):
    image = make_image(owner, project=shared_project)
    assert Image.objects.get_for_user(owner, "delete", pk=image.pk) == image
    with pytest.raises(Forbidden, match="Only the owner"):  # sees it, may not delete it
        Image.objects.get_for_user(member, "delete", pk=image.pk, denied="Only the owner.")
    with pytest.raises(NotFound):  # does not see it: the same answer as for no such image
        Image.objects.get_for_user(outsider, "delete", pk=image.pk)
    with pytest.raises(NotFound):
        Image.objects.get_for_user(owner, "view", pk=image.pk + 1000)


@member_as("editor", "viewer")
def test_project_actions(owner, member, member_role, outsider, shared_project):
    contributes = list(Project.objects.for_user(member, "contribute"))
    assert contributes == ([shared_project] if member_role == "editor" else [])
    assert list(Project.objects.for_user(member, "view")) == [shared_project]
    assert not Project.objects.for_user(member, "change").exists()
    assert not Project.objects.for_user(outsider, "view").exists()
    assert list(Project.objects.for_user(owner, "delete")) == [shared_project]


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (BadRequest("Bad."), 400, {"detail": "Bad."}),
        (BadRequest("Bad cursor.", field="cursor"), 400, {"cursor": ["Bad cursor."]}),
        (Forbidden("No."), 403, {"detail": "No."}),
        (NotFound(extra={"ids": [3]}), 404, {"detail": "Not found.", "ids": [3]}),
        (Conflict("Finished."), 409, {"detail": "Finished."}),
        (UpstreamError("Down."), 502, {"detail": "Down."}),
        (QuotaExceeded({"num_images": ["Limit."]}), 429, {"num_images": ["Limit."]}),
        (ValidationError({"prompt": ["Write one."]}), 400, {"prompt": ["Write one."]}),
    ],
)
def test_the_api_maps_each_base_class(error, status, body):
    request = APIRequestFactory().get("/api/anything")
    response = exception_handler(error, {"view": APIView(), "request": request})
    assert (response.status_code, response.data) == (status, body)


def test_pages_map_the_other_base_classes(rf):
    middleware = ServiceErrorMiddleware(lambda request: None)
    page = middleware.process_exception(rf.get("/generate/"), Conflict("Already finished."))
    assert (page.status_code, page.content) == (409, b"Already finished.")
    assert page["Content-Type"].startswith("text/plain")
    api = middleware.process_exception(rf.get("/files/images/1"), UpstreamError("Down."))
    assert (api.status_code, json.loads(api.content)) == (502, {"detail": "Down."})
    # 403 and 404 are Django's own pages; other exceptions are not this handler's.
    assert middleware.process_exception(rf.get("/"), NotFound()) is None
    assert middleware.process_exception(rf.get("/"), Forbidden("No.")) is None
    assert middleware.process_exception(rf.get("/"), KeyError("x")) is None


@member_as("viewer")
def test_member_changes_keep_the_others(owner, member, outsider, shared_project):
    before = dict(shared_project.memberships.values_list("user__username", "role"))
    assert before[member.username] == Role.VIEWER
    project_services.change_member(shared_project, outsider.username, Role.EDITOR)
    roles = dict(shared_project.memberships.values_list("user__username", "role"))
    assert roles == {**before, outsider.username: Role.EDITOR}
    project_services.remove_member(shared_project, member.username)
    project_services.remove_member(shared_project, "nobody-at-all")  # not one: nothing happens
    after = dict(shared_project.memberships.values_list("user__username", "role"))
    del roles[member.username]
    assert after == roles


def test_deleting_a_project_with_its_images_goes_through_the_gallery(owner, shared_project):
    shared = shared_project
    kept, gone = make_image(owner), make_image(owner, project=shared)
    other = Project.objects.create(owner=owner, name="Other")
    stays = make_image(owner, project=other)
    assert project_services.delete_project(other) == 0  # its image stays, unassigned
    stays.refresh_from_db()
    assert stays.project_id is None
    assert project_services.delete_project(shared, delete_images=True) == 1
    assert list(Image.objects.values_list("pk", flat=True).order_by("pk")) == sorted(
        [kept.pk, stays.pk]
    )
    assert not Image.objects.filter(pk=gone.pk).exists()


def test_the_estimate_needs_no_prompt_only_where_asked(owner):
    from generation.services import estimate_cost

    body = {"provider": "offline", "num_images": 2}
    priced = estimate_cost(owner, body, prompt_required=False)
    assert (priced.usd, priced.request.num_images) == (Decimal("0"), 2)
    with pytest.raises(ValidationError) as refused:
        estimate_cost(owner, body)
    assert refused.value.message_dict == {"prompt": ["Write a prompt."]}


def test_the_budget_notice_prices_a_draft_without_a_prompt(client, owner):
    client.force_login(owner)
    response = client.post("/dashboard/budget-notice/", {"provider": "offline", "num_images": 3})
    assert response.status_code == 200
    assert response.context["estimate"] == Decimal("0")
    assert response.context["status"]["estimate_usd"] == "0.000000"
