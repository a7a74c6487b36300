"""``python -m ipclab run MODULE.FUNCTION [NAME=VALUE ...]``: any experiment from a shell.

    python -m ipclab run --list
    python -m ipclab run fifos.nonblocking_open
    python -m ipclab run shm.counter_race processes=4 lock=False
    python -m ipclab run pipes.watch_pipe_fill duration_s=0.5 --json

Values are Python literals (``4``, ``0.5``, ``False``, ``"text"``, ``(64, 4096)``); anything
that is not a literal is passed as a string. Results print as JSON (``--json``, one object per
result, one per line for experiments that yield) or as ``name: value`` lines.
"""

import ast
import importlib
import inspect
import json

from .._format import jsonable

NAME = "run"
HELP = "run any experiment by name, e.g. `run shm.counter_race processes=4 lock=False`"

#: Modules whose public functions are experiments a learner can run.
MODULES = (
    "pipes",
    "fifos",
    "shm",
    "throughput",
    "webserver",
    "isolation",
    "speedup",
    "pipeline",
    "conversation",
)


def add_arguments(parser):
    parser.add_argument(
        "experiment", nargs="?", metavar="MODULE.FUNCTION", help="e.g. pipes.fill_pipe (see --list)"
    )
    parser.add_argument(
        "params",
        nargs="*",
        metavar="NAME=VALUE",
        help="keyword arguments, values as Python literals",
    )
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--json", action="store_true", help="print results as JSON")


def experiments() -> dict:
    """``{"module.function": function}`` for every public experiment."""
    found, seen = {}, set()
    for name in MODULES:
        module = importlib.import_module(f"ipclab.{name}")
        for attr in getattr(module, "__all__", []):
            func = getattr(module, attr)
            # A function a module re-exports (pipes from probes) is listed once, under the
            # first module that offers it.
            if inspect.isfunction(func) and func not in seen:
                seen.add(func)
                found[f"{name}.{attr}"] = func
    return found


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(pairs) -> dict:
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"parameters must look like NAME=VALUE, got {pair!r}")
        params[name] = _value(text)
    return params


def _show(result, as_json: bool) -> None:
    # Bytes as UTF-8 (a message reads as text); non-finite floats as null (valid JSON).
    data = jsonable(result, "utf-8")
    if as_json:
        print(json.dumps(data))
    elif isinstance(data, dict):
        width = max(map(len, data), default=0)
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")
        print()
    else:
        print(data)


def run(args) -> int:
    table = experiments()
    if args.list or not args.experiment:
        for name, func in table.items():
            summary = (inspect.getdoc(func) or "").split("\n")[0]
            print(f"{name}{inspect.signature(func)}\n    {summary}")
        return 0
    if args.experiment not in table:
        raise ValueError(
            f"experiment must be one of the names `python -m ipclab run --list` "
            f"prints (module.function), got {args.experiment!r}"
        )
    func = table[args.experiment]
    params = parse_params(args.params)
    unknown = set(params) - set(inspect.signature(func).parameters)
    if unknown:
        raise TypeError(
            f"{args.experiment} takes no parameter {', '.join(sorted(unknown))}; "
            f"it takes {inspect.signature(func)}"
        )
    result = func(**params)
    if inspect.isgenerator(result) or hasattr(result, "__next__"):
        try:
            for item in result:
                _show(item, args.json)
        finally:
            result.close()
    else:
        _show(result, args.json)
    return 0
