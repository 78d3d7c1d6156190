"""Phone numbers are masked in every log line; nothing else is changed."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.cli import main
from callcenter.logmask import PhoneMaskFilter, install, mask_phones

LOGGER = "cc.logmask.test"          # no configured ancestors: other tests' log levels cannot hide records


@pytest.fixture
def masked_caplog(caplog):
    mask = PhoneMaskFilter()
    caplog.handler.addFilter(mask)
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield caplog
    caplog.handler.removeFilter(mask)


@pytest.mark.parametrize("text, expected", [
    ("dialing 13800001234 now", "dialing 138****1234 now"),
    ("来电人13912345678反映", "来电人139****5678反映"),
    ("PJSIP/trunk/sip:15000001111@10.0.0.1", "PJSIP/trunk/sip:150****1111@10.0.0.1"),
    ("+8613800001234", "+86138****1234"),
    ("138-0000-1234", "138-****-1234"),
    ("138 0000 1234", "138 **** 1234"),
    ("tel 010-62345678", "tel 010-****5678"),
    ("tel (010)62345678", "tel (010)****5678"),
    ("01062345678", "010****5678"),
    ("0571-12345678", "0571-****5678"),
    # Not phone numbers: left exactly as they are.
    ("ticket 20240319000145", "ticket 20240319000145"),
    ("uniqueid 1732531200.123", "uniqueid 1732531200.123"),
    ("call 12345 hotline", "call 12345 hotline"),
    ("id a13800001234", "id a13800001234"),
    ("138000012345", "138000012345"),
    ("date 20240319 count 62345678", "date 20240319 count 62345678"),
])
def test_mask_phones(text, expected):
    assert mask_phones(text) == expected


@given(prefix=st.text(alphabet="反映电话：, ()[]", max_size=5), carrier=st.integers(13, 19),
       rest=st.integers(0, 10**9 - 1), suffix=st.text(alphabet="反映电话：, ()[]", max_size=5))
def test_no_mobile_survives(prefix, carrier, rest, suffix):
    phone = f"{carrier}{rest:09d}"
    masked = mask_phones(prefix + phone + suffix)
    assert phone not in masked and phone[-4:] in masked and len(masked) == len(prefix + phone + suffix)


def test_message_and_args_are_masked(masked_caplog):
    log = logging.getLogger(LOGGER)
    log.info("originate to %s for ticket %s", "13800001234", "20240319000145")
    log.info("answer %(phone)s pressed %(digit)d", {"phone": "01062345678", "digit": 1})
    log.warning("plain message for 13900002222")
    messages = [r.getMessage() for r in masked_caplog.records]
    assert messages == ["originate to 138****1234 for ticket 20240319000145",
                        "answer 010****5678 pressed 1",
                        "plain message for 139****2222"]
    assert "13800001234" not in masked_caplog.text and "01062345678" not in masked_caplog.text


def test_record_without_numbers_keeps_its_args(masked_caplog):
    logging.getLogger(LOGGER).info("campaign %s: %d calls", "西三旗", 200)
    record = masked_caplog.records[0]
    assert record.args == ("西三旗", 200) and record.getMessage() == "campaign 西三旗: 200 calls"


def test_traceback_is_masked(masked_caplog):
    try:
        raise ValueError("no answer from 13800001234")
    except ValueError:
        logging.getLogger(LOGGER).exception("dial failed")
    assert "138****1234" in masked_caplog.text and "13800001234" not in masked_caplog.text


def test_install_is_idempotent_and_covers_child_loggers(tmp_path):
    logger = logging.getLogger("cc-logmask-test")
    logger.propagate = False
    stream_path = tmp_path / "log.txt"
    handler = logging.FileHandler(stream_path, encoding="utf-8")
    logger.addHandler(handler)
    try:
        first, second = install(logger), install(logger)
        assert first is second and handler.filters == [first]
        logging.getLogger("cc-logmask-test.child").warning("callee %s", "18600001234")
        handler.flush()
        assert stream_path.read_text(encoding="utf-8").strip() == "callee 186****1234"
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_main_installs_the_mask(monkeypatch, tmp_path):
    root = logging.getLogger()
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path))
    main(["config", "check"])
    try:
        assert root.handlers and all(any(isinstance(f, PhoneMaskFilter) for f in h.filters) for h in root.handlers)
    finally:
        for h in root.handlers:
            for f in [f for f in h.filters if isinstance(f, PhoneMaskFilter)]:
                h.removeFilter(f)
