"""`manage.py backup` and `manage.py restore`: a team's whole install (users, generations made
through the pipeline, images, projects with members, preferences, encrypted keys and a team
key) comes back on a fresh database and storage folder, and the archive holds no plaintext key.

Runs on the configured database: SQLite by default, PostgreSQL with DATABASE_URL.
"""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import serializers
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from gallery.models import Image, Tag
from generation.models import Backend, Generation, Status, Workflow
from projects.models import Project, ProjectMembership, Role
from settings_app.models import ApiKey, Preferences, TeamKey
from settings_app.services import save_api_key, save_team_key
from tests.users import PASSWORD, client_for

pytestmark = pytest.mark.django_db(transaction=True)

CANARY_USER_KEY = "sk-canary-USERKEY-3f9a7c1e5b2d4068aa11"
CANARY_OTHER_KEY = "r8_canary-OTHER-KEY-7e6d5c4b3a2918f0"
CANARY_TEAM_KEY = "sk-canary-TEAMKEY-9b8a7f6e5d4c3b2a1100"
CANARY_GPU_TOKEN = "gpu-canary-TOKEN-7e6d5c4b3a291800"
CANARIES = (CANARY_USER_KEY, CANARY_OTHER_KEY, CANARY_TEAM_KEY, CANARY_GPU_TOKEN)


def use_storage(settings, location: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(location)}},
    }
    settings.STORAGE_DIR = location


def snapshot() -> dict:
    """Everything the test expects to find again, read from the current database."""
    return {
        "users": sorted(
            get_user_model().objects.values_list(
                "pk", "username", "password", "is_staff", "is_superuser"
            )
        ),
        "generations": sorted(
            Generation.objects.values_list(
                "pk", "owner_id", "project_id", "prompt", "status", "seed", "width", "height"
            )
        ),
        "images": sorted(
            Image.objects.values_list(
                "pk",
                "generation_id",
                "owner_id",
                "project_id",
                "file",
                "thumbnail",
                "sha256",
                "title",
                "favorite",
                "rating",
            )
        ),
        "tags": sorted(Tag.objects.values_list("pk", "name")),
        "projects": sorted(Project.objects.values_list("pk", "owner_id", "name")),
        "members": sorted(ProjectMembership.objects.values_list("project_id", "user_id", "role")),
        "preferences": sorted(
            Preferences.objects.values_list(
                "user_id", "theme", "default_width", "default_steps", "default_project_id"
            )
        ),
        "keys": sorted((k.user_id, k.provider, k.secret, k.last4) for k in ApiKey.objects.all()),
        "team_keys": sorted((k.provider, k.secret) for k in TeamKey.objects.all()),
        "team_key_users": sorted(
            get_user_model()
            .objects.filter(user_permissions__codename="use_team_keys")
            .values_list("username", flat=True)
        ),
        # The team's GPU backends (their tokens encrypted) and ComfyUI workflows (issue #17).
        "backends": sorted(
            (b.name, b.kind, b.base_url, b.secret, [g.name for g in b.groups.all()])
            for b in Backend.objects.all()
        ),
        "workflows": sorted(Workflow.objects.values_list("model_id", "workflow", "fields")),
    }


def stored_files(location: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(location)): p.read_bytes()
        for p in location.rglob("*")
        if p.is_file() and "temp" not in p.parts
    }


@pytest.fixture
def team(owner, member, outsider, admin_user, run_jobs):
    """A small team's install, built through the same services and pipeline people use."""
    owner_api = client_for(owner)
    moodboard = Project.objects.create(owner=owner, name="Moodboard")
    ProjectMembership.objects.create(project=moodboard, user=member, role=Role.EDITOR)
    ProjectMembership.objects.create(project=moodboard, user=outsider, role=Role.VIEWER)
    run_jobs(
        owner_api,
        {
            "prompt": "a red fox in snow",
            "width": 64,
            "height": 64,
            "num_images": 2,
            "seed": 7,
            "project": moodboard.pk,
        },
    )
    run_jobs(owner_api, {"prompt": "a lighthouse at night", "width": 96, "height": 64, "seed": 8})
    run_jobs(
        client_for(member),
        {"prompt": "a blue forest", "width": 64, "height": 96, "seed": 9, "project": moodboard.pk},
    )
    image = Image.objects.order_by("pk").first()
    client_for(owner).patch(
        f"/api/gallery/{image.pk}",
        {"title": "Fox", "favorite": True, "rating": 4, "tags": ["winter", "fox"]},
        format="json",
    )
    prefs = Preferences.for_user(owner)
    prefs.theme, prefs.default_width, prefs.default_steps = "light", 512, 30
    prefs.default_project = moodboard
    prefs.save()
    save_api_key(owner, "openai", CANARY_USER_KEY)
    save_api_key(member, "replicate", CANARY_OTHER_KEY)
    save_team_key("openai", CANARY_TEAM_KEY, by=admin_user)
    member.user_permissions.add(Permission.objects.get(codename="use_team_keys"))
    artists = Group.objects.create(name="artists")
    gpu = Backend.objects.create(
        kind="comfyui", name="gpu-1", base_url="http://10.0.0.5:8188", auth="bearer",
        secret=CANARY_GPU_TOKEN,
    )  # fmt: skip
    gpu.groups.add(artists)
    Workflow.objects.create(
        model_id="sd15", label="SD 1.5", workflow={"9": {"class_type": "SaveImage"}},
        fields={"prompt": {"node": "6", "input": "text"}},
    )  # fmt: skip
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert Image.objects.count() == 4
    return snapshot()


def archive_bytes(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def test_backup_restores_everything_onto_a_fresh_install(
    team, settings, tmp_path, isolated_storage
):
    before_files = stored_files(isolated_storage)
    assert len(before_files) == 8  # four originals and four thumbnails
    backup = tmp_path / "backups" / "imagegen.tar.gz"
    out = io.StringIO()
    call_command("backup", str(backup), stdout=out)
    assert "8 files" in out.getvalue() and backup.is_file()

    # A fresh install: an emptied database (as after `migrate`) and an empty storage folder.
    call_command("flush", interactive=False, verbosity=0)
    assert get_user_model().objects.count() == 0
    fresh = tmp_path / "fresh-storage"
    use_storage(settings, fresh)
    assert not default_storage.exists(team["images"][0][4])

    out = io.StringIO()
    call_command("restore", str(backup), stdout=out)
    assert "8 files" in out.getvalue()

    assert snapshot() == team
    assert stored_files(fresh) == before_files  # every file back, byte for byte
    for image in Image.objects.all():
        with default_storage.open(image.file) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == image.sha256
    # Keys still open with the same ENCRYPTION_KEY, and the restored install works.
    assert ApiKey.objects.get(provider="openai").secret == CANARY_USER_KEY
    assert TeamKey.objects.get(provider="openai").secret == CANARY_TEAM_KEY
    assert Backend.objects.get(name="gpu-1").secret == CANARY_GPU_TOKEN
    owner = get_user_model().objects.get(username="owner")
    assert owner.check_password(PASSWORD)
    image = Image.objects.order_by("pk").first()
    response = client_for(owner).get(f"/files/images/{image.pk}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == before_files[image.file]
    member = get_user_model().objects.get(username="member")
    assert member.has_perm("settings_app.use_team_keys")


def test_backup_holds_no_plaintext_key(team, tmp_path):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    content = archive_bytes(backup)
    for canary in CANARIES:
        assert canary.encode() not in content
        assert canary[-12:].encode() not in content
    # The dump itself is readable (not just compressed away): the usernames are in it.
    assert b"owner" in content


def test_backup_holds_no_session_or_login_failure(owner, tmp_path):
    """A session key signs its owner in, and login failures name people and addresses:
    neither is in a backup (of either engine)."""
    from axes.models import AccessAttempt
    from django.contrib.sessions.models import Session
    from django.test import Client

    browser = Client()
    browser.force_login(owner)
    session_key = browser.cookies["sessionid"].value
    AccessAttempt.objects.create(
        username="canary-attempt-user", ip_address="203.0.113.77", failures_since_start=1
    )
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    content = archive_bytes(backup)
    assert session_key.encode() not in content
    assert b"canary-attempt-user" not in content
    assert b"owner" in content  # the dump is readable, not compressed away
    # The live install keeps both.
    assert Session.objects.filter(session_key=session_key).exists()
    assert AccessAttempt.objects.filter(username="canary-attempt-user").exists()


def test_manifest_lists_every_file_with_size_and_hash(team, tmp_path, isolated_storage):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    with tarfile.open(backup, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = tar.getnames()
    assert manifest["format"] == "imagegen-backup" and manifest["version"] == 1
    assert manifest["engine"] == ("sqlite" if connection.vendor == "sqlite" else "postgresql")
    assert manifest["missing_files"] == []
    files = stored_files(isolated_storage)
    assert {e["name"] for e in manifest["files"]} == set(files)
    for entry in manifest["files"]:
        data = files[entry["name"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert f"files/{entry['name']}" in names
    assert manifest["database"]["name"] in names
    assert names[-1] == "manifest.json"


def test_temp_files_are_not_backed_up(team, tmp_path, isolated_storage):
    (isolated_storage / "temp").mkdir(exist_ok=True)
    (isolated_storage / "temp" / "upload-half-written").write_bytes(b"partial")
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    with tarfile.open(backup, "r:gz") as tar:
        assert not [n for n in tar.getnames() if "temp" in n]


def test_restore_refuses_a_database_with_data_unless_forced(team, tmp_path):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    Project.objects.create(owner=get_user_model().objects.get(username="owner"), name="Later")
    with pytest.raises(CommandError, match="not empty.*--force"):
        call_command("restore", str(backup), stdout=io.StringIO())
    assert Project.objects.filter(name="Later").exists()

    call_command("restore", str(backup), "--force", stdout=io.StringIO())
    assert not Project.objects.filter(name="Later").exists()
    assert snapshot() == team


def rewrite(backup: Path, target: Path, change) -> None:
    """Copy the archive, passing each member's (info, bytes) through ``change``."""
    with tarfile.open(backup, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            info, data = change(info, data)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def test_restore_refuses_a_tampered_file_before_touching_the_database(team, tmp_path, settings):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    tampered = tmp_path / "tampered.tar.gz"
    first_image = team["images"][0][4]

    def flip(info, data):
        if info.name == f"files/{first_image}":
            data = data[:-1] + bytes([data[-1] ^ 1])
        return info, data

    rewrite(backup, tampered, flip)
    call_command("flush", interactive=False, verbosity=0)
    use_storage(settings, tmp_path / "fresh-storage")
    with pytest.raises(CommandError, match="does not match the manifest"):
        call_command("restore", str(tampered), stdout=io.StringIO())
    assert get_user_model().objects.count() == 0
    assert not default_storage.exists(first_image)


def test_restore_refuses_an_unsafe_file_name(team, tmp_path, settings):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    evil = tmp_path / "evil.tar.gz"

    def traverse(info, data):
        if info.name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"][0]["name"] = "../../outside.png"
            data = json.dumps(manifest).encode()
        return info, data

    rewrite(backup, evil, traverse)
    call_command("flush", interactive=False, verbosity=0)
    use_storage(settings, tmp_path / "fresh-storage")
    with pytest.raises(CommandError, match="unsafe file"):
        call_command("restore", str(evil), stdout=io.StringIO())
    assert not (tmp_path / "outside.png").exists()


def restore_refused(backup: Path, tmp_path: Path, settings, change, match: str) -> Path:
    """Restore a changed copy of ``backup`` onto a fresh install; it must be refused before
    any file or row is written. Returns the fresh storage folder."""
    changed = tmp_path / "changed.tar.gz"
    rewrite(backup, changed, change)
    call_command("flush", interactive=False, verbosity=0)
    fresh = tmp_path / "fresh-storage"
    use_storage(settings, fresh)
    with pytest.raises(CommandError, match=match):
        call_command("restore", str(changed), stdout=io.StringIO())
    assert get_user_model().objects.count() == 0
    assert stored_files(fresh) == {}
    return fresh


def test_an_unsafe_name_anywhere_in_the_manifest_is_refused_before_any_file(
    team, tmp_path, settings
):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())

    def last_unsafe(info, data):
        if info.name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"][-1]["name"] = "../../outside.png"
            data = json.dumps(manifest).encode()
        return info, data

    restore_refused(backup, tmp_path, settings, last_unsafe, "unsafe file")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a SQLite snapshot is migrated")
def test_other_migrations_are_refused_before_any_file(team, tmp_path, settings):
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())

    def newer(info, data):
        if info.name == "manifest.json":
            manifest = json.loads(data)
            manifest["migrations"].append("gallery.9999_from_the_future")
            data = json.dumps(manifest).encode()
        return info, data

    restore_refused(backup, tmp_path, settings, newer, "other migrations")


def test_restore_refuses_something_that_is_not_a_backup(db, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(CommandError, match="not a readable"):
        call_command("restore", str(junk), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such backup"):
        call_command("restore", str(tmp_path / "absent.tar.gz"), stdout=io.StringIO())


def test_dumpdata_writes_key_ciphertext_and_loads_it_back_unchanged(owner):
    """The encrypted column serializes as its stored ciphertext, never as the plaintext."""
    save_api_key(owner, "openai", CANARY_USER_KEY)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {ApiKey._meta.db_table}")
        stored = bytes(cursor.fetchone()[0])
    text = serializers.serialize("json", ApiKey.objects.all())
    assert CANARY_USER_KEY not in text and CANARY_USER_KEY[-12:] not in text
    ApiKey.objects.all().delete()
    for obj in serializers.deserialize("json", text):
        obj.save()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {ApiKey._meta.db_table}")
        assert bytes(cursor.fetchone()[0]) == stored
    assert ApiKey.objects.get().secret == CANARY_USER_KEY


def test_backup_while_images_are_being_made_is_consistent(owner, tmp_path, settings):
    """A writer keeps adding generations with images during the backup: the restored
    database is one moment of the live one, and each of its images has its file."""
    import threading

    from django.db import connections

    from tests.gallery.factories import make_image

    stop, made = threading.Event(), threading.Semaphore(0)
    errors = []

    def writer():
        try:
            while not stop.is_set():
                make_image(owner, prompt="made during the backup")
                made.release()
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)
            made.release()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(3):
            made.acquire(timeout=30)
        backup = tmp_path / "live.tar.gz"
        call_command("backup", str(backup), stdout=io.StringIO())
        for _ in range(2):  # the writer is still going after the backup
            made.acquire(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    total_after = Image.objects.count()

    with tarfile.open(backup, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["missing_files"] == []

    call_command("flush", interactive=False, verbosity=0)
    use_storage(settings, tmp_path / "fresh-storage")
    call_command("restore", str(backup), stdout=io.StringIO())
    restored = list(Image.objects.select_related("generation"))
    assert 3 <= len(restored) < total_after
    for image in restored:
        assert image.generation.owner_id == image.owner_id
        with default_storage.open(image.file) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == image.sha256
        assert default_storage.exists(image.thumbnail)


# --- Images in (docs/image-operations.md): uploads, operations and their lineage ------------


@pytest.fixture
def lineage(owner, run_jobs):
    """An upload, upscaled, then inpainted with a drawn mask; the upload then deleted (the
    lineage keeps its id). Returns the inpaint generation."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.gallery.factories import image_bytes
    from tests.operations.helpers import mask_uri

    api = client_for(owner)
    response = api.post(
        "/api/gallery/upload",
        {"file": [SimpleUploadedFile("cat.png", image_bytes(size=(20, 15)))]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    uploaded = response.json()["images"][0]["id"]
    steps = [
        {"operation": "upscale", "input_images": [uploaded], "scale": 2},
        {"operation": "inpaint", "prompt": "a door", "mask": mask_uri(40, 30)},
    ]
    for step in steps:
        response = run_jobs(api, {"provider": "offline", "input_images": [uploaded], **step})
        generation = Generation.objects.get(pk=response.json()["id"])
        assert generation.status == Status.SUCCEEDED, generation.error
        uploaded = generation.images.get().pk
    first = Image.objects.get(origin="upload").pk
    assert api.delete(f"/api/gallery/{first}").status_code == 204
    return generation


def test_uploads_operations_and_drawn_masks_come_back(
    lineage, settings, tmp_path, isolated_storage
):
    from gallery.models import GenerationInput
    from generation import inputs

    mask = GenerationInput.objects.get(role="mask")
    assert mask.image_ref is None and default_storage.exists(mask.file)
    columns = ("pk", "generation_id", "image_id", "image_ref", "role", "position", "file")
    rows = list(GenerationInput.objects.order_by("pk").values_list(*columns))
    images = sorted(Image.objects.values_list("pk", "origin", "generation__operation", "file"))
    assert {operation for _, _, operation, _ in images} == {"upscale", "inpaint"}
    before_files = stored_files(isolated_storage)
    assert mask.file in before_files
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    with tarfile.open(backup, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert mask.file in {entry["name"] for entry in manifest["files"]}
    assert manifest["missing_files"] == []

    call_command("flush", interactive=False, verbosity=0)
    fresh = tmp_path / "fresh-storage"
    use_storage(settings, fresh)
    call_command("restore", str(backup), stdout=io.StringIO())

    assert stored_files(fresh) == before_files
    assert list(GenerationInput.objects.order_by("pk").values_list(*columns)) == rows
    assert sorted(Image.objects.values_list("pk", "origin", "generation__operation", "file")) == (
        images
    )
    # The restored generation's inputs read back as a retry would read them.
    restored = Generation.objects.get(pk=lineage.pk)
    taken, drawn = inputs.load(restored)
    assert len(taken) == 1 and drawn is not None and (drawn.width, drawn.height) == (40, 30)
    owner = client_for(get_user_model().objects.get(username="owner"))
    child = owner.get(f"/api/gallery/{restored.images.get().pk}").json()
    assert [p["state"] for p in child["parents"]] == ["present", "drawn"]
    parent = owner.get(f"/api/gallery/{child['parents'][0]['image']}").json()
    assert [p["state"] for p in parent["parents"]] == ["deleted"]


def test_a_drawn_mask_missing_from_storage_is_reported(lineage, tmp_path):
    from gallery.models import GenerationInput

    mask = GenerationInput.objects.get(role="mask")
    default_storage.delete(mask.file)
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    with tarfile.open(backup, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["missing_files"] == [mask.file]
