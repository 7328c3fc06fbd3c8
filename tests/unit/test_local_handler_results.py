"""How ``pie-local`` reads a handler process's ending: the ECS command's last printed line, and
the words Lambda and ECS use for a process that exited or was killed."""

from __future__ import annotations

import io

import pytest

from pie_local.runtime.handlers import MAX_OUTPUT_BYTES, Exit, last_json_object


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        (b"", (None, None)),
        (b"\n  \n", (None, None)),
        (b'loading\n{"rows": 5}\n', ({"rows": 5}, None)),
        (b'{"rows": 5}', ({"rows": 5}, None)),
        (b'{"a": 1}\ndone\n', (None, "the last line it printed is not a JSON object: 'done'")),
        (b"[1, 2]\n", (None, "the last line it printed is not a JSON object: '[1, 2]'")),
        (b'{"loss": NaN}\n', (None, "the last line it printed is not a JSON object: '{\"loss\": NaN}'")),
    ],
)
def test_the_last_line_printed_is_the_output_when_it_is_a_json_object(printed: bytes, expected: tuple):
    assert last_json_object(io.BytesIO(printed)) == expected


def test_a_last_line_over_the_output_limit_is_refused_without_reading_it_all():
    huge = b'{"blob": "' + b"x" * (2 * MAX_OUTPUT_BYTES) + b'"}\n'

    assert last_json_object(io.BytesIO(b"started\n" + huge)) == (
        None,
        f"the last line it printed is longer than {MAX_OUTPUT_BYTES} bytes",
    )


@pytest.mark.parametrize(
    ("returncode", "lambda_words", "ecs_exit_code"),
    [
        (0, "exit status 0", 0),
        (3, "exit status 3", 3),
        (-9, "signal: killed", 137),
        (-11, "signal: segmentation fault", 139),
    ],
)
def test_a_process_ending_is_told_as_lambda_and_ecs_tell_it(returncode: int, lambda_words: str, ecs_exit_code: int):
    ending = Exit(returncode, timed_out=False)

    assert ending.describe() == lambda_words
    assert ending.container_exit_code == ecs_exit_code
