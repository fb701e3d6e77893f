"""`make send` / `make preview` (local/send.py): real captured bodies, signed as their senders sign, over HTTP."""

from __future__ import annotations

import json
import re

import pytest

from local.send import main as send_main
from local.stack import LocalStack
from tests.unit.sources_support import SIGNED_SAMPLES

REAL = "tests/fixtures/real"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, int, dict]:
    """(exit status, HTTP status, JSON answer) of `python -m local.send ...`."""
    capsys.readouterr()
    code = send_main(list(args))
    out = capsys.readouterr().out
    # The stack's handlers run in this process and print their metrics first: the answer is what follows.
    answer = out[re.search(r"^\d{3} http\S+$", out, re.MULTILINE).start() :]  # type: ignore[union-attr]
    first, _, rest = answer.partition("\n")
    return code, int(first.split()[0]), json.loads(rest)


def test_a_signed_typeform_capture_is_accepted_and_previewed(shared_stack: LocalStack, capsys):
    body = f"{REAL}/typeform/sdk-use-all-field-types.json"
    # When the capture is previewed, Then the would-be contact shows, nothing queued
    code, status, answer = run(capsys, "typeform-newsletter", body, "--url", shared_stack.url, "--preview")
    assert (code, status, answer["contact"]["email"]) == (0, 200, "johndoe@example.com")
    # When it is sent, Then receive verifies the HMAC it was signed with and accepts it
    code, status, answer = run(capsys, "typeform-newsletter", body, "--url", shared_stack.url)
    assert (code, status, answer["accepted"]) == (0, 200, True)


def test_a_wrong_secret_is_refused(shared_stack: LocalStack, capsys):
    body = f"{REAL}/typeform/sdk-use-all-field-types.json"
    code, status, answer = run(capsys, "typeform-newsletter", body, "--url", shared_stack.url, "--secret", "nope")
    assert (code, status, answer["error"]) == (1, 401, "unauthorized")


def test_a_multipart_capture_goes_out_with_crlf_and_its_boundary(shared_stack: LocalStack, capsys):
    # Given Jotform's captured multipart body (stored with LF), which has no email field
    code, status, answer = run(
        capsys, "jotform-registration", f"{REAL}/jotform/tutor-appointment.multipart", "--url", shared_stack.url
    )
    # Then it parses (a 422 listing the form's fields, not a 400), and says which mapping key to set
    assert (code, status) == (1, 422)
    assert "first" in answer["found"] and "fields.email" in answer["fields"]["email"]


# Typeform's signing is tested above, on a real capture.
@pytest.mark.parametrize("sample", [name for name in SIGNED_SAMPLES if name != "typeform_signup.json"])
def test_every_signing_sender_is_signed_as_it_signs(shared_stack: LocalStack, capsys, tmp_path, sample: str):
    from local.events.build import event_body
    from tests.conftest import load_event

    # Given the body of a signing sender's sample, saved as a capture
    event = load_event(sample)
    body = tmp_path / "capture.body"
    body.write_bytes(event_body(event))
    route = event["rawPath"].removeprefix("/hooks/")
    # When `make send` posts it to that sender's route, Then receive verifies the signature it made and accepts it
    code, status, answer = run(
        capsys, route, str(body), "--url", shared_stack.url, "--content-type", event["headers"]["content-type"]
    )
    assert (code, status, answer.get("accepted")) == (0, 200, True), answer
