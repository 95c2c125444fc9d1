"""The OpenAI-compatible image gateway under ``/v1`` (docs/openai-gateway.md): OpenAI's Images
and Models API answered from the studio's own generations, so that any OpenAI client makes
images through the team's keys, models, budgets and gallery."""
