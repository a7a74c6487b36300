"""Without fork, mkfifo and the other POSIX calls (Windows), ``import ipclab`` still works and
every experiment raises one clear UnsupportedPlatformError that points to WSL or a Linux
server. The absence is made real in a subprocess: a sitecustomize removes those calls and
modules before ipclab is imported (the kernel is not involved: nothing is faked about it)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

PROBE = r'''
import inspect, importlib, json
import ipclab
from ipclab.errors import UnsupportedPlatformError
out = {}
for modname in ("pipes", "fifos", "shm", "throughput", "webserver", "isolation", "speedup",
                "pipeline", "conversation", "facts"):
    mod = importlib.import_module("ipclab." + modname)
    for name in getattr(mod, "__all__", []):
        f = getattr(mod, name)
        params = inspect.signature(f).parameters.values() if inspect.isfunction(f) else None
        if params is None or any(p.default is p.empty and p.kind != p.VAR_KEYWORD for p in params):
            continue  # only what a learner can call with no arguments
        try:
            r = f()
            if hasattr(r, "__next__"):
                next(r, None)
            out[modname + "." + name] = "ran"
        except UnsupportedPlatformError as e:
            out[modname + "." + name] = "unsupported: " + str(e)
        except Exception as e:
            out[modname + "." + name] = "BROKEN %s: %s" % (type(e).__name__, e)
print(json.dumps(out))
'''


def test_without_posix_calls_import_works_and_experiments_say_where_to_run(tmp_path):
    shutil.copy(HERE / "data" / "no_posix_sitecustomize.py", tmp_path / "sitecustomize.py")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), IPCLAB_ISOLATE="never")
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout)
    broken = {k: v for k, v in outcomes.items() if v.startswith("BROKEN")}
    assert not broken, broken
    unsupported = {k: v for k, v in outcomes.items() if v.startswith("unsupported")}
    # Everything that forks or makes a FIFO refuses, and says where to go instead.
    for name in ("pipes.write_without_reader", "pipes.empty_pipe_blocks_reader",
                 "fifos.nonblocking_open", "shm.counter_race", "isolation.fork_and_write",
                 "facts.measure_facts"):
        assert name in unsupported, f"{name}: {outcomes.get(name)}"
    for message in unsupported.values():
        assert "WSL" in message and "os." in message
