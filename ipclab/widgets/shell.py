"""The pipeline box's reading of what the learner typed: split at the pipes a POSIX shell
would, each stage into words; every other shell operator refused by name.
"""

from __future__ import annotations

import shlex

#: Shell operators the pipeline box does not build; unquoted, they are refused by name.
_UNSUPPORTED_OPERATORS = {
    "<": "input redirection",
    ">": "output redirection",
    "&": "background job (or &&)",
    ";": "command separator",
    "`": "command substitution",
    "(": "subshell",
    ")": "subshell",
}


def parse_pipeline(text: str) -> list:
    """``"echo 'a | b' | wc -c"`` → ``[["echo", "a | b"], ["wc", "-c"]]``: split at the
    unquoted ``|``, then each stage into words as a POSIX shell would (quotes, backslashes).
    Raises ValueError naming what is wrong: an empty stage, an unclosed quote, an operator
    other than ``|``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a pipeline such as: ls / | wc -l")
    parts = _split_at_pipes(text)
    stages = []
    for number, part in enumerate(parts, 1):
        words = shlex.split(part)  # quotes are balanced: _split_at_pipes checked
        if not words:
            where = (
                "before the first |"
                if number == 1
                else "after the last |"
                if number == len(parts)
                else f"between | number {number - 1} and {number}"
            )
            raise ValueError(
                f"nothing {where} in {text!r}: every part between | must name a program"
            )
        stages.append(words)
    return stages


def _split_at_pipes(text: str) -> list:
    """The stages of ``text``, split at each ``|`` outside quotes and not escaped."""
    parts, start, quote, opened_at, i = [], 0, None, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'":
            if i + 1 == len(text):
                raise ValueError(f"{text!r} ends with a backslash that escapes nothing")
            i += 2  # the next character is literal (inside "..." too, for our purpose)
            continue
        if quote is not None:
            if ch == quote:
                quote = None
            elif quote == '"' and (ch == "`" or text.startswith("$(", i)):
                _refuse(
                    text,
                    i,
                    text[i : i + 2] if ch == "$" else ch,
                    "command substitution (even inside \"...\"; use '...')",
                )
        elif ch in "'\"":
            quote, opened_at = ch, i
        elif text.startswith("||", i):
            _refuse(text, i, "||", "'or' (run the second if the first fails)")
        elif ch == "|":
            parts.append(text[start:i])
            start = i + 1
        elif ch in _UNSUPPORTED_OPERATORS or text.startswith("$(", i):
            token = "$(" if text.startswith("$(", i) else ch
            _refuse(text, i, token, _UNSUPPORTED_OPERATORS.get(token, "command substitution"))
        i += 1
    if quote is not None:
        raise ValueError(
            f"the {quote} at character {opened_at + 1} of {text!r} is never "
            f"closed: close it, or put a backslash before it"
        )
    parts.append(text[start:])
    return parts


def _refuse(text: str, i: int, token: str, what: str):
    """Raise the ValueError for the shell operator ``token`` at ``text[i]``."""
    raise ValueError(
        f"{token!r} at character {i + 1} of {text!r} is a shell's {what}; this "
        f"box builds pipes only (|) — quote it to pass it to the program as an "
        f"argument"
    )
