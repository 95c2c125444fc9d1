"""The /v1 routes in the OpenAPI schema (a drf-spectacular postprocessing hook: they are plain
async Django views, which drf-spectacular does not inspect). Written from OpenAI's own
specification of these operations, narrowed to what this server takes."""

ERROR = {"$ref": "#/components/schemas/OpenAIError"}
SECURITY = [{"tokenAuth": []}]
X_PROJECT = {
    "name": "X-Project",
    "in": "header",
    "description": "A project you may add images to, by id or name: the images go there.",
    "schema": {"type": "string"},
}
TAG = "OpenAI-compatible gateway (/v1)"

SIZE = {
    "type": "string",
    "pattern": "^(auto|[1-9][0-9]{0,4}x[1-9][0-9]{0,4})$",
    "description": "WIDTHxHEIGHT (e.g. 1024x1024) or auto: the model's default.",
}
COMMON = {
    "model": {
        "type": "string",
        "maxLength": 200,
        "description": "A catalog model id (GET /v1/models) or an admin alias; none: the "
        "team-default alias, else your default model.",
    },
    "prompt": {"type": "string", "minLength": 1, "maxLength": 32000},
    "n": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
    "size": SIZE,
    "quality": {"type": "string", "description": "Passed to the model where it offers it."},
    "background": {"type": "string", "description": "transparent, opaque or auto."},
    "style": {"type": "string"},
    "moderation": {"type": "string"},
    "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
    "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
    "response_format": {"type": "string", "enum": ["b64_json", "url"], "default": "b64_json"},
    "user": {"type": "string", "maxLength": 256},
    "stream": {"type": "boolean", "enum": [False]},
    "partial_images": {"type": "integer", "enum": [0]},
}

COMPONENTS = {
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True},
                    "code": {"type": "string", "nullable": True},
                },
            }
        },
    },
    "OpenAIImagesResponse": {
        "type": "object",
        "required": ["created", "data"],
        "properties": {
            "created": {"type": "integer"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "b64_json": {"type": "string"},
                        "url": {"type": "string", "format": "uri"},
                        "revised_prompt": {"type": "string"},
                    },
                },
            },
            "output_format": {"type": "string"},
            "size": {"type": "string"},
        },
    },
    "OpenAIModel": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["model"]},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
        },
    },
    "OpenAIModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/OpenAIModel"}},
        },
    },
}


def _json(schema) -> dict:
    return {"application/json": {"schema": schema}}


def _errors(*codes: int) -> dict:
    words = {
        400: "Bad request (the parameter is named in error.param)",
        401: "No token, or not a valid one",
        404: "No such model (or not yours to use), project, link or route",
        405: "Another method",
        409: "Canceled (from the studio) before it finished",
        429: "Over a budget, the daily image limit, the queue cap or the token's rate",
        502: "The provider failed; its reason is in the message",
        504: "Not finished within GENERATION_TIMEOUT (it was canceled)",
    }
    return {str(code): {"description": words[code], "content": _json(ERROR)} for code in codes}


IMAGE_ERRORS = (400, 401, 404, 405, 409, 429, 502, 504)

PATHS = {
    "/v1/images/generations": {
        "post": {
            "operationId": "v1_images_generations",
            "summary": "Create images (OpenAI's Images API)",
            "description": "Queues one generation and waits for it (up to GENERATION_TIMEOUT). "
            "Unknown fields are refused. `X-Project` (a project's id or name) files the images "
            "in that project. See docs/openai-gateway.md.",
            "tags": [TAG],
            "security": SECURITY,
            "parameters": [X_PROJECT],
            "requestBody": {
                "required": True,
                "content": _json(
                    {
                        "type": "object",
                        "required": ["prompt"],
                        "additionalProperties": False,
                        "properties": COMMON,
                    }
                ),
            },
            "responses": {
                "200": {
                    "description": "The images",
                    "content": _json({"$ref": "#/components/schemas/OpenAIImagesResponse"}),
                },
                **_errors(*IMAGE_ERRORS),
            },
        }
    },
    "/v1/images/edits": {
        "post": {
            "operationId": "v1_images_edits",
            "summary": "Edit images (OpenAI's Images API)",
            "description": "One or more input images (`image` or `image[]`, stored in your "
            "gallery as uploads) and an optional `mask` (a PNG the size of the first image: "
            "fully transparent where the image may change).",
            "tags": [TAG],
            "security": SECURITY,
            "parameters": [X_PROJECT],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["image", "prompt"],
                            "properties": {
                                "image": {"type": "string", "format": "binary"},
                                "image[]": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                },
                                "mask": {"type": "string", "format": "binary"},
                                **COMMON,
                                "input_fidelity": {"type": "string", "enum": ["low"]},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The edited images",
                    "content": _json({"$ref": "#/components/schemas/OpenAIImagesResponse"}),
                },
                **_errors(*IMAGE_ERRORS),
            },
        }
    },
    "/v1/models": {
        "get": {
            "operationId": "v1_models_list",
            "summary": "The models (and aliases) you may use",
            "tags": [TAG],
            "security": SECURITY,
            "responses": {
                "200": {
                    "description": "The models",
                    "content": _json({"$ref": "#/components/schemas/OpenAIModelList"}),
                },
                **_errors(401, 405, 429),
            },
        }
    },
    "/v1/models/{model_id}": {
        "get": {
            "operationId": "v1_models_retrieve",
            "summary": "One model you may use",
            "tags": [TAG],
            "security": SECURITY,
            "parameters": [
                {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "The model",
                    "content": _json({"$ref": "#/components/schemas/OpenAIModel"}),
                },
                **_errors(401, 404, 405, 429),
            },
        }
    },
    "/v1/files/{signed}": {
        "get": {
            "operationId": "v1_files_retrieve",
            "summary": "A result image a `url` answer links to (signed, expiring)",
            "tags": [TAG],
            "security": [{}],
            "parameters": [
                {"name": "signed", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "The image",
                    "content": {
                        media: {"schema": {"type": "string", "format": "binary"}}
                        for media in ("image/png", "image/jpeg", "image/webp")
                    },
                },
                **_errors(404, 405),
            },
        }
    },
}


def add_gateway(result, generator, **kwargs):
    """drf-spectacular postprocessing hook: add the /v1 operations and their components."""
    result.setdefault("paths", {}).update(PATHS)
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    return result
