"""``python -m ipclab facts``: the pipe facts of this machine."""

import json

from . import int_list

NAME = "facts"
HELP = "measure this machine's pipe facts (capacity, PIPE_BUF, EOF, SIGPIPE, ...)"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--write-sizes",
        type=int_list,
        default=None,
        metavar="N,N,...",
        help="write sizes in bytes for the fill experiment "
        "(default 1,100,1000,2049,4095,4096,4097,65536)",
    )


def run(args) -> int:
    from .._check import GIB, check_int_list
    from ..facts import DEFAULT_WRITE_SIZES, format_facts, measure_facts

    sizes = check_int_list(
        "--write-sizes", args.write_sizes or DEFAULT_WRITE_SIZES, 1, GIB, "bytes"
    )
    facts = measure_facts(sizes)
    if args.json:
        print(json.dumps(facts._asdict(), indent=2))
    else:
        print(format_facts(facts))
    return 0
