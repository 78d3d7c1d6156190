"""Where a role lands after signing in (when no page was asked for).

Agents go to 坐席台, supervisors to the review queue while it has items and
to 首页 otherwise, admins to 首页.
"""
from __future__ import annotations

import asyncpg

from ...db import review_queries


async def landing_page(conn: asyncpg.Connection, role: str) -> str:
    if role == "agent":
        return "/console"
    if role == "supervisor" and await review_queries.review_queue_size(conn) > 0:
        return "/review"
    return "/"
