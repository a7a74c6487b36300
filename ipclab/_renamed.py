"""Old public names that still work, with a DeprecationWarning, until :data:`REMOVED_IN`.

The one way ipclab renames a result's field or a function's keyword argument: the new name is
the real one (in signatures, ``_fields``, ``_asdict()`` and JSON); the old one only forwards.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TypeVar

__all__ = ["REMOVED_IN", "renamed_args", "renamed_fields", "renamed_globals"]

#: The version whose release drops the old names.
REMOVED_IN = "0.3"

_T = TypeVar("_T", bound=type)
_F = TypeVar("_F", bound=Callable)


def _warn(owner: str, old: str, new: str) -> None:
    warnings.warn(
        f"{owner}: {old} is now {new} (the old name goes in ipclab {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=3,
    )


def renamed_fields(**new_by_old: str) -> Callable[[_T], _T]:
    """Class decorator: reading attribute ``old`` reads ``new_by_old[old]``, with a warning."""

    def decorate(cls: _T) -> _T:
        for old, new in new_by_old.items():
            if not hasattr(cls, new) and new not in getattr(cls, "__annotations__", {}):
                raise TypeError(f"{cls.__name__} has no attribute {new!r} to rename {old!r} to")

            def read(self, old: str = old, new: str = new):
                _warn(type(self).__name__, old, new)
                return getattr(self, new)

            doc = f"Deprecated name of ``{new}`` (until {REMOVED_IN})."
            setattr(cls, old, property(read, doc=doc))
        return cls

    return decorate


def renamed_args(**new_by_old: str) -> Callable[[_F], _F]:
    """Function decorator: keyword argument ``old`` is passed on as ``new_by_old[old]``, with a
    warning; giving both is a TypeError that names them."""

    def decorate(func: _F) -> _F:
        name = func.__qualname__.removesuffix(".__init__")  # LivePlot(), not LivePlot.__init__()

        @functools.wraps(func)
        def forward(*args, **kwargs):
            for old, new in new_by_old.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{name}() got {old}= and {new}=: give {new}= only")
                    _warn(f"{name}()", f"{old}=", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return forward  # type: ignore[return-value]

    return decorate


def renamed_globals(module: str, namespace: dict, **new_by_old: str) -> Callable[[str], object]:
    """A module ``__getattr__``: reading ``module.old`` reads ``namespace[new_by_old[old]]``,
    with a warning; any other missing name is the usual AttributeError."""

    def read(name: str) -> object:
        if name in new_by_old:
            _warn(module, name, new_by_old[name])
            return namespace[new_by_old[name]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return read
