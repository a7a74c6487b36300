"""The small helpers that several modules share (issue 14: one way to do each thing)."""

import pytest

from ipclab import _format
from ipclab._check import _describe_bytes, check_items


def test_binary_size_names_whole_units_only():
    assert _format.binary_size(4096) == "4 KiB"
    assert _format.binary_size(3 << 20) == "3 MiB"
    assert _format.binary_size(4097) is None
    assert _format.binary_size(0) is None
    assert _describe_bytes(1 << 30) == "1073741824 (1 GiB)"
    assert _describe_bytes(100) == "100"


def test_jsonable_decodes_bytes_as_asked():
    assert _format.jsonable({"b": b"\xff"}) == {"b": "\xff"}  # latin-1: lossless
    assert _format.jsonable([bytearray(b"ok\xff")], "utf-8") == ["ok\ufffd"]
    assert _format.jsonable(float("nan"), "utf-8") is None


def test_check_items_names_the_bad_item():
    assert check_items("m", [b"a"], bytes, 2, "bytes", "items", "bytes") == (b"a",)
    with pytest.raises(TypeError, match=r"m must be a list of bytes"):
        check_items("m", b"a", bytes, 2, "bytes", "items", "bytes")
    with pytest.raises(ValueError, match=r"m must hold 1 to 2 items, got 3"):
        check_items("m", [b"a"] * 3, bytes, 2, "bytes", "items", "bytes")
    with pytest.raises(TypeError, match=r"m\[1\] must be bytes, got 'x' \(str\)"):
        check_items("m", [b"a", "x"], bytes, 2, "bytes", "items", "bytes")
