"""The fault suite's verdict: what the sandbox must hold after the run, and the one line that sums it up.

For every accepted sign-up (answered 200) exactly one of:

- DLQ: a DLQ record names it. Every record is counted with its reason; a record for a sign-up nothing was wrong with
  (anything but the planned 422s) is a false DLQ record.
- lost: no DLQ record and not reflected in the sandbox: the person's last sign-up whose values the contact does not
  show, an earlier one that never got a final outcome, or one still queued when the run ended.
- correct: reflected, and the person's contact is as the policy requires: one contact, not deleted, the last
  sign-up's first and last name, the seeded job title kept, the route's list and tag, permission explicit after
  explicit consent else as before (implicit, or unsubscribed: never re-subscribed without explicit consent, the list
  not added, the permission never changed; with an address over 50 characters explicit consent asks by the one-time
  resubscribe email instead).
- wrong: reflected, but the contact breaks one of those rules.

Duplicates: a second stored contact for one address, a second note for one delivery, or a sign-up that got more than
one final outcome (it was queued, hence applied, twice).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.faults.plan import SEEDED_JOB_TITLE, Person, Submission
from tests.faults.scenario import TERMINAL, Delivery, Observation

_DELIVERY_IN_NOTE = re.compile(r"delivery (\S+?)[,.](?:\s|$)")


@dataclass
class Report:
    sent: int = 0
    repeated: int = 0
    accepted: int = 0
    correct: int = 0
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    false_dlq: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def dlq_records(self) -> int:
        return sum(self.dlq_reasons.values())

    def line(self) -> str:
        reasons = ", ".join(f"{reason} x{count}" for reason, count in sorted(self.dlq_reasons.items())) or "none"
        return (
            f"sent {self.sent} (+{self.repeated} repeated deliveries), accepted {self.accepted}, "
            f"contacts correct {self.correct}, DLQ records {self.dlq_records} ({reasons}), "
            f"false DLQ records {self.false_dlq}, duplicates {self.duplicates}, lost {self.lost}"
        )

    def explain(self) -> str:
        """The line, the run's figures, and every problem with its evidence (log lines and faults)."""
        return "\n".join([self.line(), self.summary, *self.problems, *self.evidence])


def judge(observation: Observation) -> Report:
    report = Report(sent=observation.plan.signups, repeated=observation.plan.repeated_deliveries)
    originals = {d.submission.key: d for d in observation.deliveries if d.kind == "original"}
    ids = {key: d.id for key, d in originals.items() if d.status == 200 and d.id}
    report.accepted = sum(1 for d in originals.values() if d.status == 200 and d.submission.email)
    _check_answers(observation, originals, report)

    invalid_bodies = {hashlib.sha256(s.body()).hexdigest() for s in observation.plan.invalid}
    dead: set[str] = set()
    for record in observation.status["dlq"]["records"]:
        report.dlq_reasons[str(record.get("error_class") or "bare (redriven)")] += 1
        queued_id = record.get("queued_id") or record.get("id")
        if record.get("stage") == "receive" and queued_id in invalid_bodies:
            continue
        report.false_dlq += 1
        dead.add(str(queued_id))
        report.problems.append(f"false DLQ record: {_describe_record(record)}")

    for person in observation.plan.people:
        _judge_person(observation, person, ids, dead, report)
    _count_duplicates(observation, report)
    report.summary = _summary(observation)
    if report.problems:
        report.evidence = _evidence(observation, ids, report)
    return report


def _check_answers(observation: Observation, originals: dict[str, Delivery], report: Report) -> None:
    for delivery in observation.deliveries:
        expected = 422 if delivery.submission.email is None else 200
        if delivery.status != expected:
            report.problems.append(
                f"{delivery.kind} delivery {delivery.submission.key} answered {delivery.answers} (expected {expected})"
            )
        elif delivery.kind != "original" and delivery.id != originals[delivery.submission.key].id:
            report.problems.append(f"{delivery.kind} delivery {delivery.submission.key} got another id {delivery.id}")


def _judge_person(
    observation: Observation, person: Person, ids: dict[str, str], dead: set[str], report: Report
) -> None:
    accepted = [s for s in person.submissions if s.key in ids]
    alive = [s for s in accepted if ids[s.key] not in dead]
    if not alive:
        return
    contact = observation.contacts.get(person.email)
    rule_breaks = _rule_breaks(observation, person, alive, contact) if contact else ["no contact stored"]
    for submission in alive:
        queued_id = ids[submission.key]
        finals = [o for o in observation.outcomes.get(queued_id, []) if o in TERMINAL]
        if submission is alive[-1]:
            shown = contact is not None and (contact.get("first_name"), contact.get("last_name")) == (
                submission.first_name,
                submission.last_name,
            )
            why = "" if shown else f"the contact shows {_names(contact)}, not {submission.first_name}"
        else:
            shown = bool(finals)
            why = "" if shown else "it never got a final outcome"
        if not finals and not observation.drained:
            why = "still queued when the run ended"
            shown = False
        if not shown:
            report.lost += 1
            report.problems.append(f"lost: {submission.key} ({person.prior} {person.email}): {why}")
        elif rule_breaks:
            report.problems.append(f"wrong: {submission.key} ({person.prior} {person.email}): {'; '.join(rule_breaks)}")
        else:
            report.correct += 1


def _rule_breaks(
    observation: Observation, person: Person, alive: list[Submission], contact: dict[str, Any]
) -> list[str]:
    last = alive[-1]
    explicit = any(s.explicit for s in alive)
    stays_unsubscribed = person.prior == "unsubscribed" and (not explicit or person.long_email)
    permission = (contact.get("email_address") or {}).get("permission_to_send")
    lists = contact.get("list_memberships") or []
    breaks: list[str] = []
    if contact.get("deleted_at"):
        breaks.append(f"still deleted ({contact['deleted_at']})")
    if (contact.get("first_name"), contact.get("last_name")) != (last.first_name, last.last_name):
        breaks.append(f"name {_names(contact)}, not {last.first_name} {last.last_name}")
    if person.prior != "new" and contact.get("job_title") != SEEDED_JOB_TITLE:
        breaks.append(f"job title {contact.get('job_title')!r} lost")
    if observation.tag_id not in (contact.get("taggings") or []):
        breaks.append("tag missing")
    if stays_unsubscribed:
        history = observation.permission_history.get(person.email, [])
        since = [h for h in history[_last_unsubscribe(history) :] if h["to"] != "unsubscribed"]
        if permission != "unsubscribed" or since:
            breaks.append(f"re-subscribed without explicit consent: {permission}, history {since}")
        if observation.list_id in lists:
            breaks.append("put on the list while unsubscribed")
        if explicit and not observation.resubscribe_requests.get(person.email):
            breaks.append("explicit consent with a long address, but no resubscribe email")
    else:
        wanted = "explicit" if explicit else "implicit"
        if permission != wanted:
            breaks.append(f"permission {permission}, not {wanted}")
        if observation.list_id not in lists:
            breaks.append("not on the route's list")
    return breaks


def _last_unsubscribe(history: list[dict[str, Any]]) -> int:
    """Index of the seed's unsubscribe in a permission history (creation first)."""
    return next((n for n, h in enumerate(history) if h["to"] == "unsubscribed"), len(history))


def _count_duplicates(observation: Observation, report: Report) -> None:
    """One per extra contact of an address, plus one per sign-up applied twice (seen in its outcomes or notes)."""
    for address, count in Counter(e.lower() for e in observation.stored_emails).items():
        if count > 1:
            report.duplicates += count - 1
            report.problems.append(f"duplicate: {count} contacts stored for {address}")
    twice: dict[str, list[str]] = {}
    for queued_id, outcomes in observation.outcomes.items():
        finals = [o for o in outcomes if o in TERMINAL]
        if len(finals) > 1:
            twice.setdefault(queued_id, []).append(f"applied {len(finals)} times ({', '.join(finals)})")
    for email, contact in observation.contacts.items():
        notes = [str(n.get("content") or "") for n in (contact or {}).get("notes") or []]
        deliveries = Counter(m.group(1) for note in notes if (m := _DELIVERY_IN_NOTE.search(note)))
        for delivery_id, count in deliveries.items():
            if count > 1:
                twice.setdefault(delivery_id, []).append(f"{count} consent notes on {email}")
    report.duplicates += len(twice)
    report.problems += [f"duplicate: {queued_id} {'; '.join(seen)}" for queued_id, seen in sorted(twice.items())]


def _summary(observation: Observation) -> str:
    outcomes = observation.status.get("outcomes") or {}
    refreshes = Counter(f"{r['status']}{' ' + r['error'] if r['error'] else ''}" for r in observation.token_requests)
    return (
        f"faults injected {observation.fault_counts}; outcomes {dict(sorted(outcomes.items()))}; "
        f"token endpoint answers {dict(refreshes)}; drained {observation.drained} "
        f"in {observation.elapsed_seconds:.0f} s"
    )


def _evidence(observation: Observation, ids: dict[str, str], report: Report) -> list[str]:
    """The service's log lines and the proxy's faults for every sign-up a problem names."""
    named = {key for key in ids if any(key in problem or ids[key] in problem for problem in report.problems)}
    lines: list[str] = []
    for key in sorted(named):
        person = next(p for p in observation.plan.people if any(s.key == key for s in p.submissions))
        lines.append(f"-- evidence for {key} ({person.prior}, {person.email}), queued id {ids[key]}:")
        lines += [f"   log: {line}" for line in observation.log_lines if ids[key] in line]
        quoted = person.email.replace("@", "%40")
        lines += [
            f"   fault: {f.kind} {f.method} {f.target} {f.status or f.upstream_status or ''}"
            for f in observation.faults
            if quoted in f.target or person.email in f.target
        ]
    return lines


def _names(contact: dict[str, Any] | None) -> str:
    return f"{(contact or {}).get('first_name')} {(contact or {}).get('last_name')}"


def _describe_record(record: dict[str, Any]) -> str:
    signup = record.get("signup") or {}
    return (
        f"{record.get('stage')} {record.get('queued_id')} {signup.get('email', '')}: {record.get('error_class')}: "
        f"{record.get('message')} (attempts {record.get('attempts')})"
    )
