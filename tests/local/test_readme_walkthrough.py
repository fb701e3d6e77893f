"""The README's walkthrough, run as written: its bash blocks, in order, against a local stack.

The blocks are read from README.md ("Walkthrough: ..."), so the two cannot drift. The first block's last line,
`ROUTES_FILE=walkthrough-routes.yaml make dev`, is the stack this test starts in-process on a free port (the other
blocks' 127.0.0.1:3000 becomes that port); every other line runs in bash, `make` included, from a scratch
directory that links the checkout's files, so the routes file the walkthrough writes and edits stays there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### Walkthrough: a captured delivery, a broken mapping, a replay"
DEV_LINE = "ROUTES_FILE=walkthrough-routes.yaml make dev"
LINKED = ("Makefile", "layers", "local", "tests", "functions", "events", "routes.yaml", "template.yaml")
LINKED += ("requirements-dev.txt", "pyproject.toml")
EMAIL = "johndoe@example.com"  # the address in the Typeform capture


def walkthrough_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION) + len(SECTION)
    end = re.compile(r"^#{2,3} ", re.M).search(readme, start)
    section = readme[start : end.start() if end else len(readme)]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def scratch_checkout(directory: Path) -> None:
    """The checkout's files, linked; a virtualenv whose install marker is fresh (make then installs nothing)."""
    for name in LINKED:
        (directory / name).symlink_to(ROOT / name)
    venv, real = directory / ".venv", (ROOT / ".venv").resolve()
    venv.mkdir()
    for entry in real.iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()


def run_block(block: str, directory: Path, env: dict[str, str], port: int) -> str:
    script = block.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
    for name, value in re.findall(r"^export (\w+)=(\S+)", script, re.M):  # kept for the blocks that follow
        env[name] = value
    done = subprocess.run(
        ["bash", "-c", script], cwd=directory, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout + done.stderr


def last_json(output: str) -> Any:
    """The last JSON document the block printed (curl's answer), whatever was printed before it."""
    for match in reversed(list(re.finditer(r"^\{", output, re.M))):
        try:
            return json.JSONDecoder().raw_decode(output[match.start() :])[0]
        except ValueError:
            continue
    raise AssertionError(f"no JSON in:\n{output}")


def curl_answers(output: str) -> list[Any]:
    """The JSON answers of consecutive curls (curl -s adds no newline between them)."""
    decoder, answers, at = json.JSONDecoder(), [], 0
    while at < len(output.rstrip()):
        answer, at = decoder.raw_decode(output, at)
        answers.append(answer)
        while at < len(output) and output[at].isspace():
            at += 1
    return answers


def wait_until_drained(stack: LocalStack) -> None:
    deadline = time.monotonic() + 60
    time.sleep(0.5)  # a message just queued may not be visible to the poller's first look
    while not stack.drained():
        assert time.monotonic() < deadline, "the local stack did not drain its queue"
        time.sleep(0.2)


def list_names(stack: LocalStack, contact: dict[str, Any]) -> set[str]:
    names = {item.list_id: item.name for item in stack.sandbox.store.lists.values()}
    return {names[list_id] for list_id in contact.get("list_memberships", [])}


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocks = walkthrough_blocks()
    assert len(blocks) == 7, "the walkthrough's steps changed: update this test's checks"
    setup, *steps = blocks
    assert setup.rstrip().endswith(DEV_LINE)
    scratch_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CC_", "LOCAL_", "ROUTES_FILE", "MAKE"))}

    # Given the routes file the walkthrough writes, and `make dev` with it
    written = subprocess.run(["bash", "-c", setup.rstrip().removesuffix(DEV_LINE)], cwd=tmp_path, check=False)
    assert written.returncode == 0
    monkeypatch.delenv("LOCAL_WEBHOOK_SECRETS", raising=False)
    with LocalStack(port=0, constant_contact_env={}, routes_file=tmp_path / "walkthrough-routes.yaml") as stack:
        env["PORT"] = str(stack.port)
        outputs = []
        for step in steps:
            outputs.append(run_block(step, tmp_path, env, stack.port))
            wait_until_drained(stack)
            if len(outputs) == 3:  # the contact the first send made, as the sandbox stores it
                first_lists = list_names(stack, stack.sandbox.contact_by_email(EMAIL))
        preview, sent, contact, broken, replayed, final = outputs
        stored = stack.sandbox.contact_by_email(EMAIL)
        final_lists = list_names(stack, stored)
        outcomes = sorted((r["route"], r["outcome"]) for r in stack.status()["results"].values())

    # Then the preview shows the contact and its consent, and queued nothing
    assert "200 http" in preview and "/_local/preview/typeform-trial" in preview, preview
    shown = last_json(preview)
    assert (shown["would_queue"], shown["consent"], shown["contact"]["email"]) == (True, "explicit", EMAIL)

    # ... the send was accepted, and the contact the stack answers is the one the sandbox stores, on Trial
    assert "200 http" in sent and '"accepted": true' in sent, sent
    assert outcomes == [("typeform-broken", "updated"), ("typeform-trial", "created")]  # as the console says
    answered = last_json(contact)["contacts"]
    assert [c["contact_id"] for c in answered] == [stored["contact_id"]]
    assert first_lists == {"Trial"}

    # ... the broken route answered 422 naming the key to set and the fields found, and kept it in the DLQ
    assert "422 http" in broken, broken
    refusal = json.JSONDecoder().raw_decode(broken[broken.index("{", broken.index("422 http")) :])[0]
    assert "fields.email" in refusal["fields"]["email"] and "'Work email'" in refusal["fields"]["email"]
    assert "Email" in refusal["found"]
    kept = last_json(broken)["records"]
    assert [(r["stage"], r["route"], r["error_class"]) for r in kept] == [
        ("receive", "typeform-broken", "invalid_submission")
    ]

    # ... the fix is in the routes file, the replay queued the kept delivery, and it reached the same contact
    assert "email: Email" in (tmp_path / "walkthrough-routes.yaml").read_text()
    assert last_json(replayed)["counts"] == {"replayed": 1}, replayed
    contacts_answer, dlq_answer = curl_answers(final)
    assert [c["contact_id"] for c in contacts_answer["contacts"]] == [stored["contact_id"]]
    assert final_lists == {"Trial", "Replayed"}
    assert dlq_answer["records"] == []
