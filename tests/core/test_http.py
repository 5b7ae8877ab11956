"""Tests for anyio_ws.core.http."""

from __future__ import annotations

import pytest

from anyio_ws.core.http import Headers, MultipleValuesError, Request, Response


def test_getitem_is_case_insensitive() -> None:
    """Header names match whatever their case."""
    headers = Headers({"Sec-WebSocket-Key": "abc"})
    assert headers["sec-websocket-key"] == "abc"
    assert "SEC-WEBSOCKET-KEY" in headers


def test_getitem_missing_raises_key_error() -> None:
    """A missing header raises KeyError naming the header."""
    with pytest.raises(KeyError) as exc_info:
        Headers()["Upgrade"]
    assert exc_info.value.args == ("Upgrade",)


def test_getitem_repeated_raises() -> None:
    """A repeated header raises MultipleValuesError rather than picking one."""
    headers = Headers([("Key", "a"), ("key", "b")])
    with pytest.raises(MultipleValuesError) as exc_info:
        headers["Key"]
    assert exc_info.value.args == ("Key",)


def test_setitem_appends() -> None:
    """Setting a header adds a value; it never replaces one."""
    headers = Headers()
    headers["A"] = "1"
    headers["a"] = "2"
    assert headers.get_all("A") == ["1", "2"]


def test_get_all_missing() -> None:
    """get_all is empty for a missing header."""
    assert Headers().get_all("A") == []


def test_get() -> None:
    """get returns the value or the default."""
    headers = Headers({"A": "1"})
    assert headers.get("a") == "1"
    assert headers.get("b") is None
    assert headers.get("b", "x") == "x"


def test_delitem() -> None:
    """Deleting a header removes every value of it, whatever the case."""
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del headers["A"]
    assert "a" not in headers
    assert list(headers.raw_items()) == [("B", "2")]


def test_delitem_missing_raises_key_error() -> None:
    """Deleting a missing header raises KeyError naming the header, and keeps the rest."""
    headers = Headers({"B": "2"})
    with pytest.raises(KeyError) as exc_info:
        del headers["A"]
    assert exc_info.value.args == ("A",)
    assert list(headers.raw_items()) == [("B", "2")]


@pytest.mark.parametrize("name", [1, None, b"A"])
def test_contains_non_str_is_false(name: object) -> None:
    """Only a str can name a header: anything else is never in the headers."""
    assert name not in Headers({"A": "1", "1": "x", "None": "y"})


def test_construct_from_mapping_pairs_and_headers() -> None:
    """Headers accepts a mapping, (name, value) pairs, or other Headers."""
    from_pairs = Headers([("A", "1"), ("B", "2")])
    assert Headers({"A": "1", "B": "2"}) == from_pairs
    assert Headers(from_pairs) == from_pairs
    assert from_pairs.copy() == from_pairs


def test_raw_items_keeps_order_and_case() -> None:
    """raw_items gives the pairs in the order added, names as written."""
    headers = Headers([("Upgrade", "websocket"), ("connection", "Upgrade")])
    assert list(headers.raw_items()) == [("Upgrade", "websocket"), ("connection", "Upgrade")]


def test_iter_and_len_count_names() -> None:
    """Iteration and len() count distinct names, lowercased."""
    headers = Headers([("A", "1"), ("a", "2"), ("B", "3")])
    assert list(headers) == ["a", "b"]
    assert len(headers) == 2


def test_equality() -> None:
    """Headers compare by values, names case-insensitively; not equal to other types."""
    assert Headers({"A": "1"}) == Headers({"a": "1"})
    assert Headers({"A": "1"}) != Headers({"A": "2"})
    assert Headers() != {}


def test_str() -> None:
    """str() gives the header block of an HTTP message."""
    headers = Headers([("A", "1"), ("B", "2")])
    assert str(headers) == "A: 1\r\nB: 2\r\n\r\n"


def test_repr() -> None:
    """repr() shows the pairs."""
    assert repr(Headers({"A": "1"})) == "Headers([('A', '1')])"


def test_request_and_response_defaults() -> None:
    """Request and Response default to empty headers and body."""
    assert Request("/").headers == Headers()
    response = Response(101, "Switching Protocols")
    assert response.headers == Headers()
    assert response.body == b""
