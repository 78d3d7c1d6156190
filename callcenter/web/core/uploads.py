"""Uploaded files, read the same way by every page that takes one: size, real type, a safe display name."""
from __future__ import annotations

from urllib.parse import unquote

from .labels import size_mb
from .limits import MAX_UPLOAD

#: Accepted evidence by its first bytes (what the file is, whatever it is called).
EVIDENCE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"%PDF-": "application/pdf"}


class UploadRejected(ValueError):
    pass


def sniff_upload(data: bytes, allowed: dict[bytes, str] = EVIDENCE_TYPES) -> str:
    """The upload's real content type, or :class:`UploadRejected` saying what is accepted."""
    if not data:
        raise UploadRejected("文件是空的")
    if len(data) > MAX_UPLOAD:
        raise UploadRejected(f"文件过大 ({size_mb(len(data))}), 最大 {size_mb(MAX_UPLOAD)}")
    for magic, kind in allowed.items():
        if data.startswith(magic):
            return kind
    raise UploadRejected("只接受 " + "/".join(sorted({k.split('/')[1].upper() for k in allowed.values()})) + " 文件")


def clean_filename(name: str) -> str:
    """A display name without path parts or control/bidi characters.

    Some clients send RFC 5987 ``filename*`` (percent-encoded UTF-8), which aiohttp hands over encoded.
    """
    name = unquote(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    return name.strip()[:200] or "附件"


async def read_upload(form, field: str) -> tuple[str, bytes] | None:
    item = form.get(field)
    if item is None or isinstance(item, str) or not getattr(item, "filename", ""):
        return None
    return clean_filename(item.filename), item.file.read(MAX_UPLOAD + 1)
