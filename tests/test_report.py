"""``python -m ipclab report --out DIR --quick``: every promised file exists and is
well-formed, and the numbers in it are this kernel's."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib.image
import pytest

from ipclab import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """The real command, once: a fresh process, the Agg backend, no display."""
    out = tmp_path_factory.mktemp("report")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    proc = subprocess.run(
        [sys.executable, "-m", "ipclab", "report", "--out", str(out), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
    )
    return out, proc


def _fresh_pipe(query) -> int:
    r, w = os.pipe()
    try:
        return query(r)
    finally:
        os.close(r)
        os.close(w)


def _fresh_pipe_capacity() -> int:
    return _fresh_pipe(lambda fd: fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))


@pytest.mark.slow  # the whole quick report, once for these five: 20-30 s on 2 cores
def test_the_command_succeeds_and_shows_progress_on_stderr(quick_report):
    _, proc = quick_report
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("index.html")
    assert re.search(r"report \[#+\.*\] \d+/\d+", proc.stderr)
    assert "0 failed" in proc.stderr


@pytest.mark.slow  # the whole quick report, once for these five: 20-30 s on 2 cores
def test_every_section_ran_and_wrote_png_and_svg(quick_report):
    out, _ = quick_report
    data = json.loads((out / "report.json").read_text())
    sections = data["sections"]
    assert set(sections) == {key for key, _, _ in report.SECTIONS}
    assert {k: s["status"] for k, s in sections.items()} == dict.fromkeys(sections, "ok")
    names = [n for s in sections.values() for n in s["figures"]]
    assert "pipe-fill-level" in names and len(names) >= len(sections)
    for name in names:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        height, width, _ = matplotlib.image.imread(out / f"{name}.png").shape
        assert width >= 600 and height >= 300
        root = ET.parse(out / f"{name}.svg").getroot()
        assert root.tag.endswith("svg")


@pytest.mark.slow  # the whole quick report, once for these five: 20-30 s on 2 cores
def test_json_holds_this_kernels_numbers(quick_report):
    out, _ = quick_report
    data = json.loads((out / "report.json").read_text())
    facts = data["facts"]
    capacity = _fresh_pipe_capacity()
    assert facts["pipe_capacity_bytes"] == capacity
    assert facts["pipe_buf_bytes"] == _fresh_pipe(lambda fd: os.fpathconf(fd, "PC_PIPE_BUF"))
    fills = {r["write_size_bytes"]: r["filled_bytes"] for r in data["sections"]["fill"]["records"]}
    assert fills[1] == capacity and fills[4096] == capacity
    assert 0 < fills[4097] < capacity
    race = data["sections"]["race"]["records"]
    assert all(r["lost_updates"] == 0 for r in race if r["locked"])
    tp = data["sections"]["throughput"]["records"]
    assert tp and all(p["median_bytes_per_s"] > 0 for p in tp)
    assert data["meta"]["quick"] is True and data["meta"]["seconds"] > 0


@pytest.mark.slow  # the whole quick report, once for these five: 20-30 s on 2 cores
def test_html_embeds_every_figure_and_the_facts(quick_report):
    out, _ = quick_report
    page = (out / "index.html").read_text()
    data = json.loads((out / "report.json").read_text())
    names = [n for s in data["sections"].values() for n in s["figures"]]
    embedded = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(names)
    for blob in embedded:
        assert ET.fromstring(base64.b64decode(blob)).tag.endswith("svg")
    assert data["facts"]["kernel_release"] in page
    assert f"{_fresh_pipe_capacity():,} bytes" in page
    assert page.count("<table") >= 1 + len(data["sections"])  # facts + one per section
    assert 'src="http' not in page and 'href="http' not in page  # self-contained


@pytest.mark.slow  # the whole quick report, once for these five: 20-30 s on 2 cores
def test_the_new_chapters_sections_hold_what_their_kernel_did(quick_report):
    out, _ = quick_report
    sections = json.loads((out / "report.json").read_text())["sections"]
    reads = {r["kind"]: r["reads"] for r in sections["boundaries"]["records"]}
    assert reads["pipe"] == reads["stream"] == ["helloworld"]  # bytes, not messages
    assert reads["datagram"] == reads["seqpacket"] == ["hello", "world"]
    counts = sections["signals"]["records"]
    assert all(c["received"] == 1 for c in counts if c["signal_name"] == "SIGUSR1")
    assert all(c["received"] == c["sent"] for c in counts if c["signal_name"] == "SIGRTMIN")
    samples = sections["wakeup"]["records"]
    assert {s["method"] for s in samples} == {"select", "poll", "epoll"}
    assert all(s["per_call_s"] > 0 for s in samples)
    limit = sections["semaphore"]["records"]
    assert limit["max_inside"] == limit["value"] and len(limit["intervals"]) == limit["processes"]
    alone, turns = sections["futex"]["records"]
    assert alone["sleeps"] == 0 and turns["sleeps"] > 0


@pytest.mark.slow  # runs the report's sections: 0.3 s
def test_a_failing_section_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    from ipclab import throughput

    def sweep(mechanisms=throughput.MECHANISMS, sizes=(64,), repeats=5):  # a renamed parameter
        raise AssertionError("not reached: the call with sizes_bytes= fails first")

    monkeypatch.setattr(throughput, "sweep", sweep)
    result = report.build_report(
        tmp_path, quick=True, sections=["throughput", "fill"], progress=False
    )
    status = {s.key: s.status for s in result.sections}
    assert status == {"fill": "ok", "throughput": "failed"}
    failed = result.sections[1]
    assert failed.reason.startswith("TypeError") and "sizes_bytes" in failed.reason
    assert "sweep(" in failed.traceback
    page = (tmp_path / "index.html").read_text()
    assert "failed: TypeError" in page and "sizes_bytes" in page
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["sections"]["throughput"]["status"] == "failed"
    assert "sizes_bytes" in data["sections"]["throughput"]["reason"]
    assert (tmp_path / "pipe-fill-by-write-size.png").exists()
    assert not (tmp_path / "throughput-vs-size.png").exists()


@pytest.mark.slow  # runs the report until it is interrupted: 0.35 s
def test_an_interrupt_stops_the_report_instead_of_failing_one_section(tmp_path, monkeypatch):
    from ipclab import throughput

    def sweep(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(throughput, "sweep", sweep)
    with pytest.raises(KeyboardInterrupt):
        report.build_report(tmp_path, quick=True, sections=["throughput", "fill"], progress=False)
    assert (tmp_path / "pipe-fill-by-write-size.png").exists()  # the section before it ran
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"out_dir": 42}, TypeError, "out_dir must be a path"),
        ({"quick": "yes"}, TypeError, "quick must be True or False"),
        ({"style": "beamer"}, ValueError, "style must be one of"),
        ({"sections": ["fill", "nope"]}, ValueError, r"sections\[1\] must be one of"),
        ({"sections": []}, ValueError, "at least one"),
        ({"dpi": 5}, ValueError, "dpi must be"),
    ],
)
def test_build_report_rejects_bad_arguments(tmp_path, kwargs, error, match):
    args = {"out_dir": tmp_path, **kwargs}
    with pytest.raises(error, match=match):
        report.build_report(**args)
    assert not list(tmp_path.iterdir())  # nothing was written


def test_out_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        report.build_report(path)


@pytest.mark.slow  # a program: 0.6 s
def test_cli_rejects_an_unknown_section(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipclab",
            "report",
            "--out",
            str(tmp_path),
            "--sections",
            "fill,bogus",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "sections[1] must be one of" in proc.stderr
