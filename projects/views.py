"""Project pages: the list (owned and shared) and the owner's forms to edit, share and delete
a project. Changes go through projects.services. The project page itself (its images and
members) is gallery.pages.project_page: the gallery scoped to one project."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from imagegen.core.exceptions import Forbidden
from projects import services
from projects.forms import ProjectForm
from projects.models import Project, Role


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)  # every field's messages, for an error dict too


@login_required
def project_list(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(request.user, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)  # {"name": [...]}: shown at the field
        else:
            return redirect("project-detail", pk=project.pk)
    projects = Project.objects.for_user(request.user, "view").with_stats()
    status = 400 if form.errors else 200
    return render(
        request, "projects/list.html", {"projects": projects, "form": form}, status=status
    )


def _owned_project(request, pk, action: str = "change") -> Project | None:
    """The project, when the user may do ``action`` to it; None (with the reason as a
    message) when they only see it; a 404 when they do not."""
    try:
        return Project.objects.get_for_user(
            request.user, action, pk=pk, denied="Only the project's owner may change it."
        )
    except Forbidden as refused:
        messages.error(request, refused.detail)
        return None


@login_required
@require_POST
def project_edit(request, pk):
    project = _owned_project(request, pk)
    if project is not None:
        try:
            services.update_project(
                project,
                {
                    "name": request.POST.get("name", ""),
                    "description": request.POST.get("description", ""),
                },
            )
            messages.success(request, "Saved.")
        except ValidationError as error:
            messages.error(request, _errors(error))
    return redirect("project-detail", pk=pk)


@login_required
@require_POST
def project_members(request, pk):
    """Add or change one member (username + role) or remove one (remove=username)."""
    project = _owned_project(request, pk)
    if project is not None:
        removing = request.POST.get("remove")
        try:
            if removing:
                services.remove_member(project, removing)
            else:
                services.change_member(
                    project,
                    request.POST.get("username", "").strip(),
                    request.POST.get("role", Role.VIEWER),
                )
            messages.success(request, "Members updated.")
        except ValidationError as error:
            messages.error(request, _errors(error))
    return redirect("project-detail", pk=pk)


@login_required
@require_POST
def project_delete(request, pk):
    project = _owned_project(request, pk, "delete")
    if project is None:
        return redirect("project-detail", pk=pk)
    deleted = services.delete_project(
        project, delete_images=request.POST.get("delete_images") == "on"
    )
    messages.success(
        request,
        f"Project {project.name} deleted" + (f" with {deleted} image(s)." if deleted else "."),
    )
    return redirect("projects")


@login_required
@require_POST
def project_leave(request, pk):
    """A member takes themselves off a project shared with them."""
    project = get_object_or_404(Project.objects.for_user(request.user, "view"), pk=pk)
    try:
        services.leave_project(project, request.user)
    except ValidationError as error:
        messages.error(request, _errors(error))
        return redirect("project-detail", pk=pk)
    messages.success(request, f"You left {project.name}.")
    return redirect("projects")
