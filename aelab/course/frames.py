"""Messages across the sandbox's wall as length-prefixed JSON frames (standard library only).

The executor in the sandbox needs nothing more, so it starts without numpy and torch;
:mod:`aelab.course.wire` adds the typed values and re-exports these.
"""

from __future__ import annotations

import json
import socket
import struct

__all__ = ["WireError", "MAX_FRAME", "send", "recv"]

MAX_FRAME = 256 * 1024 * 1024  # bytes of one message


class WireError(ValueError):
    """A message or value that does not follow the protocol."""


def send(sock: socket.socket, message: dict) -> None:
    """Write one message: 8 bytes of length, then the JSON text."""
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise WireError(f"message of {len(data)} bytes is larger than {MAX_FRAME}")
    sock.sendall(struct.pack(">Q", len(data)) + data)


def _read(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, *, max_bytes: int = MAX_FRAME) -> dict:
    """Read one message (a JSON object); a frame longer than ``max_bytes`` is a :class:`WireError`."""
    (n,) = struct.unpack(">Q", _read(sock, 8))
    if n > max_bytes:
        raise WireError(f"message of {n} bytes is larger than {max_bytes}")
    try:
        message = json.loads(_read(sock, n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise WireError("a message must be a JSON object with an 'op'")
    return message
