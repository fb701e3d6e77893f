"""LOCAL_SANDBOX_SEED: reading and checking a seed file, and refusing it with an external Constant Contact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.sandbox_seed import DEMO_SEED_FILE, SEED_ENV, load_seed, seed_from_env
from local.stack_config import LocalConfigError


def test_the_demo_seed_is_read_without_its_comments():
    # Given the demo account file (events/sandbox_seed.json) / When loaded
    seed = load_seed(DEMO_SEED_FILE)

    # Then its lists and custom fields are there and no "_" key reaches the sandbox
    assert {"Newsletter", "Customers"} <= set(seed.lists)
    assert seed.custom_fields == ("Member since",)
    assert seed.contacts and all(not key.startswith("_") for contact in seed.contacts for key in contact)
    assert all(contact["email"] for contact in seed.contacts)


def test_unset_means_no_seed():
    # Given no LOCAL_SANDBOX_SEED (or a blank one) / Then nothing is seeded
    assert seed_from_env({}, external_account=False) is None
    assert seed_from_env({SEED_ENV: "  "}, external_account=False) is None


def test_a_seed_is_refused_with_an_external_account():
    # Given a seed and CC_API_BASE_URL (an external account) / Then the stack refuses to start, naming both
    with pytest.raises(LocalConfigError, match=f"{SEED_ENV} seeds the embedded sandbox only.*CC_API_BASE_URL"):
        seed_from_env({SEED_ENV: str(DEMO_SEED_FILE)}, external_account=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"list": ["Newsletter"]}', r"unknown key\(s\) list"),
        ('{"lists": "Newsletter"}', "lists must be a list of names"),
        ('{"contacts": [{"first_name": "Ada"}]}', r"contacts\[0\] must be an object with an email"),
    ],
)
def test_a_bad_seed_file_names_the_problem(tmp_path: Path, content: str, message: str):
    # Given a seed file with a mistake
    path = tmp_path / "seed.json"
    path.write_text(content)

    # When the stack reads it / Then a configuration error names the file and what is wrong
    with pytest.raises(LocalConfigError, match=message) as error:
        seed_from_env({SEED_ENV: str(path)}, external_account=False)
    assert str(path) in str(error.value)


def test_a_missing_seed_file_is_a_configuration_error(tmp_path: Path):
    # Given LOCAL_SANDBOX_SEED naming no file / Then the error names it
    missing = tmp_path / "nowhere.json"
    with pytest.raises(LocalConfigError, match="cannot read"):
        load_seed(missing)


def test_contact_fields_pass_through_unchanged(tmp_path: Path):
    # Given a contact with V3 fields and seed conveniences
    contact = {"email": "a@example.com", "job_title": "Chemist", "deleted": True, "_why": "documentation"}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"contacts": [contact]}))

    # When loaded / Then everything but the comment key is kept as written
    [loaded] = load_seed(path).contacts
    assert loaded == {"email": "a@example.com", "job_title": "Chemist", "deleted": True}
