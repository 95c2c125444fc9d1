"""Replicate against the strict fake: the catalog offers only what each model's schema takes,
an aborted prediction fails in words, a create is sent again only after a 429 (honouring
Retry-After), batch images get no invented seeds, and the model listing reads the schemas."""

import time

import pytest
from PIL import Image as PILImage

from gallery.models import Image
from generation.models import Generation
from imagegen.providers import get_provider, replicate
from imagegen.providers.base import GenerationRequest, ProviderError, RunContext
from imagegen.providers.inputs import png_input
from tests.fakes.replicate_server import SDXL_VERSION, input_properties, validate_input
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

FLUX = "black-forest-labs/flux-schnell"
PRO = "black-forest-labs/flux-1.1-pro"


@pytest.fixture(autouse=True)
def inputs_match_the_schema(fake_replicate):
    """Replicate ignores input fields a model does not have, so a misnamed field "works";
    every prediction a test made must use only its model's own fields."""
    yield
    assert fake_replicate.schema_violations() == {}


def replicate_specs():
    return {spec.id: spec for spec in get_provider("replicate").models()}


def schema_of(fake, model_id: str) -> dict:
    entry = fake.models[model_id]
    return entry["versions"][entry["latest"]]


def request_for(spec, width, height, **fields) -> GenerationRequest:
    if not spec.does("generate"):  # an image model: its first operation, on small inputs
        fields.setdefault("operation", spec.operations[0])
        fields.setdefault("input_images", [png_input(PILImage.new("RGB", (8, 8)))])
        if spec.takes_mask:
            fields.setdefault("mask", png_input(PILImage.new("L", (8, 8))))
        if spec.scales:
            fields.setdefault("scale", spec.scales[0])
    return GenerationRequest(
        prompt="x",
        model=spec.id,
        width=width,
        height=height,
        steps=spec.default_steps,
        cfg_scale=spec.default_cfg_scale,
        seed=7 if spec.seed else None,
        **fields,
    )


# ---------------------------------------------------------------- 4: the catalog fits the schemas
def test_every_offered_size_option_and_range_is_in_the_models_schema(fake_replicate):
    """What the catalog offers for each Replicate model, turned into the model's native inputs,
    is accepted by the model's published input schema (the fake holds the real schemas)."""
    from imagegen.providers.mapping import native_inputs

    specs = replicate_specs()
    assert set(specs) == set(fake_replicate.models)
    for model_id, spec in specs.items():
        schema = schema_of(fake_replicate, model_id)
        props, _ = input_properties(schema)
        sizes = spec.sizes or ((spec.min_size, spec.min_size), (spec.max_size, spec.max_size))
        for width, height in sizes:
            for n in {1, spec.max_images}:
                request = request_for(spec, width, height, num_images=n)
                inputs = native_inputs(spec, request)
                assert validate_input(schema, inputs) == ([], []), (model_id, width, height)
        for name, values in spec.options.items():
            for value in values:
                request = request_for(spec, *sizes[0], params={name: value})
                inputs = native_inputs(spec, request)
                assert validate_input(schema, inputs) == ([], []), (model_id, name, value)
        for unified, pair, default in (
            ("steps", spec.steps, spec.default_steps),
            ("cfg_scale", spec.cfg_scale, spec.default_cfg_scale),
        ):
            if pair is None:
                assert unified not in spec.inputs, model_id
                continue
            prop = props[spec.inputs[unified]]
            assert (prop["minimum"], prop["maximum"]) == tuple(pair), (model_id, unified)
            assert prop["default"] == default, (model_id, unified)
        for name in spec.passthrough:
            assert name in props, (model_id, name)


def test_flux_pro_is_not_offered_21_9(owner_api, fake_replicate):
    response = owner_api.post(
        "/api/generate",
        {"prompt": "x", "provider": "replicate", "model": PRO, "width": 1536, "height": 640},
        format="json",
    )
    assert response.status_code == 400
    response = owner_api.post(
        "/api/generate",
        {
            "prompt": "x",
            "provider": "replicate",
            "model": PRO,
            "width": 1024,
            "height": 1024,
            "params": {"safety_tolerance": 6},
        },
        format="json",
    )
    assert response.status_code == 400 and "safety_tolerance" in str(response.json())
    assert fake_replicate.requests == []


def test_flux_pro_runs_at_its_most_permissive_tolerance(owner_api, run_jobs, fake_replicate):
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model=PRO,
        prompt="x",
        width=1344,
        height=768,
        params={"safety_tolerance": 5},
    )
    assert result["status"] == "succeeded", result["error"]
    assert fake_replicate.requests[0]["json"]["input"]["aspect_ratio"] == "16:9"


# ---------------------------------------------------------------- 5: aborted
def test_an_aborted_prediction_fails_in_words(owner_api, run_jobs, fake_replicate):
    fake_replicate.set_scenario("aborted", polls=2)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(
        "Replicate could not generate the image: the prediction was aborted before it started"
    ), result["error"]
    assert stored_image_count(result["id"]) == 0


# ---------------------------------------------------------------- 6: creates are not repeated
def test_a_create_whose_answer_was_lost_is_not_sent_again(
    owner_api, run_jobs, fake_replicate, monkeypatch
):
    monkeypatch.setattr(replicate, "READ_TIMEOUT", 0.5)
    fake_replicate.set_scenario("create_timeout", seconds=2)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["error"].startswith(
        "Replicate did not confirm the request (no answer in time); it may still run and be "
        "billed, so it was not sent again."
    ), result["error"]
    assert [r["method"] for r in fake_replicate.requests] == ["POST"]
    assert len(fake_replicate.predictions) == 1


def direct_run(fake_replicate, model=FLUX):
    """generate() called directly, with a context whose retry waits can be read: the test
    suite's fast_time fixture takes each retry wait off the deadline instead of sleeping."""
    provider = get_provider("replicate")
    spec = provider.get_model(model)
    ctx = RunContext(deadline=time.monotonic() + 120, api_key="r8_test_good")
    ctx.spec = spec
    request = request_for(spec, 1024, 1024)
    before = ctx.deadline
    result = provider.generate(request, ctx)
    return result, before - ctx.deadline


@pytest.mark.parametrize("stage", ["create", "get"])
def test_a_429_is_retried_after_the_servers_retry_after(fake_replicate, stage):
    fake_replicate.set_scenario("rate_limited_once", stage=stage, retry_after=7)
    result, waited = direct_run(fake_replicate)
    assert result.images and waited == pytest.approx(7.0)
    methods = [r["method"] for r in fake_replicate.requests]
    assert methods.count("POST") == (2 if stage == "create" else 1)
    assert len(fake_replicate.predictions) == 1


def test_a_poll_answered_5xx_is_retried(fake_replicate):
    fake_replicate.set_scenario("server_error", stage="get", status=502)
    with pytest.raises(ProviderError, match=r"unavailable right now \(HTTP 502\)"):
        direct_run(fake_replicate)
    gets = [r for r in fake_replicate.requests if r["method"] == "GET"]
    assert len(gets) > 1 and len(fake_replicate.predictions) == 1


# ---------------------------------------------------------------- 11: seeds
def test_a_batch_has_the_batch_seed_and_no_invented_image_seeds(
    owner_api, run_jobs, fake_replicate
):
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model=FLUX,
        prompt="x",
        width=1024,
        height=1024,
        num_images=3,
        seed=41,
    )
    assert result["status"] == "succeeded", result["error"]
    assert Generation.objects.get(pk=result["id"]).seed == 41
    seeds = list(Image.objects.filter(generation_id=result["id"]).values_list("seed", flat=True))
    assert seeds == [None, None, None]


def test_a_single_image_keeps_its_seed(owner_api, run_jobs, fake_replicate):
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model=FLUX,
        prompt="x",
        width=1024,
        height=1024,
        seed=41,
    )
    assert result["status"] == "succeeded", result["error"]
    assert Image.objects.get(generation_id=result["id"]).seed == 41


# ---------------------------------------------------------------- the model listing
def test_list_models_reads_each_known_model_and_the_collection(fake_replicate):
    fake_replicate.add_listed_model(
        "acme/new-painter",
        {
            "required": ["prompt"],
            "properties": {
                "prompt": {"type": "string"},
                "aspect_ratio": {
                    "allOf": [{"$ref": "#/components/schemas/aspect_ratio"}],
                    "default": "1:1",
                },
            },
        },
        components={"aspect_ratio": {"enum": ["1:1", "16:9"], "type": "string"}},
    )
    fake_replicate.remove_listed_model(PRO)
    known = [FLUX, PRO, "stability-ai/sdxl", f"stability-ai/sdxl:{SDXL_VERSION}"]
    listing = get_provider("replicate").list_models("r8_test_good", known)
    by_id = {m.id: m for m in listing.models}
    assert listing.complete
    assert PRO not in by_id  # gone: 404
    assert set(by_id) == {
        FLUX,
        "stability-ai/sdxl",
        f"stability-ai/sdxl:{SDXL_VERSION}",
        "black-forest-labs/flux-dev",
        "acme/new-painter",
    }
    schnell = by_id[FLUX].input_schema
    assert "$ref" not in str(schnell)  # inlined; Cog's allOf wrapper is kept as published
    assert schnell["properties"]["aspect_ratio"]["allOf"][0]["enum"][2] == "21:9"
    assert schnell["properties"]["num_inference_steps"]["maximum"] == 4
    assert by_id[FLUX].version == "" and by_id["stability-ai/sdxl"].version == SDXL_VERSION
    sdxl = by_id[f"stability-ai/sdxl:{SDXL_VERSION}"].input_schema
    assert sdxl["properties"]["scheduler"]["default"] == "K_EULER"
    painter = by_id["acme/new-painter"].input_schema["properties"]["aspect_ratio"]
    assert painter["allOf"][0]["enum"] == ["1:1", "16:9"]
    assert not any(m.deprecated or m.shutdown_date for m in listing.models)


def test_list_models_is_incomplete_when_a_known_model_could_not_be_read(fake_replicate):
    fake_replicate.set_scenario("server_error", stage="models", status=503)
    listing = get_provider("replicate").list_models("r8_test_good", [FLUX])
    assert not listing.complete and listing.models == []
    assert any("HTTP 503" in note for note in listing.notes)


def test_list_models_with_a_bad_key_raises_in_words(fake_replicate):
    with pytest.raises(ProviderError, match="rejected the API key"):
        get_provider("replicate").list_models("r8_wrong", [FLUX])
