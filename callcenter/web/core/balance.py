"""Keep-alive connections spread evenly over the web processes that share a port.

Why: with SO_REUSEPORT the kernel hashes each new connection to one of the
processes and a keep-alive connection stays there, so fifty browsers split
e.g. 29/21 and stay split; the busier process's users then wait about 40 %
longer for every page (measured: bench/web.py prints the split).  Each process
publishes how many connections it holds on the shared port in a small table
every process maps (one 8-byte slot each, -1 until that process starts).  A
process holding more than its share (the live processes' total over their
number, rounded up) answers the request at hand with ``Connection: close``;
the client's next request opens a new connection, which the kernel hashes
afresh.  Browsers and HTTP clients reconnect transparently; websocket upgrades
are never closed, and a process holding :data:`FEW` connections or fewer keeps
them (no churn when there is nothing to balance).
"""
from __future__ import annotations

import math
import mmap
import struct
from pathlib import Path

from aiohttp import web

#: A process holding this many connections or fewer never closes one to rebalance.
FEW = 2
_SLOT = struct.Struct("=q")


class ConnectionTable:
    """The shared table: one signed count per web process in a file each of them maps."""

    def __init__(self, path: Path | str) -> None:
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), 0)
        self.slots = len(self._map) // _SLOT.size
        self._all = struct.Struct(f"={self.slots}q")

    @classmethod
    def create(cls, path: Path | str, slots: int) -> "ConnectionTable":
        """A fresh table for ``slots`` processes, none of them started yet."""
        Path(path).write_bytes(struct.pack(f"={slots}q", *[-1] * slots))
        return cls(path)

    def counts(self) -> tuple[int, ...]:
        return self._all.unpack_from(self._map)

    def publish(self, slot: int, count: int) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, count)

    def close(self) -> None:
        self._map.close()


def fair_share(counts: tuple[int, ...]) -> int:
    """The most connections a process may hold: the started processes' total over their number, rounded up.

    A process that died keeps its last count until its replacement starts at 0, so a dead one
    never makes the others shed connections the kernel could only hand back to them.
    """
    live = [c for c in counts if c >= 0]
    return math.ceil(sum(live) / len(live)) if live else 0


class Balancer:
    """One web process's side: counts its connections on the shared port, sheds one when over its share."""

    def __init__(self, table: ConnectionTable, slot: int) -> None:
        if not 0 <= slot < table.slots:
            raise ValueError(f"slot {slot} is outside the table's {table.slots}")
        self.table, self.slot = table, slot
        self.port: int | None = None        # the shared port, once listening (other sites are not counted)
        self.held: set = set()              # request handlers of our connections on it, not yet told to close
        self.shed = 0                       # connections closed to rebalance (for tests and logs)
        table.publish(slot, 0)

    def watch(self, server: web.Server) -> None:
        """Count connections as ``server`` opens and loses them (wraps its two connection callbacks)."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler, transport) -> None:
            made(handler, transport)
            try:
                sockname = transport.get_extra_info("sockname")
            except Exception:          # noqa: BLE001 - gone already: nothing to count, and never fail the connection
                return
            if self.port is not None and sockname and sockname[1] == self.port:
                self.held.add(handler)
                self._publish()

        def connection_lost(handler, exc=None) -> None:
            lost(handler, exc)
            if handler in self.held:
                self.held.discard(handler)
                self._publish()
        server.connection_made = connection_made
        server.connection_lost = connection_lost

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Close this response's connection if this process holds more than its share (see the module doc)."""
        handler = request.protocol
        if (handler not in self.held or isinstance(response, web.WebSocketResponse)
                or not request.keep_alive or response.keep_alive is False):
            return
        if len(self.held) > max(FEW, fair_share(self.table.counts())):
            response.force_close()
            self.held.discard(handler)      # no longer ours to count: another response must not shed it too
            self.shed += 1
            self._publish()

    def _publish(self) -> None:
        self.table.publish(self.slot, len(self.held))
