"""Re-execute course notebooks in place and strip what changes from run to run.

    .venv/bin/python scripts/refresh_notebooks.py                 # all of solutions/
    .venv/bin/python scripts/refresh_notebooks.py solutions/04-*.ipynb

Then make the learner's edition again: `.venv/bin/python -m ipclab release`.

For course authors after editing a notebook: the stored outputs are what nbval compares, so
they must come from a fresh kernel, top to bottom. Volatile metadata (timings, widget state
and model ids, the Python version) is dropped and cell ids are made stable, so a re-run
changes the files only where an output really changed.
"""

from __future__ import annotations

import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean(nb):
    """Drop volatile metadata; keep outputs (minus widget views, which need a front end)."""
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            data = out.get("data")
            if data is not None:
                data.pop("application/vnd.jupyter.widget-view+json", None)
                if not data:
                    continue
                out["metadata"] = {}
            if out.get("output_type") == "stream" and not out.get("text"):
                continue
            last = kept[-1] if kept else None
            if (last is not None and out.get("output_type") == "stream"
                    and last.get("output_type") == "stream" and last.get("name") == out.get("name")):
                last["text"] += out["text"]  # one print may arrive in pieces: store it whole
                continue
            kept.append(out)
        cell.outputs = kept
    return nb


def refresh(path: str, timeout_s: int = 120) -> None:
    nb = nbformat.read(path, as_version=4)
    t0 = time.monotonic()
    NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
    clean(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"{path}: {len(nb.cells)} cells, {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "solutions", "[0-9]*.ipynb")))
    for p in paths:
        refresh(p)
