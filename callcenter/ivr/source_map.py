"""Line numbers for TOML tables and keys, because tomllib reports none for valid files.

Script errors must point an operator at FILE:LINE.  tomllib gives positions
only for syntax errors, so the loader asks this map where ``[nodes.X]`` or a
key inside it was written.  It understands the plain forms scripts use
(``[a.b]`` headers, ``key =`` and ``"quoted key" =`` lines); anything fancier
falls back to the nearest table header, or line 1.
"""
from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_\-]+))\s*=""")


def _header_path(inner: str) -> tuple[str, ...]:
    parts = re.findall(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_\-]+))\s*(?:\.|$)""", inner)
    return tuple(a or b or c for a, b, c in parts)


class SourceMap:
    def __init__(self, text: str):
        self._lines = text.splitlines()
        self._headers: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(self._lines, start=1):
            match = _HEADER.match(line)
            if match and not line.lstrip().startswith("[["):
                self._headers.setdefault(_header_path(match.group(1)), number)

    def table_line(self, *path: str) -> int:
        """The line of ``[path]``, else of its closest enclosing table, else 1."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._headers:
                return self._headers[path[:end]]
        return 1

    def key_line(self, table: tuple[str, ...], key: str) -> int:
        """The line where ``key`` is assigned inside ``[table]``; the table's line if not found."""
        start = self._headers.get(table, 0) if table else 0
        for number in range(start + 1, len(self._lines) + 1):
            line = self._lines[number - 1]
            if _HEADER.match(line):     # the next table ends this one
                break
            match = _KEY.match(line)
            if match and (match.group(1) or match.group(2) or match.group(3)) == key:
                return number
        return self.table_line(*table) if table else 1
