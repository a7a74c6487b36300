"""The verdict, in the caller: reads the events of the checker (:mod:`ipclab.coding.driver`)
and the safe runner's report, and picks the most useful diagnosis.

Only the checker writes events, on a pipe the learner's processes never hold; the learner's
process contributes one *claim* (how its function ended, and the value it returned), which
the checker passes on as such.
"""

from __future__ import annotations

import errno as _errno
import signal

from .judges import FIRST, judge_pipeline
from .records import Exercise
from .values import unpack


class Verdict:
    """Reads a run's events and report; :meth:`feedback` picks the diagnosis."""

    def __init__(self, ex: Exercise, report):
        self.ex = ex
        self.report = report
        self.events: list = [e for e in report.events if isinstance(e, tuple) and e]
        #: What the learner's code printed.
        self.output = report.stdout
        first = self._first("checker")
        #: The checker's own process (it holds the case's ends too, and waits on them).
        self.checker = first[1] if first else None
        self.helpers = {pid for e in self.events if e[0] == "helpers" for pid in e[2]}
        if self.checker is not None:
            self.helpers.add(self.checker)
        processes = [e for e in self.events if e[0] == "case-process"]
        #: The learner's process of the case the run ended in ("your parent" in feedback).
        self.learner = processes[-1][2] if processes else None
        starts = [e for e in self.events if e[0] == "start"]
        self.case = ex.cases[starts[-1][1]] if starts else None
        #: The arguments of that case as the cell saw them (ints and strs; others None).
        self.args = starts[-1][2] if starts and len(starts[-1]) > 2 else ()
        #: How the case the run ended in is named in feedback.
        self.label = self.case.label if self.case is not None else ""
        left = self._first("left")
        self.left_children = tuple(left[2]) if left else ()
        self.left_fds = tuple(left[3]) if left else ()
        #: Processes that were waiting when the run was cut short, the checker's left out,
        #: each with the ends it waited on named as the learner sees them.
        self.blocked = tuple(self._renamed(b) for b in report.blocked if b.pid != self.checker)

    def _pid_of(self, who: str) -> int | None:
        """The pid in a safe-cell name: ``"child 1234"``, or the checker for the cell's own
        process (the safe cell runs the checker as the cell)."""
        if who.startswith("child "):
            return int(who.split()[-1])
        return self.checker

    def _renamed(self, b):
        """``b`` with the learner's process as ``"your cell's process"`` and the checker's
        own copies of the case's ends left out of ``other_ends`` (the learner's process holds
        the same ones: it was forked with them)."""
        who = "your cell's process" if b.pid == self.learner else f"child {b.pid}"
        ends = tuple(
            ("your cell's process" if self._pid_of(w) == self.learner else w, fd)
            for w, fd in b.other_ends
            if self._pid_of(w) != self.checker
        )
        return b._replace(who=who, other_ends=ends)

    def _first(self, kind: str):
        return next((e for e in self.events if e[0] == kind), None)

    def feedback(self) -> str | None:
        for diagnose in (
            self._did_not_start,
            self._crashed,
            self._hung,
            self._child_raised,
            self._ran_past,
            self._raised,
            self._vanished,
            self._root_causes,
            self._children,
            self._results,
            self._no_child,
            self._unread,
            self._open_fds,
            self._tidy,
            self._removed,
            self._incomplete,
        ):
            text = diagnose()
            if text:
                return text
        return None

    # each diagnosis returns feedback or None, most useful first
    def _did_not_start(self):
        load = self._first("load-error")
        if self.case is not None and load is None:
            return None
        error = ((load[2] if load else "") or self.report.error or "").strip().splitlines()
        last = error[-1] if error else f"it ended as {self.report.ended!r}"
        if last.startswith("NameError"):
            return (
                f"your code did not get to run: {last} — is it defined in another cell "
                f"that ran normally? Import it, or define it, in the cell of your "
                f"function (or a %%ipclab cell)"
            )
        return f"your code did not get to run: {last}"

    def _crashed(self):
        e = self._first("crashed")
        if e is None:
            return None
        status = e[2]
        if status == -signal.SIGPIPE:
            return (
                "your process was killed by SIGPIPE (exit status −13) when it wrote to a "
                "pipe whose reader was gone: with SIGPIPE's default action the kernel "
                "ends the writer before write() can return an error — how can a process "
                "ask for the error instead?"
            )
        from ..process import signal_name

        return (
            f"your function's process was killed by {signal_name(-status)} (exit status "
            f"{status}) {self.label}: who sent it that signal?"
        )

    def _who(self, who: str) -> str:
        if who == "your cell's process":
            return "your parent"
        pid = int(who.split()[-1]) if who.startswith("child ") else None
        return "the checker's own helper" if pid in self.helpers else who

    def _holders(self, ends) -> str:
        return "; ".join(f"{self._who(w)} (fd {fd})" for w, fd in ends)

    def _hung(self):
        if self.report.ended not in ("deadline", "stopped"):
            return None
        prefix = f"{self.label}: your function did not finish in time: "
        blocked = {b.pid: b for b in self.blocked if b.pid not in self.helpers}
        parent = next((b for b in blocked.values() if b.who == "your cell's process"), None)
        # a child blocked on a pipe whose other end the parent holds comes first: the parent
        # is the one that should read (or close)
        kids = sorted(
            (b for b in blocked.values() if b is not parent),
            key=lambda b: not any(w == "your cell's process" for w, _ in b.other_ends),
        )
        for b in ([parent] if parent else []) + kids:
            text = self.ex.on_block.get(("parent" if b is parent else "child", b.syscall))
            if callable(text):
                text = text(b, self.args, self.blocked, self.helpers)
            elif text:
                text = text.format(pid=b.pid, fd=b.fd)
            if text:
                return prefix + text
        if parent is None:
            if kids:
                return prefix + self._child_block(kids[0])
            return prefix + (
                "it was still running, not waiting in any system call: a loop "
                "that never ends? (at end of file read() returns b'' at once, "
                "again and again)"
            )
        if parent.syscall in ("read", "readv") and parent.fd_kind in ("pipe", "fifo"):
            stuck = [
                blocked[pid]
                for pid in self._holder_pids(parent.other_ends)
                if pid in blocked and blocked[pid].syscall in ("read", "readv")
            ]
            if stuck:  # the holder waits itself: that is where the chain starts
                return prefix + self._child_block(stuck[0])
            kids_holding = [
                w
                for w, _ in parent.other_ends
                if w.startswith("child ") and int(w.split()[-1]) not in self.helpers
            ]
            if kids_holding:
                return prefix + (
                    f"your parent's read() never returned: after fork() "
                    f"{kids_holding[0]} still holds a copy of the write end "
                    f"({self._holders(parent.other_ends)}), and read() returns "
                    f"end of file only once every copy is closed — who has to "
                    f"close it?"
                )
            if parent.other_ends:
                return prefix + (
                    f"your parent's read() never returned: the write end of "
                    f"that pipe was still open in {self._holders(parent.other_ends)}"
                    f" — read() returns end of file only once every copy of the "
                    f"write end is closed, the reader's own copy too"
                )
        if parent.syscall in ("write", "writev") and parent.fd_kind in ("pipe", "fifo"):
            return prefix + (
                f"your parent's write() blocked on a full {parent.fd_kind}: "
                f"nobody was reading it (its read end was open in "
                f"{self._holders(parent.other_ends) or 'nobody'}) — who reads "
                f"while the parent writes?"
            )
        if parent.syscall in ("waitpid", "waitid"):
            if kids:
                return prefix + "your parent waited in waitpid(), but " + self._child_block(kids[0])
            return prefix + (
                "your parent waited in waitpid() for a child that never ended: "
                "what was that child doing?"
            )
        if parent.syscall == "open":
            return prefix + (
                "your parent's open() never returned: opening a FIFO waits "
                "until another process opens its other end — was anyone "
                "going to?"
            )
        if parent.syscall in ("recvfrom", "recvmsg", "read") and parent.fd_kind == "socket":
            return prefix + (
                "your parent's recv() never returned: nothing more was coming "
                "on that socket — was everything it waited for ever sent?"
            )
        if parent.syscall == "accept":
            return prefix + (
                "your parent waited in accept() for a connection that never "
                "came: who accepts, and how many times?"
            )
        where = f"{parent.syscall}()" + (f" on fd {parent.fd}" if parent.fd is not None else "")
        return prefix + f"your parent was waiting in {where} when it was stopped"

    @staticmethod
    def _holder_pids(ends) -> list:
        return [int(w.split()[-1]) for w, _ in ends if w.startswith("child ")]

    def _child_block(self, b) -> str:
        who = f"child {b.pid}"
        if b.syscall in ("read", "readv") and b.fd_kind in ("pipe", "fifo"):
            mine = [fd for w, fd in b.other_ends if w == who]
            if mine:
                return (
                    f"{who}'s read() never returned: {who} itself still holds the write "
                    f"end of that pipe (fd {mine[0]}) — a process that reads until end of "
                    f"file must first close its own copy of the write end"
                )
            return (
                f"{who}'s read() never returned: the write end was still open in "
                f"{self._holders(b.other_ends)} — the child reads until end of file: "
                f"when does that copy get closed?"
            )
        if b.syscall in ("write", "writev") and b.fd_kind in ("pipe", "fifo"):
            return (
                f"{who} was blocked writing into a full pipe that nobody read (its read "
                f"end open in {self._holders(b.other_ends) or 'nobody'}) — who was going "
                f"to read it, and when?"
            )
        if b.syscall == "accept":
            return f"{who} was still waiting in accept() for a client that never came"
        if b.syscall in ("recvfrom", "recvmsg", "read") and b.fd_kind == "socket":
            return (
                f"{who}'s recv() never returned: a stream socket gives end of file only "
                f"once every copy of its other end is closed — {who} may hold one itself; "
                f"which copies were still open?"
            )
        if b.syscall == "open":
            return (
                f"{who}'s open() of the FIFO never returned: opening one end waits until "
                f"another process opens the other"
            )
        return f"{who} was waiting in {b.syscall}()"

    def _exception_words(self, name: str, text: str, line: str, err) -> str:
        at = f" in `{line}`" if line else ""
        said = f"{name}: {text}" if text else name
        if err == _errno.EBADF:
            return (
                f"{said}{at}: that descriptor was already closed, or is not the end that "
                f"call needs — a pipe's fds[0] only reads and fds[1] only writes"
            )
        if name == "BlockingIOError":
            return (
                f"{said}{at}: EAGAIN means 'not now' — the pipe was empty (or full); "
                f"that case is yours to handle"
            )
        if name == "ChildProcessError":
            return (
                f"{said}{at}: there was no such child left to wait for — was it already "
                f"waited for, or not a child of this process?"
            )
        if name == "FileExistsError":
            return f"{said}{at}: the name was already taken — made twice?"
        return f"{said}{at}"

    def _child_raised(self):
        e = self._first("child-raised")
        if e is None:
            return None
        _, i, pid, name, text, line, err = e
        if name == "BrokenPipeError" and (self._first("raised") or self._results()):
            return None  # the parent closed its end (or stopped reading): that comes first
        words = self._exception_words(name, text, line, err)
        hint = (
            " — and the child then ran on into the caller's code: a child must end "
            "even when something fails in it; how?"
        )
        if name == "SystemExit":
            return (
                f"{self.ex.cases[i].label}: a child (pid {pid}) called sys.exit(): that "
                f"raises an exception, which carried the child on into the caller's code "
                f"as a second copy of the parent — which call ends a process at once?"
            )
        if name == "ChildProcessError":
            return (
                f"{self.ex.cases[i].label}: a child (pid {pid}) tried to wait for "
                f"children it does not have, in `{line}`: it ran on into the parent's part "
                f"of the code — where does a child's work end?"
            )
        if name in ("FileNotFoundError", "PermissionError") and "exec" in line:
            hint = (
                ": a failed exec raises in the child, which then ran on into the rest of "
                "the program — what must the child do then?"
            )
        return f"{self.ex.cases[i].label}: a child (pid {pid}) raised {words}{hint}"

    def _ran_past(self):
        e = self._first("ran-past")
        if e is None and "ran past the end of your code" not in self.report.stderr:
            return None
        label = self.ex.cases[e[1]].label if e else self.label
        return (
            f"{label}: a child returned from your function and ran on into the caller's "
            f"code, as a second copy of the parent: where the child's work ends, the "
            f"child must end too — with which call (return and sys.exit both go back to "
            f"the caller)?"
        )

    def _raised(self):
        e = self._first("raised")
        if e is None:
            return None
        _, i, name, text, line, err = e
        special = self.ex.on_raise.get(name)
        if special:
            return f"{self.ex.cases[i].label}: {special}"
        words = self._exception_words(name, text, line, err)
        if name == "TypeError" and "argument" in text:
            words += f" — the checker calls it as `{self.ex.signature[4:-1]}`"
        return f"{self.ex.cases[i].label}: your function raised {words}"

    def _vanished(self):
        if self._first("vanished") is None:
            return None
        return (
            f"{self.label}: your function never returned: the process that ran it "
            f"ended, or became another program — exec replaces the process that calls "
            f"it, and os._exit ends it; which process should do that?"
        )

    def _children(self):
        left = [c for c in self.left_children if c.pid not in self.helpers]
        if not left:
            return None
        zombies = [c for c in left if c.how == "zombie"]
        if zombies:
            c = zombies[0]
            more = f" (and {len(zombies) - 1} more)" if len(zombies) > 1 else ""
            return (
                f"{self.label}: child {c.pid}{more} ended but nobody waited for it: "
                f"it stayed a zombie — what collects a child's exit status?"
            )
        c = left[0]
        doing = next((b for b in self.blocked if b.pid == c.pid), None)
        what = f", blocked: {self._child_block(doing)}" if doing else ""
        return (
            f"{self.label}: child {c.pid} was still running when your function "
            f"returned{what} — a parent waits for its children"
        )

    def _root_causes(self):
        text = self._results(raw=True)
        return text[len(FIRST) :] if text and text.startswith(FIRST) else None

    def _results(self, raw: bool = False):
        for e in self.events:
            if e[0] != "returned":
                continue
            _, i, got, observed = e
            case = self.ex.cases[i]
            if self.ex.judge is judge_pipeline:
                text = judge_pipeline(case, unpack(got), observed, self.output)
            else:
                text = self.ex.judge(case, unpack(got), observed)
            if text:
                return text if raw else text.removeprefix(FIRST)
        return None

    def _no_child(self):
        if not self.ex.waits:
            return None
        for e in self.events:
            if e[0] == "returned" and e[3].get("waited") is False:
                return (
                    f"{self.ex.cases[e[1]].label}: you returned the right value, but no child "
                    f"of your function's process ended and was waited for: the value did not "
                    f"come from a child's work. Which child does the work, and where does "
                    f"the parent wait for it?"
                )
        return None

    def _unread(self):
        for e in self.events:
            if e[0] != "returned":
                continue
            label = self.ex.cases[e[1]].label
            n, unit = e[3].get("unread", (0, "bytes"))
            if n > 0:
                what = f"{n:,} {unit[:-1] if n == 1 else unit}"
                were = "was" if n == 1 else "were"
                return (
                    f"{label}: you returned the right value, but {what} {were} still waiting "
                    f"to be read when your function returned: the value did not come from "
                    f"what your function received. Where does it read them?"
                )
            if e[3].get("took_next"):
                return (
                    f"{label}: you returned the right bytes, but the next message's bytes "
                    f"were gone from the socket: your function received past the end of this "
                    f"message and threw the rest away — how many may the last recv() take?"
                )
        return None

    def _open_fds(self):
        fds = self.left_fds
        if not fds:
            return None
        from ..safecell import describe_fd

        ends = ", ".join(describe_fd(f) for f in fds)
        return (
            f"{self.label}: {ends} {'was' if len(fds) == 1 else 'were'} still open "
            f"when your function returned: a function closes every descriptor it opens "
            f"(in each process) — which one did you not need any more?"
        )

    def _tidy(self):
        if self.ex.tidy is None:
            return None
        for e in self.events:
            if e[0] == "returned":
                text = self.ex.tidy(self.ex.cases[e[1]], e[3])
                if text:
                    return text
        return None

    def _incomplete(self):
        if self._first("done") is not None:
            return None
        return (
            f"{self.label} your function did not get through "
            f"every case (the run ended as {self.report.ended!r}): "
            f"{(self.report.error or '').strip()[-200:]}"
        ).strip()

    def _removed(self):
        if not self.report.removed:
            return None
        return (
            f"{self.report.removed[0]} was left behind when your function returned: "
            f"remove what you create"
        )
