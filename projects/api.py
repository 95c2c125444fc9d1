"""REST API for projects: list, create, read, change (members included) and delete."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from imagegen.core.links import absolute_url, request_of
from projects import services
from projects.models import Project, Role


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(Role.values, default=Role.VIEWER)


class ProjectSerializer(serializers.ModelSerializer):
    """A project with its counts, cover and members; writes go through projects.services."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    cover_image = serializers.IntegerField(source="cover_image_id", required=False, allow_null=True)
    cover_thumbnail_url = serializers.SerializerMethodField()
    image_count = serializers.IntegerField(read_only=True)
    total_cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)
    members = MemberSerializer(many=True, required=False, write_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "role",
            "cover_image",
            "cover_thumbnail_url",
            "image_count",
            "total_cost_usd",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "owner",
            "role",
            "cover_thumbnail_url",
            "image_count",
            "total_cost_usd",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"validators": []}}

    def get_cover_thumbnail_url(self, project) -> str | None:
        image_id = project.cover_image_id or getattr(project, "latest_image_id", None)
        if not image_id:
            return None
        return absolute_url(request_of(self), "image-thumbnail", image_id)

    def get_role(self, project) -> str | None:
        return project.role_of(self.context["request"].user)

    def to_representation(self, project):
        data = super().to_representation(project)
        data["members"] = [
            {"username": m.user.username, "role": m.role} for m in project.memberships.all()
        ]
        return data

    def validate(self, attrs):
        if "cover_image_id" in attrs:
            attrs["cover_image"] = attrs.pop("cover_image_id")
        return attrs


def annotated_projects(user):
    """Projects visible to the user, with their counts, cover and members."""
    return Project.objects.for_user(user, "view").with_stats()


class ProjectListView(generics.ListCreateAPIView):
    """GET /api/projects (owned and shared), POST /api/projects (create, owner = you)."""

    serializer_class = ProjectSerializer

    def get_queryset(self):
        return annotated_projects(self.request.user)

    def create(self, request, *args, **kwargs):
        form = ProjectSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        project = services.create_project(request.user, form.validated_data)
        answer = ProjectSerializer(
            annotated_projects(request.user).get(pk=project.pk), context={"request": request}
        )
        return Response(answer.data, status=status.HTTP_201_CREATED)


class ProjectDetailView(generics.RetrieveAPIView):
    """GET (any member), PUT/PATCH and DELETE (the owner) /api/projects/{id}."""

    serializer_class = ProjectSerializer

    def get_queryset(self):
        return annotated_projects(self.request.user)

    def _owned(self, request, pk, action) -> Project:
        return Project.objects.get_for_user(
            request.user, action, pk=pk, denied="Only the project's owner may change or delete it."
        )

    def _change(self, request, pk, partial):
        project = self._owned(request, pk, "change")
        form = ProjectSerializer(
            project, data=request.data, partial=partial, context={"request": request}
        )
        form.is_valid(raise_exception=True)
        services.update_project(project, form.validated_data)
        return Response(
            ProjectSerializer(self.get_queryset().get(pk=pk), context={"request": request}).data
        )

    @extend_schema(request=ProjectSerializer, responses={200: ProjectSerializer})
    def put(self, request, pk):
        return self._change(request, pk, partial=False)

    @extend_schema(request=ProjectSerializer, responses={200: ProjectSerializer})
    def patch(self, request, pk):
        return self._change(request, pk, partial=True)

    @extend_schema(
        parameters=[OpenApiParameter("delete_images", bool, required=False)], responses={204: None}
    )
    def delete(self, request, pk):
        project = self._owned(request, pk, "delete")
        wanted = request.query_params.get("delete_images", "").lower() in ("1", "true", "yes")
        services.delete_project(project, delete_images=wanted)
        return Response(status=status.HTTP_204_NO_CONTENT)
