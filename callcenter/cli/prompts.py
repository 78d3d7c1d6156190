"""``callcenter prompts generate``: the Mandarin prompt audio Asterisk plays, reproducibly from text.

Every sound an IVR script names ([sounds] of ivr_scripts/*.toml) and every
prompt the dialplan plays itself (docker/asterisk/prompts.toml) is
synthesised with espeak-ng into 8 kHz mono WAV, laid out as Asterisk looks
them up (``<sounds dir>/callback/ask-solved.wav``).  The files are stand-ins
until the office records real ones with the same text; existing files are
kept unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
import shutil
import tomllib
from pathlib import Path

from .common import CliError, ExitCode, async_handler

ORDER = 70
DOCKER_PROMPTS = Path(__file__).resolve().parents[2] / "docker" / "asterisk" / "prompts.toml"
DEFAULT_OUT = DOCKER_PROMPTS.parent / "sounds"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prompts", help="generate the Mandarin prompt audio (espeak-ng) for Asterisk")
    actions = p.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    g = actions.add_parser("generate", help="synthesise every prompt of the IVR scripts and the dialplan",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"sounds directory (default {DEFAULT_OUT})")
    g.add_argument("--extra", type=Path, default=DOCKER_PROMPTS,
                   help="TOML with a [sounds] table of dialplan prompts (default docker/asterisk/prompts.toml)")
    g.add_argument("--overwrite", action="store_true", help="replace files that exist (e.g. after a text change)")
    g.set_defaults(handler=run_generate)


def all_sounds(extra: Path | None) -> dict[str, str]:
    """Sound name → text, from every IVR script and the dialplan's own list; a name must not say two things."""
    from ..ivr.loader import ScriptLibrary
    sounds: dict[str, str] = {}
    sources: list[tuple[str, dict[str, str]]] = [
        (f"ivr_scripts/{name}.toml", dict(script.sounds)) for name, script in ScriptLibrary.from_directory().scripts.items()]
    if extra is not None:
        try:
            sources.append((str(extra), dict(tomllib.loads(extra.read_text(encoding="utf-8")).get("sounds", {}))))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CliError(f"{extra}: {exc}", ExitCode.USAGE) from exc
    for origin, table in sources:
        for name, text in table.items():
            if name in sounds and " ".join(sounds[name].split()) != " ".join(text.split()):
                raise CliError(f"{origin}: sound {name!r} says something else elsewhere", ExitCode.REJECTED)
            sounds[name] = text
    return sounds


@async_handler
async def run_generate(args: argparse.Namespace) -> int:
    from ..ivr.tts import EspeakSynthesizer, render_sounds
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        raise CliError("espeak-ng and sox are needed (apt-get install espeak-ng sox)", ExitCode.FAILURE)
    sounds = all_sounds(args.extra)
    written = await render_sounds(sounds, args.out, EspeakSynthesizer(args.out), overwrite=args.overwrite)
    print(f"{len(sounds)} prompts in {args.out}: {len(written)} written, {len(sounds) - len(written)} kept")
    return ExitCode.OK
