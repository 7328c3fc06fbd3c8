"""Batch calls: what DynamoDB leaves unprocessed is retried, with backoff, until none is left."""

from shared.data.items import until_processed


def test_batch_calls_are_repeated_with_backoff_until_nothing_is_left_unprocessed():
    left = [{"t": ["b"]}, {}]
    calls, sleeps = [], []

    def batch(RequestItems):  # boto3's name
        calls.append(RequestItems)
        return {"Responses": {}, "UnprocessedKeys": left.pop(0)}

    responses = until_processed(batch, {"t": ["a", "b"]}, "UnprocessedKeys", sleep=sleeps.append)

    assert calls == [{"t": ["a", "b"]}, {"t": ["b"]}]
    assert len(responses) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1.0
