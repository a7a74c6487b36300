"""ipclab.exercises: checked answers, the page-rule model against the kernel, predictions."""

import ast
import errno
import os
import random
import subprocess
import sys

import pytest

from ipclab import exercises, fill_pipe, resize_pipe
from ipclab.probes import pipe_buf_bytes
from ipclab.exercises import EXERCISES, WrongAnswer

# The right answer to every exercise, as a learner would type it.
RIGHT = {
    "01-child-write": 10, "01-same-address": True, "01-cow-faults": 1000,
    "02-records": 4, "02-pipeline-pipes": 2, "02-max-speedup": 2.0,
    "03-pipes-for-conversation": 2, "03-eof-when": " B ", "03-child-closes": 2,
    "04-fill-3000": 24000, "04-setpipe-5000": 8000, "04-nonblocking-full": b"",
    "05-sigpipe-status": errno.EPIPE, "05-python-exception": 1, "05-read-eof": "b",
    "06-enxio": b"", "06-pipe-buf": True, "06-fifos-for-rpc": 6,
    "07-lost-updates-locked": 400_000, "07-copies": 1,
    "08-pipe-copies": 4, "08-round-trip-syscalls": 4,
    "09-apache-prefork": False, "09-forks-per-request": 200,
}
# Typical wrong answers, and words of the hint written for that very mistake.
MISTAKES = {
    "01-child-write": {20: "child's copy"},
    "01-cow-faults": {0: "shared after fork", 1: "one page at a time", 1.2: "one page at a time"},
    "02-records": {1: "one worker's record"},
    "02-pipeline-pipes": {3: "two neighbours"},
    "02-max-speedup": {4: "all four run at once", 4.0: "all four run at once"},
    "03-pipes-for-conversation": {1: "the writer itself"},
    "03-eof-when": {"c": "or wait", "a": "nothing more to say"},
    "03-child-closes": {4: "could not talk", 0: "end of file"},
    "04-fill-3000": {32768: "capacity", 30000: "split", 48000: "16 pages"},
    "04-setpipe-5000": {5000: "Think in pages", 8192: "capacity", 4096: "one page"},
    "04-nonblocking-full": {"BlockingIOError": "try again later", "EAGAIN": "try again later",
                            "BrokenPipeError": "reader without a writer"},
    "05-sigpipe-status": {-13: "default action", 13: "SIGPIPE's number", 0: "succeed"},
    "05-python-exception": {-13: "ignores SIGPIPE", 32: "errno", 0: "end normally"},
    "05-read-eof": {"a": "every write end", "c": "writer's error"},
    "06-enxio": {b"hello": "read once", "ENXIO": "open succeeded"},
    "06-pipe-buf": {False: "up to what size"},
    "06-fifos-for-rpc": {5: "requests go", 10: "share one", 2: "which reply"},
    "07-lost-updates-locked": {100_000: "adds all four", 0: "children's stores"},
    "07-copies": {2: "MAP_SHARED", 0: "before fork"},
    "08-pipe-copies": {2: "b reads and writes", 3: "each system call", 0: "not shared memory"},
    "08-round-trip-syscalls": {2: "asking for it", 8: "select() or poll()"},
    "09-forks-per-request": {4: "pool"},
}
# One wrong answer per exercise (the first typical mistake, or another).
WRONG = {i: next(iter(MISTAKES[i])) if i in MISTAKES else None for i in RIGHT}
WRONG.update({"01-same-address": False, "09-apache-prefork": True})


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
    ("06-pipe-buf", 1),
    ("02-records", True),          # and a count is not a bool
    ("02-records", "4"),           # nor a string
    ("06-enxio", ""),              # b'' is not ''
    ("04-nonblocking-full", None), # nor is nothing
    ("01-cow-faults", 1200),       # outside the 10 % tolerance
    ("01-cow-faults", float("nan")),
])
def test_near_misses_are_wrong(exercise_id, answer):
    with pytest.raises(WrongAnswer):
        exercises.check(exercise_id, answer)


def test_kernel_answers_come_from_the_kernel():
    key = exercises.answer_key
    assert key("04-fill-3000") == fill_pipe(3000, pipe_size_bytes=32768).filled_bytes
    assert key("04-setpipe-5000") == fill_pipe(1000, pipe_size_bytes=5000).filled_bytes
    assert resize_pipe(5000).granted_bytes == fill_pipe(1000, pipe_size_bytes=5000).capacity_bytes
    assert key("04-nonblocking-full") == b""
    assert key("05-sigpipe-status") == errno.EPIPE
    assert key("06-pipe-buf") is (pipe_buf_bytes() < 6000)


def test_lookup_helpers():
    assert exercises.exercise_ids("04") == ["04-fill-3000", "04-setpipe-5000", "04-nonblocking-full"]
    from ipclab import _answers

    # notebooks 10-13 keep their exercises with their chapters; exercises lists them all
    later = [i for i in _answers.exercise_ids() if i[:2] >= "10"]
    assert exercises.exercise_ids() == list(EXERCISES) + later and later
    assert exercises.exercise_ids("12") == _answers.exercise_ids("12") != []
    assert "3,000" in exercises.question("04-fill-3000")
    assert exercises.hint("05-sigpipe-status") == EXERCISES["05-sigpipe-status"].hints[0]
    assert exercises.question("12-" + exercises.exercise_ids("12")[0][3:])
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
    answer = exercises.answer_key("04-fill-3000")
    assert answer == exercises.pipe_fill_model(3000, pages=32768 // pipes.PAGE_BYTES,
                                               page_bytes=pipes.PAGE_BYTES)
    assert answer != fill_pipe(3000).filled_bytes  # not the default pipe's answer
    box = widgets.fill_explorer(run_now=False)
    options = [list(getattr(w, "options", ())) for w in box.children]
    assert options and all("32 KiB" not in o for o in options)
    for text in (*ex.hints, *ex.mistakes.values(), ex.question):
        assert f"{answer:,}" not in text and str(answer) not in text
    assert f"{answer:,}" in exercises.grade("04-fill-3000", answer).feedback


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


# -- typical mistakes get their own hint; others get the stepped hints ------------------------
@pytest.mark.parametrize("exercise_id, answer, words",
                         [(i, a, w) for i, m in MISTAKES.items() for a, w in m.items()])
def test_a_typical_mistake_gets_the_hint_written_for_it(exercise_id, answer, words, capsys):
    with pytest.raises(WrongAnswer):
        exercises.check(exercise_id, answer)
    out = capsys.readouterr().out
    assert out.startswith(f"✘ {exercise_id}: {answer!r} is not right. Hint: ") and words in out
    assert words in exercises.grade(exercise_id, answer).feedback


def test_other_wrong_answers_get_the_hints_in_steps(capsys):
    q = EXERCISES["08-round-trip-syscalls"]
    assert len(q.hints) == 2
    exercises.check("08-round-trip-syscalls", 4)  # a right answer starts the steps again
    capsys.readouterr()
    for expected in (q.hints[0], q.hints[1], q.hints[1]):
        with pytest.raises(WrongAnswer):
            exercises.check("08-round-trip-syscalls", 6)
        assert capsys.readouterr().out.rstrip("\n").endswith(expected)
    exercises.check("08-round-trip-syscalls", 4)
    with pytest.raises(WrongAnswer):
        exercises.check("08-round-trip-syscalls", 6)
    assert capsys.readouterr().out.rstrip("\n").endswith(q.hints[0])


def test_no_hint_contains_its_answer():
    for ex_id, right in RIGHT.items():
        q = EXERCISES[ex_id]
        for text in (*q.hints, *q.mistakes.values()):
            if isinstance(right, (bytes, str)) and len(right.strip()) > 1:
                assert right.strip() not in text, (ex_id, text)
            if isinstance(right, int) and not isinstance(right, bool) and right >= 10:
                assert str(right) not in text and f"{right:,}" not in text, (ex_id, text)


# -- the answer keys of 01-09 are not readable in the package ---------------------------------
def _constants_outside_questions(path):
    """Every constant in the module at ``path`` except the questions' own text."""
    tree = ast.parse(open(path).read())
    questions = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Question":
            questions.update(id(n) for n in ast.walk(node.args[0]))
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and id(n) not in questions]


def test_every_key_is_measured_or_a_digest():
    for ex_id, q in EXERCISES.items():
        assert (q.measure is None) != (q.digest is None), ex_id
        if q.digest is not None:
            assert exercises.answer_key(ex_id) == q.digest and len(q.digest) == 64


def test_no_answer_of_01_to_09_is_written_in_the_package():
    """Checkable honestly only for answers that are not everyday constants: text, bytes and
    numbers of 10 or more (0, 1, 2, 4 and True/False occur in any code). An answer that its
    question states by design (200 requests, x = 10) is left out too."""
    import ipclab

    package = os.path.dirname(ipclab.__file__)
    constants = []
    for name in ("answer_keys.py", "kernel_answers.py", "exercises.py", "_answers.py"):
        constants += _constants_outside_questions(os.path.join(package, name))
    texts = [c for c in constants if isinstance(c, str)]
    numbers = {c for c in constants if isinstance(c, int)}
    checked = 0
    plain = {**RIGHT, "01-cow-faults": 1024, "02-max-speedup": 2}  # the keys, not near misses
    for ex_id, right in plain.items():
        q = EXERCISES[ex_id]
        if q.measure is not None:
            continue  # the kernel is the key
        forms = {str(right).strip()}
        if isinstance(right, int) and not isinstance(right, bool):
            if right < 10:
                continue
            forms |= {f"{right:,}", f"{right:_}"}
        elif isinstance(right, (bytes, str)) and len(right.strip()) < 2 or isinstance(right, bool):
            continue
        if any(f in q.question for f in forms):
            continue
        assert right not in numbers, ex_id
        for text in texts:
            assert not any(f in text for f in forms), (ex_id, text)
        checked += 1
    assert checked >= 2  # 01-cow-faults, 07-lost-updates-locked


# -- the digested answers are what the kernel does ------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=False)


def test_an_uncaught_broken_pipe_in_python_exits_with_the_keyed_status():
    r, w = os.pipe()
    os.close(r)
    try:
        done = subprocess.run([sys.executable, "-c", f"import os; os.write({w}, b'x')"],
                              pass_fds=(w,), capture_output=True, timeout=30, check=False)
    finally:
        os.close(w)
    assert b"BrokenPipeError" in done.stderr
    assert exercises.grade("05-python-exception", done.returncode).passed


_TWO_WRITERS = """
import os, select
r, w = os.pipe()
for _ in range(2):
    if os.fork() == 0:
        os.write(w, b"x" * 10)
        os._exit(0)
for _ in range(2):
    os.wait()
got = os.read(r, 100)
got += os.read(r, 100) if len(got) < 20 else b""
ready = select.select([r], [], [], 0.3)[0]   # would a third read return (EOF) or block?
print(len(got), "a" if ready else "b")
"""


@pytest.mark.slow  # waits out a 0.3 s select: 0.3 s
def test_a_reader_that_keeps_a_write_end_waits_as_keyed():
    n, verdict = _python(_TWO_WRITERS).stdout.split()
    assert n == "20" and exercises.grade("05-read-eof", verdict).passed


def test_a_fifo_read_after_its_writer_left_is_as_keyed(tmp_path):
    path = str(tmp_path / "fifo")
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer = os.open(path, os.O_WRONLY)
        os.write(writer, b"hello")
        os.close(writer)
        os.set_blocking(reader, True)
        first, second = os.read(reader, 100), os.read(reader, 100)
    finally:
        os.close(reader)
        os.unlink(path)
    assert first == b"hello" and exercises.grade("06-enxio", second).passed


_OWN_SLOTS = """
import mmap, os, struct
m = mmap.mmap(-1, 32)
for i in range(4):
    if os.fork() == 0:
        for _ in range(100_000):
            v, = struct.unpack_from("q", m, 8 * i)
            struct.pack_into("q", m, 8 * i, v + 1)
        os._exit(0)
for _ in range(4):
    os.wait()
print(sum(struct.unpack_from("4q", m)))
"""

_PRIVATE = """
import mmap, os
m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE)
m[0] = 1
if os.fork() == 0:
    m[0] = 2
    os._exit(0)
os.wait()
print(m[0])
"""


@pytest.mark.parametrize("exercise_id, code", [("07-lost-updates-locked", _OWN_SLOTS),
                                               ("07-copies", _PRIVATE)])
def test_shared_memory_answers_are_what_the_kernel_does(exercise_id, code):
    assert exercises.grade(exercise_id, int(_python(code).stdout)).passed


_HANDLED = r"""
#include <errno.h>
#include <signal.h>
#include <unistd.h>
static void nothing(int sig) { (void)sig; }
int main(void) {
    int fds[2];
    if (pipe(fds) != 0) return 100;
    close(fds[0]);
    signal(SIGPIPE, nothing);
    return write(fds[1], "x", 1) == -1 ? errno : 0;
}
"""


def test_a_handled_sigpipe_exits_with_the_keyed_status(tmp_path):
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "h.c").write_text(_HANDLED)
    subprocess.run([cc, "-o", str(tmp_path / "h"), str(tmp_path / "h.c")], check=True, timeout=60)
    done = subprocess.run([str(tmp_path / "h")], timeout=30, check=False)
    # subprocess reports the status as os.waitstatus_to_exitcode does (-N: killed by N)
    assert exercises.grade("05-sigpipe-status", done.returncode).passed


@pytest.mark.parametrize("junk", [float("inf"), float("nan"), 1e300, "x" * 1000, {"EAGAIN"},
                                  [4], "huge"], ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("exercise_id", ["01-cow-faults", "02-records", "04-fill-3000",
                                         "04-nonblocking-full", "03-eof-when"])
def test_junk_is_a_short_wrong_verdict(exercise_id, junk):
    junk = 10 ** 5000 if junk == "huge" else junk  # too long to print as a number
    verdict = exercises.grade(exercise_id, junk)
    assert not verdict.passed and "Hint:" in verdict.feedback and len(verdict.feedback) < 250
