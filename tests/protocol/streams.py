# What this module does: a helper the protocol property tests share: cut a byte stream into the
# chunks a server's packets might arrive in.
from __future__ import annotations


def cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    """``stream`` in chunks of the given sizes, the rest as a last chunk; empty ones dropped."""
    chunks = []
    for size in sizes:
        chunks.append(stream[:size])
        stream = stream[size:]
    return [chunk for chunk in [*chunks, stream] if chunk]
