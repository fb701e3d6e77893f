"""Who signs up in the fault scenario, with what, and in which order a sender delivers it.

People start new, active, deleted or unsubscribed (seeded straight into the sandbox); each sends one sign-up, or two
where the last must win (first_name "A..." then "B..."), with explicit consent or without (implicit on the generic
route); some deliveries are sent twice at once (a sender's retry) or replayed later with the same Idempotency-Key;
a few deliveries have no email (refused with 422 and kept in the DLQ: the records that are not false).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from local.cc_sandbox import Sandbox

PRIORS = ("new", "active", "deleted", "unsubscribed")
LIST = "Newsletter"  # the generic route's list (created on first use: create_missing_lists)
TAG = "zapier"  # the generic route's tag
SEEDED_LIST = "Members"
SEEDED_JOB_TITLE = "Keeper of the seed"  # a field no sign-up sends: every update must keep it
DOMAIN = "faults.example.com"
SIGN_UP_FORM_MAX_EMAIL = 50  # Constant Contact's sign_up_form limit: longer addresses take the PUT/POST paths


@dataclass(frozen=True)
class Submission:
    """One form submission and its delivery's Idempotency-Key (the same key for a repeated delivery)."""

    key: str
    email: str | None  # None: no email at all (receive answers 422)
    first_name: str
    last_name: str
    explicit: bool

    def body(self) -> bytes:
        """The exact bytes sent (a 422's DLQ record is keyed by their sha256)."""
        fields = {"email": self.email, "first_name": self.first_name, "last_name": self.last_name}
        if self.explicit:
            fields["consent"] = "yes"
        return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


@dataclass(frozen=True)
class Person:
    email: str
    prior: str  # one of PRIORS
    submissions: tuple[Submission, ...]
    duplicate: bool  # the first delivery is sent again at once
    replay: bool  # the first delivery is sent again after everything this person sent was processed

    @property
    def long_email(self) -> bool:
        return len(self.email) > SIGN_UP_FORM_MAX_EMAIL


@dataclass(frozen=True)
class Plan:
    seed: int
    people: tuple[Person, ...]
    invalid: tuple[Submission, ...]

    @property
    def signups(self) -> int:
        """Distinct submissions, the invalid ones included."""
        return sum(len(p.submissions) for p in self.people) + len(self.invalid)

    @property
    def repeated_deliveries(self) -> int:
        return sum(p.duplicate for p in self.people) + sum(p.replay for p in self.people)


def make_plan(signups: int, seed: int) -> Plan:
    """About `signups` distinct submissions: every prior and consent, a third of the people sending twice."""
    rng = random.Random(seed)
    invalid_count = max(1, signups // 25)
    people: list[Person] = []
    total = invalid_count
    number = 0
    while total < signups:
        prior = PRIORS[number % len(PRIORS)]
        twice = number % 3 == 0 and total + 2 <= signups
        local_part = f"p{seed}-{number:03d}.{prior}"
        if number % 7 == 3:  # 51-80 characters: explicit consent cannot use sign_up_form
            local_part += "." + "x" * (SIGN_UP_FORM_MAX_EMAIL - len(local_part) - len(DOMAIN))
        email = f"{local_part}@{DOMAIN}"
        submissions = tuple(
            Submission(
                key=f"fault-{seed}-{number:03d}-{letter}",
                email=email,
                first_name=f"{letter}{number}",
                last_name=f"Person{number}",
                explicit=rng.random() < 0.5,
            )
            for letter in ("A", "B")[: 2 if twice else 1]
        )
        duplicate, replay = rng.random() < 0.2, rng.random() < (0.5 if twice else 0.15)
        people.append(Person(email, prior, submissions, duplicate=duplicate, replay=replay))
        total += len(submissions)
        number += 1
    invalid = tuple(
        Submission(key=f"fault-{seed}-invalid-{n}", email=None, first_name=f"Nobody{n}", last_name="", explicit=True)
        for n in range(invalid_count)
    )
    return Plan(seed=seed, people=tuple(people), invalid=invalid)


def seed_sandbox(sandbox: Sandbox, plan: Plan) -> None:
    """Put every non-new person in the account as their prior says, on a list other than the route's."""
    for person in plan.people:
        if person.prior == "new":
            continue
        fields = {"first_name": "Old", "last_name": "Seeded", "job_title": SEEDED_JOB_TITLE, "lists": [SEEDED_LIST]}
        if person.prior == "unsubscribed":
            fields["permission_to_send"] = "unsubscribed"  # opt_out_source Contact: the person asked
        sandbox.seed_contact(person.email, deleted=person.prior == "deleted", **fields)
