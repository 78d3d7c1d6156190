"""A callback answer's recording, streamed to supervisors with Range support, each listen audited.

The file to send comes only from the answer's database row, and must resolve
(symlinks followed) to a file inside ``settings.recordings``: a row pointing
elsewhere, or a ``..`` in it, is answered 404 and logged, never served.  A
browser fetches one listen as several Range requests, so a listen is audited
when playback starts at byte 0, not once per chunk.
"""
from __future__ import annotations

import logging

from aiohttp import web

from ...db import review_queries as queries
from ...db.ticket_queries import record_audit
from ..core import keys
from ..core.access import MANAGERS, current_user, require_role
from ..core.path_params import path_id, path_uuid
from ..core.recording_files import audio_response, contained_file, starts_a_listen

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


@routes.get("/calls/{attempt_id:[^/]+}/recordings/{answer_id:[^/]+}", name="recording")
@require_role(*MANAGERS)
async def recording(request: web.Request) -> web.StreamResponse:
    attempt_id = path_uuid(request, "attempt_id", missing="录音不存在")
    answer_id = path_id(request, "answer_id", missing="录音不存在")
    user = current_user(request)
    root = request.app[keys.SETTINGS].recordings
    async with request.app[keys.DB].pool.acquire() as conn:
        stored = await queries.recording_path(conn, attempt_id, answer_id)
        path = contained_file(root, stored) if stored else None
        if stored and path is None:
            log.warning("recording of answer %s (attempt %s) is missing or outside %s: %r",
                        answer_id, attempt_id, root, stored)
        if path is None:
            raise web.HTTPNotFound(text="录音不存在或已被清理")
        if starts_a_listen(request.headers.get("Range")):
            await record_audit(conn, user.username, "recording.listen", object_type="callback_attempt",
                               object_id=str(attempt_id), detail={"answer_id": answer_id, "ip": request.remote or ""})
    return audio_response(path)
