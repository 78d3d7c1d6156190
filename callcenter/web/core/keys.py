"""Typed keys for what the app and each request carry (aiohttp AppKey: no string typos)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from ...config import Settings
from ...db.database import Database
from .config import WebConfig

DB = web.AppKey("cc_db", Database)
SETTINGS = web.AppKey("cc_settings", Settings)
WEB_CONFIG = web.AppKey("cc_web_config", WebConfig)
NAV = web.AppKey("cc_nav", list)
# Components the service wires in later; each may be None ("not configured").
AMI = web.AppKey("cc_ami", object)
ASR = web.AppKey("cc_asr", object)
DIALER = web.AppKey("cc_dialer", object)
HOTLINE = web.AppKey("cc_hotline", object)      # callcenter.hotline.service.HotlineService
# Several web processes on one port (CALLCENTER_WEB_WORKERS): this one's index (0 holds the AMI link) and,
# in the others, where that one answers the pages that act on the PBX (web.core.forward).
WORKER = web.AppKey("cc_worker", object)            # int | None
TELEPHONY_URL = web.AppKey("cc_telephony_url", object)   # str | None
#: Extras by the name create_app(extras=...) accepts them under.
EXTRA_KEYS: dict[str, Any] = {"ami": AMI, "asr": ASR, "dialer": DIALER, "hotline": HOTLINE, "worker": WORKER,
                              "telephony_url": TELEPHONY_URL}

# Per-request values (set by the session middleware).  aiohttp >= 3.12 has typed
# request keys; older versions take the plain string.
_RequestKey = getattr(web, "RequestKey", None)
USER: Any = _RequestKey("cc_user", object) if _RequestKey else "cc_user"   # SessionUser | None
FLASH_PUSHED: Any = _RequestKey("cc_flash_pushed", bool) if _RequestKey else "cc_flash_pushed"   # flash() ran in this request
