"""Fixtures of the generation tests (prompt tools: a teammate's project, a priced provider)."""

from tests.generation.prompt_helpers import priced, team_project  # noqa: F401 - fixtures
