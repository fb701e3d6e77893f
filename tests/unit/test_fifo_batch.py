"""An SQS FIFO batch: a failed record fails the rest of its group unhandled; other groups go on."""

from __future__ import annotations

from typing import Any

from signup_relay.aws.fifo_batch import process_fifo_batch


def _record(message_id: str, group: str) -> dict[str, Any]:
    attributes = {"MessageGroupId": group, "ApproximateReceiveCount": "1"}
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": "{}", "attributes": attributes}


def _run(records: list[dict[str, Any]], failing: set[str]) -> tuple[dict[str, Any], list[str]]:
    handled: list[str] = []

    def handle(record: dict[str, Any]) -> None:
        handled.append(record["messageId"])
        if record["messageId"] in failing:
            raise RuntimeError("transient")

    return process_fifo_batch(records, handle), handled


def test_a_failure_holds_back_the_rest_of_its_group_and_only_that_group():
    # Given Ada's two sign-ups, and Bob's and Cy's between and after them
    records = [_record("ada-1", "ada"), _record("bob-1", "bob"), _record("ada-2", "ada"), _record("cy-1", "cy")]
    # When Ada's first one fails
    response, handled = _run(records, failing={"ada-1"})
    # Then Ada's second is failed without being handled; Bob and Cy are handled and succeed
    assert handled == ["ada-1", "bob-1", "cy-1"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "ada-1"}, {"itemIdentifier": "ada-2"}]}


def test_a_batch_where_everything_fails_is_reported_item_by_item_not_raised():
    # Given two groups whose every record fails
    records = [_record("a", "g1"), _record("b", "g2")]
    # When processed / Then both are reported failed and nothing is raised
    response, handled = _run(records, failing={"a", "b"})
    assert handled == ["a", "b"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}


def test_a_clean_batch_reports_no_failure():
    response, handled = _run([_record("a", "g1"), _record("b", "g1")], failing=set())
    assert (response, handled) == ({"batchItemFailures": []}, ["a", "b"])
