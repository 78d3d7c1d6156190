"""Web security knobs, with the defaults the brief asks for (5 failures in 15 min → 15 min lock).

Settings may carry ``web_*`` fields of the same names (without the prefix) and
they win; until config.py grows them, these defaults apply, and tests pass a
WebConfig through ``create_app(extras={"web_config": ...})``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import timedelta

from ...config import Settings


@dataclass(frozen=True)
class WebConfig:
    cookie_secure: bool = False          # True behind HTTPS; the default serves plain HTTP on 127.0.0.1
    trust_forwarded_proto: bool = False  # a TLS proxy you run sets X-Forwarded-Proto: https → Secure cookies
    idle_minutes: int = 30               # a session unused this long is dead
    session_hours: int = 12              # absolute limit: one working day
    lockout_failures: int = 5            # per username …
    lockout_window_minutes: int = 15     # … within this window …
    lockout_minutes: int = 15            # … locks it for this long
    ip_lockout_failures: int = 20        # per client address (an office shares one NAT address)
    page_size: int = 50
    export_max_rows: int = 200_000       # beyond this, narrow the filter (one file, one request)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def lockout_window(self) -> timedelta:
        return timedelta(minutes=self.lockout_window_minutes)

    @property
    def lockout_duration(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


def web_config_from(settings: Settings) -> WebConfig:
    """Defaults overridden by any ``Settings.web_<name>`` attribute that exists."""
    overrides = {f.name: getattr(settings, f"web_{f.name}") for f in fields(WebConfig)
                 if getattr(settings, f"web_{f.name}", None) is not None}
    return replace(WebConfig(), **overrides)
