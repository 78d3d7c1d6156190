"""``callcenter config check``: report every configuration mistake at once."""
from __future__ import annotations

import argparse
import os
from dataclasses import fields

from ..config import ENV_VARS, ConfigError, load_settings, unknown_env_vars
from .common import CliError, ExitCode

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check and show the effective settings",
                       description="Settings come from defaults, then the TOML file (--config or "
                                   "$CALLCENTER_CONFIG), then CALLCENTER_* environment variables.")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the settings; list every problem; exit 2 if any")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    unknown = unknown_env_vars(os.environ)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise CliError(str(ConfigError(exc.problems + unknown)), ExitCode.USAGE) from exc
    if unknown:
        raise CliError(str(ConfigError(unknown)), ExitCode.USAGE)
    env_for = {name: var for var, name in ENV_VARS.items()}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if "secret" in f.name:
            value = "******"
        if f.name == "dsn" and value is None:
            value = "(embedded PostgreSQL)"
        hint = f"  [${env_for[f.name]}]" if f.name in env_for else ""
        print(f"{f.name:16} = {value}{hint}")
    if settings.vosk_model is None:
        print("note: no vosk model configured — the service will run DTMF-only")
    elif not settings.vosk_model.is_dir():
        raise CliError(f"vosk_model {settings.vosk_model} is not a directory", ExitCode.USAGE)
    print("configuration OK")
    return 0
