"""``python -m ipclab facts``: the pipe facts of this machine."""

import json

from . import int_list

NAME = "facts"
HELP = "measure this machine's pipe facts (capacity, PIPE_BUF, EOF, SIGPIPE, ...)"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write-sizes", type=int_list, default=None, metavar="N,N,...",
                        help="write sizes in bytes for the fill experiment "
                             "(default 1,100,1000,2049,4095,4096,4097,65536)")


def run(args) -> int:
    from ..facts import DEFAULT_WRITE_SIZES, format_facts, measure_facts

    facts = measure_facts(args.write_sizes or DEFAULT_WRITE_SIZES)
    if args.json:
        print(json.dumps(facts._asdict(), indent=2))
    else:
        print(format_facts(facts))
    return 0
