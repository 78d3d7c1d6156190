"""What a whole file can be refused for, apart from the modules that read it (the reader and the
CSV splitter both raise these, and the reader imports the splitter)."""
from __future__ import annotations


class FileRejected(ValueError):
    """The file as a whole cannot be read (format, encoding); nothing in it was imported."""


class UnsupportedFile(FileRejected):
    """Not a file type we read at all (a usage mistake rather than bad content)."""
