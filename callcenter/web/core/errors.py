"""Friendly Chinese error pages; a traceback goes to the log, never to the browser."""
from __future__ import annotations

import json
import logging

import asyncpg
from aiohttp import web

from ...inputs import InputError
from .access import is_api
from .render import render

log = logging.getLogger(__name__)


def _readable_json(value) -> str:
    """Chinese messages as characters, not \\u escapes (still valid UTF-8 JSON)."""
    return json.dumps(value, ensure_ascii=False)


TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持的请求方式",
    413: "请求内容过大",
    429: "请求过于频繁",
    500: "系统内部错误",
}
DEFAULT_MESSAGES = {
    403: "您的账号没有访问此页面的权限。如需开通, 请联系管理员。",
    404: "您要找的页面或工单不存在, 可能已被删除或地址有误。",
    500: "处理请求时出错, 已记录日志。请稍后重试, 如反复出现请联系管理员。",
}


def _message(exc: web.HTTPException) -> str:
    # aiohttp fills text with "404: Not Found" when the raiser gave none: show ours then.
    default_text = f"{exc.status}: {exc.reason}"
    if exc.text and exc.text != default_text:
        return exc.text
    return DEFAULT_MESSAGES.get(exc.status, exc.reason)


async def error_response(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if is_api(request.path):
        return web.json_response({"error": TITLES.get(status, "error"), "message": message}, status=status,
                                 dumps=_readable_json)
    try:
        return await render("error.html", request, {"status": status, "title": TITLES.get(status, "出错了"),
                                                    "message": message}, status=status, with_flash=False)
    except Exception:  # the page itself failed (e.g. database down): plain text, still no traceback
        log.exception("rendering the error page failed")
        return web.Response(text=f"{status} {TITLES.get(status, '出错了')}: {message}", status=status,
                            content_type="text/plain")


def input_refusal(exc: BaseException) -> tuple[int, str] | None:
    """The answer for an input problem found only at the database or in date arithmetic (the safety net).

    Handlers check their fields first and name them; this catches what slips
    through, so a hostile value costs a 400/422, never a 500.
    """
    if isinstance(exc, InputError):
        return 400, str(exc)
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return 422, "引用的记录不存在 (可能已被删除), 请刷新后重试。"
    if isinstance(exc, asyncpg.ProgramLimitExceededError):
        return 400, "输入内容过长, 请缩短后重试。"
    if isinstance(exc, (asyncpg.DataError, OverflowError)):
        return 400, "输入的值无效或超出范围 (例如日期、数字或控制字符), 请检查后重试。"
    return None


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await error_response(request, exc.status, _message(exc))
        for morsel in exc.cookies.values():      # e.g. a cleared stale session cookie
            response.cookies[morsel.key] = morsel
        return response
    except ConnectionResetError:      # the browser left mid-answer (a closed stream): nothing to answer, no alarm
        log.debug("client went away during %s %s", request.method, request.path)
        raise
    except Exception as exc:
        refusal = input_refusal(exc)
        if refusal is not None:       # bad input a handler did not check: refused, not a 500, no traceback
            log.warning("refused input on %s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
            return await error_response(request, *refusal)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await error_response(request, 500, DEFAULT_MESSAGES[500])
