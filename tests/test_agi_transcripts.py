"""The real Asterisk 22 FastAGI transcripts, both ways.

* The simulated citizen, fed the exact commands of a transcript, answers in
  exactly the transcript's shapes (numbers such as ``endpos`` aside).
* Our server, fed the transcript's own reply lines by a replaying "Asterisk",
  handles each of them: full DTMF call (02), a RECORD FILE timeout and a
  hang-up during the closing prompt (03), a hang-up during the greeting (04).
"""
from __future__ import annotations

import asyncio
import re
import wave
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callcenter.db import callbacks
from callcenter.ivr.fakes import PhraseRecognizer, write_silence
from callcenter.ivr.loader import ScriptLibrary
from callcenter.ivr.session import CallbackIvr
from callcenter.sim.agi_citizen import run_agi_session
from callcenter.sim.citizens import CitizenScript, Reply
from callcenter.telephony.agi import AgiServer
from callcenter.telephony.agi_protocol import format_env, split_command
from tests.factories import insert_ticket

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"


@dataclass
class Transcript:
    env: dict[str, str]
    exchanges: list[tuple[str, list[str]]] = field(default_factory=list)   # command → reply lines


def load(transcripts_dir: Path, name: str) -> Transcript:
    lines = (transcripts_dir / name).read_text(encoding="utf-8").splitlines()
    env: dict[str, str] = {}
    i = 0
    while lines[i] != "<< ":
        key, _, value = lines[i][3:].partition(": ")
        env[key] = value
        i += 1
    transcript = Transcript(env)
    for line in lines[i + 1:]:
        if line.startswith(">> "):
            transcript.exchanges.append((line[3:], []))
        elif line.startswith("<< "):
            transcript.exchanges[-1][1].append(line[3:])
    return transcript


def shape(line: str) -> str:
    """A reply with its numbers that depend on sound lengths blanked out."""
    return re.sub(r"endpos=\d+", "endpos=N", line)


class ScriptedIvr:
    """A FastAGI 'server' that sends a transcript's commands verbatim and collects the replies."""

    def __init__(self, commands: list[str], tmp: Path):
        self.commands = [c.replace("/tmp/ceo-rec/", f"{tmp}/") for c in commands]
        self.env: list[str] = []
        self.replies: list[list[str]] = []
        self.done = asyncio.Event()

    async def handle(self, reader, writer):
        while (line := (await reader.readline()).decode()) != "\n":
            self.env.append(line.rstrip("\n"))
        for command in self.commands:
            writer.write(f"{command}\n".encode())
            await writer.drain()
            got = [(await reader.readline()).decode().rstrip("\n")]
            if got[0].startswith("200 result=-1"):
                got.append((await reader.readline()).decode().rstrip("\n"))
            self.replies.append(got)
            if got[-1] == "HANGUP" or command == "HANGUP":
                break
        writer.close()
        self.done.set()


@pytest.mark.parametrize("name, citizen", [
    ("02-answered-dtmf-111.agi.txt", CitizenScript.keys("1", "1", "1")),
    ("03-answered-speech-record.agi.txt", CitizenScript(replies=(Reply.speak(AUDIO / "yes.wav"),),
                                                        hangup_after_prompts=1)),
    ("04-answered-hangup-mid-question.agi.txt", CitizenScript(hangup_after_prompts=0)),
])
async def test_citizen_replies_in_the_transcripts_shapes(transcripts_dir, tmp_path, name, citizen):
    transcript = load(transcripts_dir, name)
    ivr = ScriptedIvr([c for c, _ in transcript.exchanges], tmp_path)
    server = await asyncio.start_server(ivr.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        env = dict(transcript.env)
        result = await run_agi_session(f"agi://127.0.0.1:{port}/callback", env, citizen, {}, time_scale=0)
        await asyncio.wait_for(ivr.done.wait(), 10)
    finally:
        server.close()
        await server.wait_closed()
    assert [f"{k}: {v}" for k, v in transcript.env.items()] == ivr.env
    assert format_env(env).decode().splitlines()[:-1] == ivr.env
    assert [[shape(x) for x in r] for r in ivr.replies] == [[shape(x) for x in r] for _, r in transcript.exchanges]
    assert result.hung_up_by == ("ivr" if name.startswith("02") else "citizen")
    if name.startswith("03"):
        written = tmp_path / "speech-189aff87.wav"
        assert written.read_bytes() == (AUDIO / "yes.wav").read_bytes()


async def test_citizen_endpos_is_in_8khz_samples_of_the_audio_spoken(transcripts_dir, tmp_path):
    transcript = load(transcripts_dir, "03-answered-speech-record.agi.txt")
    ivr = ScriptedIvr([c for c, _ in transcript.exchanges], tmp_path)
    server = await asyncio.start_server(ivr.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    citizen = CitizenScript(replies=(Reply.speak(AUDIO / "yes.wav"),), hangup_after_prompts=1)
    await run_agi_session(f"agi://127.0.0.1:{port}/callback", transcript.env, citizen, {}, time_scale=0)
    await asyncio.wait_for(ivr.done.wait(), 10)
    server.close()
    with wave.open(str(AUDIO / "yes.wav")) as wav:
        frames = wav.getnframes()
    assert ivr.replies[2] == [f"200 result=0 (timeout) endpos={frames}"]


class ReplayingAsterisk:
    """Connects to our FastAGI server with a transcript's environment and answers with its reply lines.

    Each command gets the transcript's first successful reply for its verb,
    verbatim; the command playing ``hangup_at`` gets the transcript's hang-up
    reply (``result=-1`` + ``HANGUP``).  Commands the transcript never sent
    (GET VARIABLE …) get Asterisk's documented replies.  RECORD FILE writes
    the next of ``spoken`` (else silence) where it was asked to.
    """

    def __init__(self, transcript: Transcript, variables: dict[str, str], *, hangup_at: str | None = None,
                 spoken: list[Path] = ()):
        self.env = transcript.env
        self.variables = variables
        self.hangup_at = hangup_at
        self.spoken = list(spoken)
        self.ok: dict[str, list[str]] = {}
        self.hangup: list[str] | None = None
        for command, replies in transcript.exchanges:
            if "HANGUP" in replies:
                self.hangup = replies
            else:
                self.ok.setdefault(verb(command), replies)
        self.sent: list[str] = []
        self.hung_up = False

    def reply(self, command: str) -> list[str]:
        kind, args = verb(command), split_command(command)
        if self.hangup_at is not None and any(self.hangup_at in arg.split("&") for arg in args):   # Playback a&b
            return self.hangup
        if kind == "GET VARIABLE":
            return [f"200 result=1 ({self.variables[args[2]]})"] if args[2] in self.variables else ["200 result=0"]
        if kind == "RECORD FILE":
            target = Path(f"{args[2]}.{args[3]}")
            if self.spoken:
                target.write_bytes(self.spoken.pop(0).read_bytes())
            else:
                write_silence(target, 1.0)
        return self.ok.get(kind, ["200 result=0"])

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(format_env(self.env))
        await writer.drain()
        while line := await reader.readline():
            command = line.decode().rstrip("\n")
            self.sent.append(command)
            replies = self.reply(command)
            writer.write("".join(f"{r}\n" for r in replies).encode())
            await writer.drain()
            if "HANGUP" in replies or command == "HANGUP":
                self.hung_up = True
                break
        writer.close()


def verb(command: str) -> str:
    words = split_command(command)
    return " ".join(words[:2]) if words[0] not in ("ANSWER", "HANGUP", "NOOP") else words[0]


@pytest.fixture
async def server(db, tmp_path):
    ivr = CallbackIvr(db.pool, ScriptLibrary.from_directory(), recordings_dir=tmp_path / "rec")
    async with AgiServer(ivr, port=0, hangup_grace_s=0.2) as agi:
        yield agi, ivr
        assert agi.stats["errors"] == 0


async def replay(db, agi, transcripts_dir, name, **kw):
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, "T1", status="awaiting_callback")
        attempt = await callbacks.create_attempt(conn, ticket_id, phone="13800000001", state="dialing")
    transcript = load(transcripts_dir, name)
    peer = ReplayingAsterisk(transcript, {"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id)}, **kw)
    await peer.run(agi.port)
    assert await agi.drained(30)
    async with db.pool.acquire() as conn:
        answers = {q: r["intent"] for q, r in (await callbacks.current_answers(conn, attempt)).items()}
        outcome = await conn.fetchval("SELECT outcome FROM callback_attempts WHERE id = $1", attempt)
    return peer, answers, outcome


async def test_server_completes_the_dtmf_call_of_transcript_02(db, server, transcripts_dir):
    agi, _ = server
    peer, answers, outcome = await replay(db, agi, transcripts_dir, "02-answered-dtmf-111.agi.txt")
    assert answers == {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    assert outcome == "answered-complete"
    # The originated leg is up before the dialplan hands it over: no ANSWER round trip.
    assert "ANSWER" not in peer.sent and peer.sent[-1] == "HANGUP"


async def test_server_records_then_survives_the_hangup_of_transcript_03(db, server, transcripts_dir):
    agi, ivr = server
    ivr.recognizer = PhraseRecognizer({AUDIO / "yes.wav": ("联系过", 0.9)})      # speech mode
    peer, answers, outcome = await replay(db, agi, transcripts_dir, "03-answered-speech-record.agi.txt",
                                          hangup_at="callback/thanks", spoken=[AUDIO / "yes.wav"])
    # Question 1 heard "联系过"; questions 2 and 3 heard silence twice ("200 result=0 (timeout)
    # endpos=25668") and moved on; the closing prompt got "result=-1 endpos=26880" + "HANGUP".
    assert [c.split()[2].rsplit("/", 1)[1] for c in peer.sent if c.startswith("RECORD FILE")] == [
        "contacted-1", "solved-1", "solved-2", "satisfaction-1", "satisfaction-2"]
    assert answers == {"contacted": "yes"}
    assert outcome == "answered-partial"
    assert peer.sent[-1].startswith("STREAM FILE callback/thanks") and peer.hung_up


async def test_server_ends_cleanly_on_the_greeting_hangup_of_transcript_04(db, server, transcripts_dir):
    agi, _ = server
    peer, answers, outcome = await replay(db, agi, transcripts_dir, "04-answered-hangup-mid-question.agi.txt",
                                          hangup_at="callback/greeting-intro")
    assert answers == {} and outcome == "no-answer"
    assert peer.sent[-1] == "STREAM FILE callback/greeting-intro 9"         # the greeting's first file


async def test_citizen_hash_ends_get_data_as_asterisk_does(tmp_path):
    """ast_readstring: '#' ends the entry and is left out of it; '#' alone is an empty entry, not a timeout."""
    ivr = ScriptedIvr(["GET DATA callback/ask-contacted 6000 1", "GET DATA callback/ask-solved 6000 3",
                       "GET DATA callback/ask-satisfaction 6000 3", "HANGUP"], tmp_path)
    server = await asyncio.start_server(ivr.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await run_agi_session(f"agi://127.0.0.1:{port}/callback", {"agi_network": "yes"},
                              CitizenScript.keys("#", "12#", "1#"), {}, time_scale=0)
        await asyncio.wait_for(ivr.done.wait(), 10)
    finally:
        server.close()
        await server.wait_closed()
    assert ivr.replies[:3] == [["200 result="], ["200 result=12"], ["200 result=1"]]
