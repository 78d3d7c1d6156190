"""AGI wire grammar and the channel's reading of each Asterisk reply, without sockets."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from callcenter.ivr.channel import CallerHungUp, ChannelFailure, RecordingFailed
from callcenter.telephony.agi import AgiChannel, read_environment
from callcenter.telephony.agi_protocol import (
    AgiProtocolError, format_command, format_env, parse_env_line, parse_result, quote, split_command,
)


class Wire:
    """The write half of a socket, in memory."""

    def __init__(self):
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


def channel(*replies: bytes, eof: bool = True) -> tuple[AgiChannel, Wire]:
    reader = asyncio.StreamReader()
    reader.feed_data(b"".join(replies))
    if eof:
        reader.feed_eof()
    wire = Wire()
    return AgiChannel(reader, wire, hangup_grace_s=0.01, command_timeout_s=5), wire


@pytest.mark.parametrize("line, result, data, endpos", [
    ("200 result=0", "0", None, None),
    ("200 result=1", "1", None, None),                                # GET DATA: digits as text
    ("200 result=12# (timeout)", "12#", "timeout", None),
    ("200 result= (timeout)", "", "timeout", None),
    ("200 result=0 (timeout) endpos=25668", "0", "timeout", 25668),    # RECORD FILE, transcript 03
    ("200 result=-1 endpos=24160", "-1", None, 24160),                # hang-up, transcript 04
    ("200 result=49 (dtmf) endpos=800", "49", "dtmf", 800),
    ("200 result=1 (a (b) c)", "1", "a (b) c", None),                  # GET VARIABLE value with parens
])
def test_parse_result(line, result, data, endpos):
    reply = parse_result(line)
    assert (reply.result, reply.data, reply.endpos) == (result, data, endpos)


@given(st.text(max_size=60))
def test_parse_result_accepts_or_refuses_cleanly(line):
    try:
        reply = parse_result(line)
    except AgiProtocolError:
        return                                   # refused: the only exception it may raise
    else:
        assert line.startswith("200 result=")
        assert reply.code is None or isinstance(reply.code, int)


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20), max_size=6))
def test_quoted_arguments_survive_asterisks_parser(args):
    line = format_command("SET VARIABLE", *args)
    assert "\n" not in line and "\r" not in line
    expected = [a.replace("\r", " ").replace("\n", " ") for a in args]
    assert split_command(line) == ["SET", "VARIABLE", *expected]


def test_transcript_command_shapes():
    assert format_command("STREAM FILE", "ceo/prompt-greet", "") == 'STREAM FILE ceo/prompt-greet ""'
    assert format_command("RECORD FILE", "/tmp/r/x", "wav", "#", "7000", "0", "BEEP", "s=2") == \
        "RECORD FILE /tmp/r/x wav # 7000 0 BEEP s=2"
    assert quote('say "hi"\nEXEC Dial') == '"say \\"hi\\" EXEC Dial"'      # no second command smuggled in


def test_env_lines():
    assert parse_env_line("agi_accountcode: ") == ("agi_accountcode", "")
    assert parse_env_line("agi_calleridname: Xisanqi 12345") == ("agi_calleridname", "Xisanqi 12345")
    assert parse_env_line("garbage") is None and parse_env_line("Agi_X: y") is None


async def test_read_environment_limits():
    async def read(data: bytes):
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_environment(reader, 1)
    assert await read(format_env({"agi_uniqueid": "u1", "agi_network_script": "callback"})) == {
        "agi_uniqueid": "u1", "agi_network_script": "callback"}
    assert await read(b"agi_uniqueid: u1\n") is None                          # closed before the blank line
    assert await read(b"agi_x: " + b"y" * 20_000 + b"\n\n") is None            # too big
    assert (await read(b"agi_callerid: \xff\xfe\nnoise\n\n")) == {"agi_callerid": "\ufffd\ufffd"}


async def test_read_environment_gives_up_on_a_silent_peer():
    reader = asyncio.StreamReader()
    reader.feed_data(b"agi_uniqueid: u1\n")
    assert await read_environment(reader, 0.01) is None


async def test_get_data_digits_and_timeouts():
    ch, wire = channel(b"200 result=1\n", b"200 result= (timeout)\n", b"200 result=12 (timeout)\n")
    assert (await ch.get_data("q1", 6000, 1)).digits == "1"
    got = await ch.get_data("q2", 6000, 1)
    assert (got.digits, got.timed_out) == ("", True)
    got = await ch.get_data("q3", 6000, 4)
    assert (got.digits, got.timed_out) == ("12", True)
    assert wire.data == b"GET DATA q1 6000 1\nGET DATA q2 6000 1\nGET DATA q3 6000 4\n"


async def test_get_data_with_more_keys_than_asked_is_garbage_not_an_answer():
    ch, _ = channel(b"200 result=99999999999999999999999 endpos=-5\n", eof=False)
    with pytest.raises(ChannelFailure):               # a real Asterisk reads at most max_digits
        await ch.get_data("ask-contacted", 6000, 1)
    assert ch.gone is not None


async def test_stream_file_escape_digit_and_missing_file():
    ch, _ = channel(b"200 result=50 endpos=100\n", b"200 result=-1 endpos=0\n", eof=False)
    assert await ch.stream_file("ask", "12") == "2"
    assert await ch.stream_file("missing", "") is None             # alive: the part is skipped
    assert ch.gone is None


async def test_a_list_of_sounds_is_one_playback_and_one_sound_a_stream_file():
    ch, wire = channel(b"200 result=0\n", b"200 result=0 endpos=10\n", eof=False)
    await ch.play_sounds(["callback/greeting-intro", "/var/tts/3fa9", "反映"])
    await ch.play_sounds(["callback/thanks"])
    assert wire.data.decode().splitlines() == ["EXEC Playback callback/greeting-intro&/var/tts/3fa9&反映",
                                               'STREAM FILE callback/thanks ""']


@pytest.mark.parametrize("odd", ["my prompts/intro", "a,b", "a&b", 'say "hi"', "x(1)", "x|y", ""])
async def test_a_name_playback_would_split_is_played_a_file_at_a_time(odd):
    ch, wire = channel(b"200 result=0 endpos=1\n" * 2, eof=False)
    await ch.play_sounds(["intro", odd])
    assert [line.split()[0] for line in wire.data.decode().splitlines()] == ["STREAM", "STREAM"]


async def test_an_asterisk_without_playback_gets_the_files_one_by_one_from_then_on():
    ch, wire = channel(b"200 result=-2\n", *[b"200 result=0 endpos=1\n"] * 4, eof=False)
    await ch.play_sounds(["a", "b"])
    await ch.play_sounds(["c", "d"])
    assert wire.data.decode().splitlines() == ["EXEC Playback a&b", 'STREAM FILE a ""', 'STREAM FILE b ""',
                                               'STREAM FILE c ""', 'STREAM FILE d ""']
    assert ch.gone is None


async def test_a_hang_up_during_playback_ends_the_call():
    ch, wire = channel(b"200 result=-1\n", b"HANGUP\n")
    with pytest.raises(CallerHungUp):
        await ch.play_sounds(["a", "b", "c"])
    assert wire.data.decode().splitlines() == ["EXEC Playback a&b&c"]       # nothing replayed


async def test_result_minus_one_then_hangup_line_is_a_hang_up_with_endpos():
    ch, _ = channel(b"200 result=-1 endpos=24160\n", b"HANGUP\n")
    with pytest.raises(CallerHungUp) as caught:
        await ch.stream_file("greet")
    assert caught.value.endpos == 24160
    with pytest.raises(CallerHungUp):                              # and stays hung up
        await ch.get_data("q", 1000, 1)


async def test_record_file_results():
    ch, wire = channel(b"200 result=0 (timeout) endpos=25668\n", b"200 result=35 (dtmf) endpos=800\n",
                       b"200 result=-1 (writefile)\n", eof=False)
    first = await ch.record_file("/r/a", "wav", "#", 7000, beep=True, silence_s=2)
    assert (first.digit, first.endpos) == (None, 25668)
    assert (await ch.record_file("/r/b", "wav", "#", 7000)).digit == "#"
    with pytest.raises(RecordingFailed):
        await ch.record_file("/nope/c", "wav", "#", 7000)
    assert wire.data.splitlines()[0] == b"RECORD FILE /r/a wav # 7000 0 BEEP s=2"
    assert ch.gone is None


async def test_record_file_hangup_keeps_endpos():
    ch, _ = channel(b"200 result=-1 (hangup) endpos=16000\n")
    with pytest.raises(CallerHungUp) as caught:
        await ch.record_file("/r/a", "wav", "#", 7000)
    assert caught.value.endpos == 16000


async def test_get_variable():
    ch, _ = channel(b"200 result=1 (3f2a)\n", b"200 result=0\n", b"200 result=1 ()\n")
    assert await ch.get_variable("ATTEMPT_ID") == "3f2a"
    assert await ch.get_variable("NOPE") is None
    assert await ch.get_variable("EMPTY") == ""


async def test_trying_then_result():
    ch, _ = channel(b"100 result=0 Trying...\n200 result=0\n")
    await ch.answer()


@pytest.mark.parametrize("reply, error, gone", [
    (b"510 Invalid or unknown command\n", ChannelFailure, False),
    (b"520-Invalid command syntax.  Proper usage follows:\nUsage: X\n520 End of proper usage.\n", ChannelFailure,
     False),
    (b"511 Command Not Permitted on a dead channel or intercept routine\n", CallerHungUp, True),
    (b"HANGUP\n", CallerHungUp, True),
    (b"", CallerHungUp, True),
    (b"200 res", CallerHungUp, True),                                 # closed mid-line
    (b"hello\n", ChannelFailure, True),
    (b"200 result=1 (unterminated\n", ChannelFailure, True),
])
async def test_errors_end_the_call_cleanly(reply, error, gone):
    ch, _ = channel(reply)
    with pytest.raises(error):
        await ch.answer()
    assert (ch.gone is not None) == gone


async def test_hangup_command_then_nothing_more_is_sent():
    ch, wire = channel(b"200 result=1\n")
    await ch.hangup()
    await ch.hangup()
    with pytest.raises(CallerHungUp):
        await ch.answer()
    assert wire.data == b"HANGUP\n"


async def test_silent_asterisk_times_out_as_a_failure():
    reader = asyncio.StreamReader()
    ch = AgiChannel(reader, Wire(), command_timeout_s=0.01)
    with pytest.raises(ChannelFailure, match="no reply"):
        await ch.answer()


async def test_a_reply_may_take_as_long_as_the_prompt_plays():
    """STREAM FILE answers when the prompt has finished: seconds, far beyond the hang-up grace."""
    reader = asyncio.StreamReader()
    chan = AgiChannel(reader, Wire(), hangup_grace_s=0.01, command_timeout_s=5)
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, reader.feed_data, b"200 result=0 endpos=24000\n")
    reply = await chan.command("STREAM FILE", "callback/greeting-intro", '""')
    assert reply.result == "0" and reply.endpos == 24000


async def test_no_reply_within_the_command_timeout_is_a_channel_failure():
    reader = asyncio.StreamReader()
    chan = AgiChannel(reader, Wire(), hangup_grace_s=0.01, command_timeout_s=0.2)
    with pytest.raises(ChannelFailure, match="no reply"):
        await chan.command("STREAM FILE", "callback/greeting-intro", '""')
