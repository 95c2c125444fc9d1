"""Provider and storage faults end as failed generations with reasons, leaving nothing behind."""

import errno
import os
import struct
import zlib

import pytest

from gallery.models import Image
from generation import runner
from generation.models import Generation, Status
from imagegen.core.storage import ContentAddressedStorage
from imagegen.providers.base import ProviderError
from imagegen.providers.offline import render
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db


def stored_files(root):
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def png_declaring(width, height):
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def run_scripted(owner):
    generation = make_generation(owner, provider="scripted", model="scripted-1")
    runner.execute(generation.pk)
    generation.refresh_from_db()
    return generation


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"<html><script>alert(1)</script></html>", "not a PNG, JPEG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not a PNG, JPEG or WebP"),
        (png_declaring(20000, 20000), "pixel limit"),
        (render("cut", 1, 128, 128)[:300], "truncated"),
        (b"", "empty"),
    ],
)
def test_unusable_image_fails_with_reason_and_stores_nothing(
    owner, scripted, isolated_storage, payload, words
):
    scripted.payloads = [payload]
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED
    assert "Scripted returned an unusable image" in generation.error
    assert words in generation.error
    assert not Image.objects.exists()
    assert stored_files(isolated_storage) == []


def test_image_over_size_limit_fails(owner, scripted, settings, isolated_storage):
    settings.MAX_IMAGE_SIZE = 2000
    scripted.payloads = [render("big", 1, 256, 256)]
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED and "limit" in generation.error
    assert stored_files(isolated_storage) == []


def test_second_bad_image_discards_the_first(owner, scripted, isolated_storage):
    scripted.payloads = [render("good", 1, 64, 64), b"garbage"]
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED
    assert not Image.objects.exists() and stored_files(isolated_storage) == []


def test_provider_error_is_stored_in_words(owner, scripted):
    scripted.error = ProviderError("Scripted rejected the API key: check it in Settings.")
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED
    assert generation.error == "Scripted rejected the API key: check it in Settings."


def test_unexpected_exception_is_a_failure_without_a_stack_trace(owner, scripted):
    scripted.error = RuntimeError("secret internals")
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED
    assert "Internal error" in generation.error
    assert "secret internals" not in generation.error and "Traceback" not in generation.error


def test_disk_full_while_storing_fails_and_leaves_no_partial_files(
    owner, scripted, monkeypatch, isolated_storage
):
    scripted.payloads = [render("one", 1, 64, 64), render("two", 2, 64, 64)]
    original_save = ContentAddressedStorage._save
    calls = {"n": 0}

    def failing_save(self, name, content):
        calls["n"] += 1
        if calls["n"] == 3:  # first image and its thumbnail went in; the second original fails
            raise OSError(errno.ENOSPC, "No space left on device")
        return original_save(self, name, content)

    monkeypatch.setattr(ContentAddressedStorage, "_save", failing_save)
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED
    assert generation.error == "Could not store the image: the disk is full."
    assert not Image.objects.exists()
    assert stored_files(isolated_storage) == []


def test_provider_result_recorded_on_success(owner, scripted):
    scripted.payloads = [render("ok", 1, 64, 64)]
    generation = run_scripted(owner)
    assert generation.status == Status.SUCCEEDED
    assert generation.provider_request_id == "scripted-req"
    assert str(generation.cost_usd) == "0.010000" and generation.cost_is_estimate is False
    assert Generation.objects.get(pk=generation.pk).images.count() == 1


def test_keyed_provider_gets_the_key_and_records_its_source(owner, scripted, monkeypatch):
    from imagegen.providers.base import GeneratedImage, ProviderResult
    from settings_app import keys

    scripted.requires_key = True
    seen = {}

    def generate(request, ctx):
        seen["key"] = ctx.api_key
        return ProviderResult(images=[GeneratedImage(data=render("k", 1, 64, 64))])

    scripted.generate = generate
    monkeypatch.setitem(keys.ENVIRONMENT_KEYS, "scripted", "SCRIPTED_API_KEY")
    monkeypatch.setenv("SCRIPTED_API_KEY", "sk-from-env")
    generation = run_scripted(owner)
    assert generation.status == Status.SUCCEEDED and seen["key"] == "sk-from-env"
    assert generation.key_source == "environment"


def test_keyed_provider_without_a_key_is_refused_at_submission(owner_api, scripted):
    scripted.requires_key = True
    response = owner_api.post(
        "/api/generate", {"prompt": "x", "provider": "scripted"}, format="json"
    )
    assert response.status_code == 400
    assert "No API key for Scripted" in response.json()["provider"][0]
    assert not Generation.objects.exists()


def test_keyed_provider_whose_key_vanished_fails_with_reason(owner, scripted):
    scripted.requires_key = True
    generation = run_scripted(owner)
    assert generation.status == Status.FAILED and "No API key for Scripted" in generation.error
