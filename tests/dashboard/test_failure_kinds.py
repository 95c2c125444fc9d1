"""Error texts the pipeline and the providers write are grouped into a few reasons."""

import pytest

from generation.usage.failures import failure_kind, failure_label
from settings_app.keys import missing_key_message


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("Timed out after 120 s.", "timeout"),
        ("Replicate rejected the API key: check it in Settings.", "rejected_key"),
        (missing_key_message("fal"), "rejected_key"),
        ("OpenAI: no credit left", "no_credit"),
        ("Rate limited by fal; try again in 2 s.", "rate_limited"),
        ("OpenAI refused the prompt (content policy): unsafe", "content_policy"),
        ("Your request was rejected by the safety system.", "content_policy"),
        ("fal is unavailable right now (HTTP 503)", "provider_outage"),
        ("Replicate returned no images.", "provider_outage"),
        ("The provider 'gone' is not available.", "provider_outage"),
        ("Offline returned an unusable image: not a PNG.", "invalid_image"),
        ("The provider returned an image link instead of image data.", "invalid_image"),
        ("Could not store the image: the disk is full.", "storage"),
        (
            "The worker running this generation stopped, and it had already been retried. "
            "Please try again.",
            "worker_stopped",
        ),
        (
            "Internal error while generating; the server log has the details (generation 4).",
            "other",
        ),
        ("", "other"),
    ],
)
def test_error_text_maps_to_its_failure_kind(error, kind):
    assert failure_kind(error) == kind


def test_every_kind_has_a_label():
    assert failure_label("timeout") == "Timed out"
    assert failure_label("no-such-kind") == "Other"
