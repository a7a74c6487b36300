"""ipclab.exercises: checked answers, the page-rule model against the kernel, predictions."""

import random

import pytest

from ipclab import exercises, fill_pipe, resize_pipe
from ipclab.exercises import EXERCISES, WrongAnswer

# The right answer to every exercise, as a learner would type it.
RIGHT = {
    "01-child-write": 10, "01-same-address": True, "01-cow-faults": 1000,
    "02-records": 4, "02-pipeline-pipes": 2, "02-max-speedup": 2.0,
    "03-pipes-for-conversation": 2, "03-eof-when": " B ", "03-child-closes": 2,
    "04-fill-3000": 24000, "04-setpipe-5000": 8192, "04-nonblocking-full": "eagain",
    "05-sigpipe-status": -13, "05-python-exception": "BrokenPipeError", "05-read-eof": b"",
    "06-enxio": "ENXIO", "06-pipe-buf": 4096, "06-fifos-for-rpc": 4,
    "07-lost-updates-locked": 0, "07-copies": 0,
    "08-pipe-copies": 2, "08-round-trip-syscalls": 4,
    "09-apache-prefork": False, "09-forks-per-request": 200,
}
WRONG = {
    "01-child-write": 20, "01-same-address": False, "01-cow-faults": 0,
    "02-records": 1, "02-pipeline-pipes": 3, "02-max-speedup": 4,
    "03-pipes-for-conversation": 1, "03-eof-when": "c", "03-child-closes": 4,
    "04-fill-3000": 48000, "04-setpipe-5000": 5000, "04-nonblocking-full": "EPIPE",
    "05-sigpipe-status": 13, "05-python-exception": "OSError", "05-read-eof": b"0",
    "06-enxio": "EAGAIN", "06-pipe-buf": 65536, "06-fifos-for-rpc": 2,
    "07-lost-updates-locked": 1, "07-copies": 2,
    "08-pipe-copies": 1, "08-round-trip-syscalls": 2,
    "09-apache-prefork": True, "09-forks-per-request": 4,
}


def test_every_exercise_has_a_right_and_a_wrong_case():
    assert set(RIGHT) == set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_right_answer_passes_and_says_so(exercise_id, capsys):
    exercises.check(exercise_id, RIGHT[exercise_id])
    out = capsys.readouterr().out
    assert out.startswith(f"✔ {exercise_id}: right")


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_wrong_answer_raises_an_assertion_error(exercise_id, capsys):
    with pytest.raises(WrongAnswer) as info:
        exercises.check(exercise_id, WRONG[exercise_id])
    assert isinstance(info.value, AssertionError)  # what makes nbval fail
    out = capsys.readouterr().out
    assert out.startswith(f"✘ {exercise_id}:") and "Hint:" in out


@pytest.mark.parametrize("placeholder", [..., None])
def test_unanswered_is_wrong(placeholder, capsys):
    with pytest.raises(WrongAnswer, match="not answered"):
        exercises.check("02-records", placeholder)
    assert "not answered yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id, answer", [
    ("01-same-address", 1),        # a bool question wants True/False, not 1
    ("02-records", True),          # and a count is not a bool
    ("02-records", "4"),           # nor a string
    ("05-read-eof", ""),           # b'' is not ''
    ("01-cow-faults", 1200),       # outside the 10 % tolerance
    ("01-cow-faults", float("nan")),
])
def test_near_misses_are_wrong(exercise_id, answer):
    with pytest.raises(WrongAnswer):
        exercises.check(exercise_id, answer)


def test_kernel_answers_come_from_the_kernel():
    assert EXERCISES["04-fill-3000"].answer() == fill_pipe(3000, pipe_size_bytes=32768).filled_bytes
    assert EXERCISES["04-setpipe-5000"].answer() == resize_pipe(5000).granted_bytes


def test_lookup_helpers():
    assert exercises.exercise_ids("04") == ["04-fill-3000", "04-setpipe-5000", "04-nonblocking-full"]
    from ipclab import _answers

    # notebooks 10-13 keep their exercises with their chapters; exercises lists them all
    assert exercises.exercise_ids() == list(EXERCISES) + _answers.exercise_ids()
    assert exercises.exercise_ids("12") == _answers.exercise_ids("12") != []
    assert "3,000" in exercises.question("04-fill-3000")
    assert exercises.hint("05-sigpipe-status")
    for bad in ("99-nope", 4, None):
        with pytest.raises(ValueError, match="exercise_id"):
            exercises.check(bad, 1)
    with pytest.raises(ValueError, match="exercise_id"):
        exercises.hint("nope")
    with pytest.raises(TypeError, match="notebook"):
        exercises.exercise_ids(4)


def test_every_notebook_has_exercises():
    for nb in ("01", "02", "03", "04", "05", "06", "07", "08", "09"):
        assert exercises.exercise_ids(nb), nb


# -- the page-rule model, against the real kernel ----------------------------------------
_SIZES = sorted({1, 2, 3, 99, 100, 101, 1000, 1365, 1366, 2047, 2048, 2049, 3000, 4095, 4096,
                 4097, 5000, 6143, 6144, 8191, 8192, 8193, 12289, 20000, 40000, 65535,
                 65536, 65537, 100000} | set(random.Random(7).sample(range(1, 70000), 60)))


def test_pipe_fill_model_matches_the_kernel():
    wrong = {s: (fill_pipe(s).filled_bytes, exercises.pipe_fill_model(s)) for s in _SIZES}
    wrong = {s: v for s, v in wrong.items() if v[0] != v[1]}
    assert not wrong, f"kernel vs model disagree (write size: (kernel, model)): {wrong}"


@pytest.mark.parametrize("pipe_bytes", [4096, 8192, 131072])
def test_pipe_fill_model_matches_resized_pipes(pipe_bytes):
    for s in (1, 100, 3000, 4097, 9000):
        assert fill_pipe(s, pipe_size_bytes=pipe_bytes).filled_bytes == \
            exercises.pipe_fill_model(s, pages=pipe_bytes // 4096), (s, pipe_bytes)


@pytest.mark.parametrize("size, expected", [(1, 65536), (100, 64000), (4097, 45066),
                                            (2049, 32784), (3000, 48000)])
def test_pipe_fill_model_known_values(size, expected):
    assert exercises.pipe_fill_model(size) == expected


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"write_size_bytes": 0}, ValueError, "write_size_bytes"),
    ({"write_size_bytes": 1.5}, TypeError, "write_size_bytes"),
    ({"write_size_bytes": 1, "pages": 0}, ValueError, "pages"),
    ({"write_size_bytes": 1, "page_bytes": 0}, ValueError, "page_bytes"),
    ({"write_size_bytes": 1, "pipe_buf_bytes": -1}, ValueError, "pipe_buf_bytes"),
])
def test_pipe_fill_model_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        exercises.pipe_fill_model(**kwargs)


# -- predictions -----------------------------------------------------------------------------
def test_compare_prediction_never_raises_and_says_what_happened(capsys):
    exercises.compare_prediction("fill", 65536, 64000, "bytes")
    exercises.compare_prediction("fill", 64000, 64000, "bytes")
    exercises.compare_prediction("speedup", 1.9, 1.7, tolerance=0.2)
    exercises.compare_prediction("state", ..., "sleeping")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fill: predicted 65,536 bytes, measured 64,000 bytes: not what you predicted — why?"
    assert lines[1].endswith(": as predicted")
    assert lines[2].endswith(": as predicted")
    assert lines[3] == "state: no prediction made — measured 'sleeping'."


@pytest.mark.parametrize("predicted, measured, tol, expected", [
    (10, 10, 0, True), (10, 11, 0, False), (10, 11, 0.1, True), (True, 1, 0, False),
    ("b", "b", 0, True), (..., 1, 0, False), (None, None, 0, False), (1.0, 1, 0, True),
])
def test_agrees(predicted, measured, tol, expected):
    assert exercises.agrees(predicted, measured, tol) is expected


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"name": 1, "predicted": 1, "measured": 1}, TypeError, "name"),
    ({"name": "x", "predicted": 1, "measured": 1, "tolerance": -0.1}, ValueError, "tolerance"),
    ({"name": "x", "predicted": 1, "measured": 1, "tolerance": True}, ValueError, "tolerance"),
])
def test_compare_prediction_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        exercises.compare_prediction(**kwargs)


def test_the_fill_exercise_asks_what_the_fill_widget_cannot_show():
    """04's first exercise must be worked out with the rule: the fill widget offers no pipe of
    the asked size, and the hint nudges without the number."""
    from ipclab import pipes, widgets

    ex = EXERCISES["04-fill-3000"]
    answer = ex.answer()
    assert answer == exercises.pipe_fill_model(3000, pages=32768 // pipes.PAGE_BYTES,
                                               page_bytes=pipes.PAGE_BYTES)
    assert answer != fill_pipe(3000).filled_bytes  # not the default pipe's answer
    box = widgets.fill_explorer(run_now=False)
    options = [list(getattr(w, "options", ())) for w in box.children]
    assert options and all("32 KiB" not in o for o in options)
    for text in (ex.hint, ex.question):
        assert f"{answer:,}" not in text and str(answer) not in text
    assert f"{answer:,}" in ex.why(answer)


# -- grade: the grader's non-printing, non-raising twin of check ------------------------------
@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_grade_gives_a_verdict_without_printing_or_raising(exercise_id, capsys):
    right = exercises.grade(exercise_id, RIGHT[exercise_id])
    wrong = exercises.grade(exercise_id, WRONG[exercise_id])
    assert right == (True, right.feedback) and right.feedback.startswith("right — ")
    assert wrong.passed is False and "Hint:" in wrong.feedback
    assert capsys.readouterr().out == ""


def test_grade_takes_a_known_answer_key_and_never_passes_no_answer():
    key = exercises.answer_key("04-fill-3000")
    assert key == fill_pipe(3000, pipe_size_bytes=32768).filled_bytes
    assert exercises.grade("04-fill-3000", key, key).passed
    assert not exercises.grade("04-fill-3000", key + 1, key).passed
    for nothing in (..., None):
        verdict = exercises.grade("04-fill-3000", nothing, key)
        assert not verdict.passed and verdict.feedback.startswith("not answered")


def test_check_prints_what_grade_says(capsys):
    exercises.check("02-records", 4)
    assert capsys.readouterr().out == f"✔ 02-records: {exercises.grade('02-records', 4).feedback}\n"


def test_answer_name_is_the_notebooks_variable():
    assert exercises.answer_name("04-fill-3000") == "answer_04_fill_3000"
    with pytest.raises(ValueError, match="exercise_id must be one of"):
        exercises.answer_name("99-nothing")
