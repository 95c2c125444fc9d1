"""Project pages: the user's projects, and creating one."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render

from gallery.models import Image
from projects.forms import ProjectForm
from projects.models import Project


@login_required
def project_list(request):
    form = ProjectForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        project = form.save()
        return redirect("project-detail", pk=project.pk)
    projects = Project.objects.visible_to(request.user).annotate(image_count=Count("images"))
    status = 400 if form.errors else 200
    return render(request, "projects/list.html", {"projects": projects, "form": form},
                  status=status)


@login_required
def project_detail(request, pk):
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
    images = Image.objects.visible_to(request.user).filter(project=project)[:60]
    return render(request, "projects/detail.html", {"project": project, "images": images})
