"""``callcenter sim``: run the Asterisk simulator (AMI server + scripted citizens) for demos and load tests."""
from __future__ import annotations

import argparse
import logging
import sys
from urllib.parse import urlparse

from .common import CliError, ExitCode, async_handler
from .serve import wait_for_stop_signal

ORDER = 60
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim", help="run the Asterisk simulator (AMI + scripted citizens) until stopped",
        description="A protocol-faithful stand-in for Asterisk 22: an AMI server that answers Originate like the "
                    "real PBX and hands answered calls to our FastAGI server as scripted citizens. Never for "
                    "production. SIGTERM or Ctrl-C stops it.")
    p.add_argument("--ami-host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--ami-port", type=int, default=5038, help="AMI port, 0 = any free port (default: %(default)s)")
    p.add_argument("--agi", default="agi://127.0.0.1:4573/callback", metavar="URL",
                   help="our FastAGI server, where answered calls go (default: %(default)s)")
    p.add_argument("--ami-user", default="callcenter", help="AMI username (default: %(default)s)")
    p.add_argument("--ami-secret", default="callcenter", help="AMI secret (default: %(default)s)")
    p.add_argument("--seed", type=int, default=12345, help="seed for the citizens' random mix (default: %(default)s)")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                   help="multiply ring times and prompt durations, e.g. 0.01 for load tests (default: %(default)s)")
    p.add_argument("--noise", type=int, default=200, metavar="N",
                   help="extra dialplan VarSet events per call, as a real PBX emits (default: %(default)s)")
    p.set_defaults(handler=run_sim)


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.ami_port <= 65535:
        raise CliError(f"--ami-port must be 0–65535, got {args.ami_port}", ExitCode.USAGE)
    if not args.time_scale > 0:
        raise CliError(f"--time-scale must be positive, got {args.time_scale}", ExitCode.USAGE)
    if args.noise < 0:
        raise CliError(f"--noise must be 0 or more, got {args.noise}", ExitCode.USAGE)
    url = urlparse(args.agi)
    if url.scheme != "agi" or not url.hostname:
        raise CliError(f"--agi must look like agi://host:port/script, got {args.agi!r}", ExitCode.USAGE)


@async_handler
async def run_sim(args: argparse.Namespace) -> int:
    _check(args)
    from ..sim.citizens import CitizenBook
    from ..sim.simulator import SimConfig, Simulator

    config = SimConfig(host=args.ami_host, ami_port=args.ami_port, agi_url=args.agi, username=args.ami_user,
                       secret=args.ami_secret, time_scale=args.time_scale, noise_per_call=args.noise,
                       seed=args.seed, book=CitizenBook(seed=args.seed))
    simulator = Simulator(config)
    try:
        port = await simulator.start()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.ami_host}:{args.ami_port}: {exc.strerror or exc}") from exc
    print(f"callcenter sim: AMI listening on {args.ami_host}:{port}, answered calls go to {args.agi}",
          file=sys.stderr, flush=True)
    try:
        await wait_for_stop_signal()
    finally:
        await simulator.close()
        log.info("simulator stopped after %d Originate actions", len(simulator.ami.originates_received()))
    return int(ExitCode.OK)
