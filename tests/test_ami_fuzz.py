"""Hostile bytes into AmiLink's input path: it never raises, and routing works right after."""
from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.sim import transcripts
from callcenter.telephony.ami import AmiLink, AmiLinkConfig, _LinkProtocol
from callcenter.telephony.ami_parser import AmiParser

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk"
STREAM = transcripts.received_bytes(transcripts.load(FIXTURES / "05-busy.ami.txt"))
HANGUP = (b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: Local/1@x-00000001;1\r\nUniqueid: probe-1\r\n"
          b"Linkedid: probe-1\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n")
CASES = {"fuzz": 0, "chunking": 0}


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data) -> None:
        self.written += data

    def abort(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


chunks = st.one_of(
    st.binary(max_size=300),                                                     # random garbage, bad encodings
    st.sampled_from([STREAM[:i] for i in range(0, len(STREAM), 97)]),            # truncated real traffic
    st.builds(lambda n: b"Event: Hangup\r\nUniqueid: " + b"x" * n + b"\r\n\r\n",
              st.integers(0, 400_000)),                                          # huge headers
    st.builds(lambda name, v: b"Event: " + name + b"\nUniqueid: " + v + b"\n\n",
              st.binary(min_size=1, max_size=30), st.binary(max_size=30)),       # unknown events, bare LF
    st.sampled_from([b"\xff\xfe\xfd\r\n", b"Event: Hangup\r\nUniqueid: \xe4\xb8\r\n\r\n", b"\r\n" * 5,
                     b"no colon here\r\n\r\n", b"Response: Success\r\nActionID: nobody\r\n\r\n",
                     b"Event: OriginateResponse\r\nActionID: ghost\r\nReason: 4\r\n\r\n",
                     b"ActionID: \r\nEvent: CoreShowChannel\r\n\r\n", b": \r\n:\r\n\r\n"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chunks, max_size=12))
def test_hostile_input_never_kills_the_reader(data):
    CASES["fuzz"] += 1

    async def scenario() -> None:
        link = AmiLink(AmiLinkConfig())
        got: list[str] = []

        def broken(message):
            raise RuntimeError("handler bug")

        link.on_event("*", broken)
        link.on_channel("probe-1", lambda m: got.append(m.get("Cause")))
        protocol = _LinkProtocol(link)
        protocol.connection_made(FakeTransport())
        for chunk in data:
            protocol.data_received(chunk)
        protocol.data_received(b"\r\n\r\n" + HANGUP)   # end whatever was half-received, then a real event
        assert got == ["16"]
        assert link.counters.handler_errors >= 1

    asyncio.run(scenario())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=40))
def test_chunk_boundaries_do_not_change_messages(cuts):
    """TCP may split a stream anywhere (even inside a UTF-8 character): the messages must not change."""
    CASES["chunking"] += 1
    stream = STREAM.replace(b"Xisanqi 12345", "西三旗 12345".encode("utf-8"))
    whole = [m.headers for m in AmiParser().feed(stream)]
    parser = AmiParser()
    pieces, last = [], 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        pieces.extend(m.headers for m in parser.feed(stream[last:cut]))
        last = cut
    assert pieces == whole
    assert len(whole) == STREAM.count(b"\r\n\r\n")
    assert any(v == "西三旗 12345" for m in whole for _, v in m)


def test_zz_report_case_counts():
    """Prints how many generated cases the two properties above tried (run with -s)."""
    print(f"\nAMI fuzz cases tried: {CASES}")
    assert CASES["fuzz"] > 0 and CASES["chunking"] > 0
