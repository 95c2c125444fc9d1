"""A catalog spec derived from a model's published input schema (providers/schema.py).

The realistic schemas copy the SHAPE of what the providers publish: Replicate's OpenAPI
``Input`` component for black-forest-labs/flux-schnell (each enum a component referenced
through ``allOf: [{$ref}]`` beside the property's default), and fal's endpoint OpenAPI for
fal-ai/flux/dev (``image_size`` anyOf an ``ImageSize`` object and an enum of presets; the
ImageSize object as fal publishes it: width/height integers, exclusiveMinimum 0, maximum
14142). The hostile ones must never crash a refresh.
"""

import copy

import pytest

from generation.models import CatalogModel
from imagegen.providers.catalog import SPEC_KEYS, not_runnable_reason, spec_from_row
from imagegen.providers.schema import derive_spec, spec_from_schema

# Replicate: the model's openapi_schema, components.schemas.Input plus its enum components
# (latest_version.openapi_schema of GET /v1/models/black-forest-labs/flux-schnell).
REPLICATE_FLUX_SCHNELL = {
    "type": "object",
    "title": "Input",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
        "aspect_ratio": {
            "allOf": [{"$ref": "#/components/schemas/aspect_ratio"}],
            "default": "1:1",
            "x-order": 1,
        },
        "num_outputs": {
            "type": "integer",
            "title": "Num Outputs",
            "minimum": 1,
            "maximum": 4,
            "default": 1,
            "x-order": 2,
        },
        "num_inference_steps": {
            "type": "integer",
            "minimum": 1,
            "maximum": 4,
            "default": 4,
            "x-order": 3,
        },
        "seed": {"type": "integer", "title": "Seed", "x-order": 4},
        "output_format": {
            "allOf": [{"$ref": "#/components/schemas/output_format"}],
            "default": "webp",
            "x-order": 5,
        },
        "output_quality": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 80,
            "x-order": 6,
        },
        "disable_safety_checker": {"type": "boolean", "default": False, "x-order": 7},
        "go_fast": {"type": "boolean", "default": True, "x-order": 8},
        "megapixels": {
            "allOf": [{"$ref": "#/components/schemas/megapixels"}],
            "default": "1",
            "x-order": 9,
        },
    },
    "components": {
        "schemas": {
            "aspect_ratio": {
                "type": "string",
                "title": "aspect_ratio",
                "enum": ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16"],
            },
            "output_format": {"type": "string", "enum": ["webp", "jpg", "png"]},
            "megapixels": {"type": "string", "enum": ["1", "0.25"]},
        }
    },
}

# fal: the request body of POST /fal-ai/flux/dev in fal's endpoint OpenAPI document.
FAL_FLUX_DEV = {
    "type": "object",
    "title": "TextToImageInput",
    "required": ["prompt"],
    "x-fal-order-properties": ["prompt", "image_size", "num_inference_steps", "seed"],
    "properties": {
        "prompt": {"type": "string", "title": "Prompt"},
        "image_size": {
            "anyOf": [
                {"$ref": "#/components/schemas/ImageSize"},
                {
                    "type": "string",
                    "enum": [
                        "square_hd",
                        "square",
                        "portrait_4_3",
                        "portrait_16_9",
                        "landscape_4_3",
                        "landscape_16_9",
                    ],
                },
            ],
            "title": "Image Size",
            "default": "landscape_4_3",
        },
        "num_inference_steps": {
            "type": "integer",
            "minimum": 1,
            "maximum": 50,
            "default": 28,
            "title": "Num Inference Steps",
        },
        "seed": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Seed"},
        "guidance_scale": {
            "type": "number",
            "minimum": 1,
            "maximum": 20,
            "default": 3.5,
            "title": "Guidance scale (CFG)",
        },
        "sync_mode": {"type": "boolean", "default": False},
        "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "enable_safety_checker": {"type": "boolean", "default": True},
        "output_format": {"type": "string", "enum": ["jpeg", "png"], "default": "jpeg"},
        "acceleration": {
            "type": "string",
            "enum": ["none", "regular", "high"],
            "default": "none",
        },
    },
    "components": {
        "schemas": {
            "ImageSize": {
                "type": "object",
                "title": "ImageSize",
                "x-fal-order-properties": ["width", "height"],
                "properties": {
                    "width": {
                        "type": "integer",
                        "title": "Width",
                        "exclusiveMinimum": 0,
                        "maximum": 14142,
                        "default": 512,
                    },
                    "height": {
                        "type": "integer",
                        "title": "Height",
                        "exclusiveMinimum": 0,
                        "maximum": 14142,
                        "default": 512,
                    },
                },
            }
        }
    },
}

SDXL_STYLE = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string"},
        "negative_prompt": {"type": "string", "default": ""},
        "width": {"type": "integer", "minimum": 128, "maximum": 2048, "multipleOf": 8},
        "height": {"type": "integer", "minimum": 256, "maximum": 1536, "multipleOf": 8},
        "cfg": {"type": "number", "minimum": 1, "maximum": 50, "default": 7.5},
        "steps": {"type": "integer", "minimum": 1, "maximum": 500, "default": 30},
        "scheduler": {"type": "string", "enum": ["DDIM", "K_EULER"], "default": "K_EULER"},
        "safety_tolerance": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
        "lora_scale": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def test_replicate_flux_schnell_schema_gives_ratios_steps_count_and_options():
    spec = spec_from_schema(REPLICATE_FLUX_SCHNELL, "replicate")
    assert spec["sizes"][0] == ["1024x1024", "1:1"]  # the schema's default ratio first
    assert ["1360x768", "16:9"] in spec["sizes"] and ["768x1360", "9:16"] in spec["sizes"]
    for size, _ratio in spec["sizes"]:
        width, height = (int(n) for n in size.split("x"))
        assert width % 16 == 0 and height % 16 == 0
        assert 0.85e6 < width * height < 1.25e6  # about one megapixel
    assert spec["inputs"] == {
        "size": "aspect_ratio",
        "num_images": "num_outputs",
        "steps": "num_inference_steps",
        "seed": "seed",
    }
    assert (spec["steps"], spec["default_steps"], spec["max_images"]) == ([1, 4], 4, 4)
    assert spec["cfg_scale"] is None and spec["seed"] is True and not spec["negative_prompt"]
    assert spec["options"]["megapixels"] == ["1", "0.25"]
    assert spec["options"]["output_format"] == ["webp", "jpg", "png"]
    assert spec["options"]["go_fast"] == [True, False]
    assert "output_quality" in spec["passthrough"]  # 0..100: too many to list
    assert spec["operations"] == ["generate"] and spec["text_to_image"] is True
    assert spec["unmapped_required"] == []
    assert set(spec) <= set(SPEC_KEYS)


def test_fal_flux_dev_schema_gives_presets_free_sizes_guidance():
    spec = spec_from_schema(FAL_FLUX_DEV, "fal")
    assert spec["inputs"] == {
        "size": "image_size",
        "num_images": "num_images",
        "steps": "num_inference_steps",
        "cfg_scale": "guidance_scale",
        "seed": "seed",
    }
    assert list(spec["presets"].items())[0] == ("1024x768", "landscape_4_3")  # the default
    assert spec["presets"]["1024x1024"] == "square_hd"
    assert spec["presets"]["576x1024"] == "portrait_16_9"
    assert (spec["min_size"], spec["max_size"]) == (64, 4096)  # fal's bounds, within limits
    assert spec["cfg_scale"] == [1, 20] and spec["default_cfg_scale"] == 3.5
    assert spec["steps"] == [1, 50] and spec["default_steps"] == 28
    assert spec["fixed_inputs"] == {"enable_safety_checker": True}
    assert "sync_mode" not in spec["options"] and "sync_mode" not in spec["passthrough"]
    assert spec["options"]["acceleration"] == ["none", "regular", "high"]


def test_a_derived_spec_drives_the_model_through_the_catalog():
    """The derived spec is a working catalog spec: sizes, native values and defaults."""
    row = CatalogModel(
        provider="fal",
        model_id="fal-ai/new",
        display_name="New",
        spec=spec_from_schema(FAL_FLUX_DEV, "fal"),
    )
    model = spec_from_row(row)
    assert model.native_sizes["1024x1024"] == "square_hd"
    assert model.steps == (1, 50) and model.cfg_scale == (1, 20) and model.max_images == 4
    assert not model.sizes and model.min_size == 64  # free sizes, presets where they match
    replicate = spec_from_row(
        CatalogModel(
            model_id="x/y", display_name="Y", spec=spec_from_schema(REPLICATE_FLUX_SCHNELL, "r")
        )
    )
    assert replicate.sizes[0] == (1024, 1024) and replicate.native_sizes["1360x768"] == "16:9"


def test_plain_width_height_give_free_sizes_and_small_int_ranges_become_options():
    spec = spec_from_schema(SDXL_STYLE, "replicate")
    assert (spec["min_size"], spec["max_size"], spec["size_multiple"]) == (256, 1536, 8)
    assert spec["inputs"]["width"] == "width" and spec["inputs"]["height"] == "height"
    assert (
        spec["negative_prompt"] is True and spec["inputs"]["negative_prompt"] == "negative_prompt"
    )
    assert spec["cfg_scale"] == [1, 50] and spec["inputs"]["cfg_scale"] == "cfg"
    assert spec["steps"] == [1, 500] and spec["inputs"]["steps"] == "steps"
    assert spec["options"]["safety_tolerance"] == [2, 1]  # never past the default
    assert spec["options"]["scheduler"] == ["K_EULER", "DDIM"]  # the default first
    assert "lora_scale" in spec["passthrough"]


def test_safety_switches_are_pinned_on_and_never_offered():
    replicate = spec_from_schema(REPLICATE_FLUX_SCHNELL, "replicate")
    assert replicate["fixed_inputs"] == {"disable_safety_checker": False}
    assert "disable_safety_checker" not in replicate["options"]
    assert "disable_safety_checker" not in replicate["passthrough"]
    schema = {
        "properties": {
            "prompt": {"type": "string"},
            "enable_safety_checker": {"type": "boolean", "default": False},
            "safety_checker": {"type": "boolean"},
        }
    }
    spec = spec_from_schema(schema, "fal")
    assert spec["fixed_inputs"] == {"enable_safety_checker": True, "safety_checker": True}
    assert spec["options"] == {} and spec["passthrough"] == []
    not_a_switch = {
        "properties": {"prompt": {"type": "string"}, "safety_checker": {"type": "string"}}
    }
    derived = derive_spec(not_a_switch, "replicate")
    assert "fixed_inputs" not in derived.spec and derived.spec["passthrough"] == []
    assert derived.spec["options"] == {}


def test_safety_tolerance_is_offered_only_up_to_the_models_default():
    def tolerance(node):
        schema = {"properties": {"prompt": {"type": "string"}, "safety_tolerance": node}}
        spec = spec_from_schema(schema, "fal")
        return spec["options"].get("safety_tolerance"), spec["passthrough"]

    # fal writes the levels as strings
    fal = {"enum": ["1", "2", "3", "4", "5", "6"], "type": "string", "default": "2"}
    assert tolerance(fal) == (["2", "1"], [])
    replicate = {"type": "integer", "minimum": 1, "maximum": 6, "default": 3}
    assert tolerance(replicate) == ([3, 1, 2], [])
    assert tolerance({"type": "integer", "minimum": 1, "maximum": 6}) == ([1, 2, 3, 4, 5, 6], [])
    # a range too wide to list is left at the model's default, never passed through
    assert tolerance({"type": "integer", "minimum": 0, "maximum": 100, "default": 2}) == (
        None,
        [],
    )


def test_a_model_that_requires_an_image_is_offered_for_its_image_operations():
    schema = {
        "type": "object",
        "required": ["prompt", "image_urls"],
        "properties": {
            "prompt": {"type": "string"},
            "image_urls": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
            "mask_url": {"type": "string"},
        },
    }
    derived = derive_spec(schema, "fal", "fal-ai/some/edit")
    assert derived.spec["text_to_image"] is False
    assert derived.spec["operations"] == ["inpaint", "edit"]  # not "generate"
    assert derived.spec["inputs"]["images"] == "image_urls"
    assert derived.spec["inputs"]["mask"] == "mask_url"
    assert derived.spec["max_input_images"] == 4
    assert "image_urls" not in derived.spec["options"] and derived.drivable
    assert any("offered for image operations only (inpaint, edit)" in n for n in derived.notes)
    assert not_runnable_reason(derived.spec) == ""


def test_an_image_model_without_a_prompt_sends_none_and_maps_its_factor():
    upscaler = {
        "required": ["image_url"],
        "properties": {
            "image_url": {"type": "string"},
            "upscale_factor": {"type": "number", "minimum": 1, "maximum": 3},
        },
    }
    spec = spec_from_schema(upscaler, "fal", "fal-ai/some/upscale")
    assert spec["operations"] == ["upscale"] and spec["scales"] == [2]
    assert spec["inputs"] == {"prompt": None, "image": "image_url", "scale": "upscale_factor"}
    assert "upscale_factor" not in spec["options"] and "upscale_factor" not in spec["passthrough"]
    img2img = {
        "required": ["prompt"],
        "properties": {
            "prompt": {"type": "string"},
            "image": {"type": "string", "format": "uri"},
            "prompt_strength": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    spec = spec_from_schema(img2img, "replicate", "acme/img2img")
    assert spec["operations"] == ["generate", "edit"]
    assert spec["inputs"]["image"] == "image" and spec["inputs"]["strength"] == "prompt_strength"
    assert spec["strength"] == [0, 1]


def test_an_optional_image_input_is_recorded_but_the_model_still_generates():
    schema = {
        "type": "object",
        "required": ["prompt"],
        "properties": {"prompt": {"type": "string"}, "image_url": {"type": "string"}},
    }
    spec = spec_from_schema(schema, "fal")
    assert spec["operations"] == ["generate", "edit"] and spec["text_to_image"] is True


def test_upscale_and_background_removal_are_named_from_schema_and_id():
    upscale = {"properties": {"image": {"type": "string"}, "scale": {"type": "integer"}}}
    assert "upscale" in spec_from_schema(upscale, "replicate")["operations"]
    rembg = {"required": ["image"], "properties": {"image": {"type": "string"}}}
    spec = spec_from_schema(rembg, "replicate", "cjwbw/rembg")
    assert spec["operations"] == ["remove_background"] and spec["text_to_image"] is False


def test_a_required_input_without_default_makes_the_model_not_runnable():
    schema = {
        "type": "object",
        "required": ["prompt", "style_id", "mode"],
        "properties": {
            "prompt": {"type": "string"},
            "style_id": {"type": "string"},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        },
    }
    derived = derive_spec(schema, "fal")
    assert derived.spec["unmapped_required"] == ["style_id"] and not derived.drivable
    assert "style_id" in not_runnable_reason(derived.spec)
    # An admin who fills it with a fixed input makes it runnable.
    assert not_runnable_reason({**derived.spec, "fixed_inputs": {"style_id": "x"}}) == ""


@pytest.mark.parametrize(
    "junk",
    [
        None,
        [],
        "schema",
        42,
        {},
        {"properties": None},
        {"properties": []},
        {"properties": {"prompt": "not a dict", 5: {}, "seed": None}},
        {"properties": {"prompt": {"type": ["string", "null"]}}, "required": "prompt"},
        {"properties": {"aspect_ratio": {"enum": ["x:y", "0:1", "1:0", None, {"a": 1}]}}},
        {"properties": {"aspect_ratio": {"enum": "16:9"}}, "required": [None, 3]},
        {"properties": {"steps": {"type": "integer", "minimum": "1", "maximum": float("nan")}}},
        {"properties": {"num_images": {"type": "integer", "maximum": 10**12}}},
        {"properties": {"width": {"type": "integer"}, "height": {"type": "string"}}},
        {"properties": {"image_size": {"anyOf": "nope"}}},
        {"properties": {"image_size": {"anyOf": [{"properties": {"width": 1, "height": 2}}]}}},
        {"properties": {"x": {"allOf": [{"allOf": [{"allOf": [{"$ref": "#/nowhere"}]}]}]}}},
        {"$ref": "#/definitions/missing"},
        {"$ref": "http://example.com/remote.json"},
    ],
)
def test_hostile_schemas_never_crash(junk):
    derived = derive_spec(copy.deepcopy(junk), "fal", "x")
    assert isinstance(derived.spec, dict) and isinstance(derived.notes, list)
    spec_from_row(CatalogModel(model_id="x", display_name="x", spec=derived.spec))


def test_a_reference_cycle_is_cut():
    schema = {
        "type": "object",
        "required": ["prompt"],
        "properties": {"prompt": {"type": "string"}, "node": {"$ref": "#/components/Node"}},
        "components": {
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/Node"}}}
        },
    }
    spec = spec_from_schema(schema, "fal")
    assert spec["text_to_image"] is True and "node" in spec["passthrough"]


def test_a_self_referencing_document_is_cut():
    schema = {"$ref": "#", "properties": {"prompt": {"type": "string"}}}
    assert isinstance(spec_from_schema(schema, "fal"), dict)


def test_a_huge_enum_is_passed_through_not_listed_and_huge_schemas_are_bounded():
    schema = {
        "required": ["prompt"],
        "properties": {
            "prompt": {"type": "string"},
            "voice": {"type": "string", "enum": [f"v{i}" for i in range(10_000)]},
            **{f"extra_{i}": {"type": "boolean"} for i in range(5_000)},
        },
    }
    spec = spec_from_schema(schema, "fal")
    assert "voice" in spec["passthrough"] and "voice" not in spec["options"]
    assert len(spec["options"]) + len(spec["passthrough"]) < 300


def test_a_deeply_nested_schema_is_read_or_refused_in_words():
    node: dict = {"type": "string"}
    for _ in range(200):
        node = {"allOf": [node]}
    derived = derive_spec({"properties": {"prompt": {"type": "string"}, "deep": node}}, "fal")
    assert isinstance(derived.spec, dict)
