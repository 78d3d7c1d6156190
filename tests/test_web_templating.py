"""The pages' faster rendering prints exactly what stock jinja and the plain helpers printed.

RowEnvironment (web/core/templating.py) reads Record/dict items first and
prints escaped text without Markup objects; the ledger rows (web/tickets/
ticket_rows.py), office_text and mask_phone took shortcuts for the usual
case.  Each is compared here with the slow, obvious version it replaced.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import jinja2
import pytest
from markupsafe import Markup

from callcenter.ledger import privacy
from callcenter.ledger.privacy import HIDDEN_AT_LEAST, MASK, VISIBLE_TAIL, mask_phone
from callcenter.ledger.timezone import OFFICE_TZ, office_text
from callcenter.web.core.templating import RowEnvironment, escaped_text
from callcenter.web.tickets.ticket_rows import filter_choices, ledger_rows, short_title

TEMPLATES = {
    "fields": "{{ d.name }}|{{ d.count }}|{{ d['name'] }}|{{ d.get('count') }}|{{ d.items()|list|length }}",
    "specials": "<p title=\"{{ d.name }}\">{{ d.name }} {{ d.safe }} {{ d.name|e }} {{ d.safe|safe }} {{ d.none }}</p>",
    "loops": "{% for k, v in d.items() %}<i>{{ k }}={{ v }}</i>{% endfor %}{% for x in d.list %}{{ loop.index }}:{{ x }} {% endfor %}",
    "macro": "{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}{{ cell(d.name) }}{{ cell(d.safe) }}",
    "set block": "{% set text %}<b>{{ d.name }}</b>{% endset %}{{ text }}|{{ text|length }}",
    "missing": "{{ d.absent|default('—') }}|{{ d.absent is defined }}|{{ (d.none or 'x') }}",
    "methods": "{{ d.keys()|sort|join(',') }}|{{ d.values|string|length > 0 }}",
    "concat": "{{ d.name ~ d.count }}|{{ '%s!'|format(d.name) }}|{{ d.name|upper }}",
    "autoescape off": "{% autoescape false %}{{ d.name }}{% endautoescape %}|{{ d.name }}",
}
VALUES = {"name": "Tom & \"Jerry\" <'x'>", "count": 3, "safe": Markup("<em>ok</em>"), "none": None,
          "list": ["<a>", 2, Markup("&amp;")]}


def stock() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def fast() -> jinja2.Environment:
    return RowEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_row_environment_prints_what_stock_jinja_prints_for_dicts(name):
    source = TEMPLATES[name]
    assert fast().from_string(source).render(d=VALUES) == stock().from_string(source).render(d=VALUES)


async def test_row_environment_prints_what_stock_jinja_prints_for_database_rows(db):
    async with db.pool.acquire() as conn:
        record = await conn.fetchrow("""SELECT 'Tom & "Jerry" <''x''>' AS name, 3 AS count, NULL::text AS none,
                                               'v' AS "values", 'k' AS "keys" """)
    source = ("{{ d.name }}|{{ d.count }}|{{ d['name'] }}|{{ d.get('count') }}|{{ d.none }}|{{ d['values'] }}|"
              "{{ d.keys is callable }}|{{ d.absent|default('—') }}")
    printed = fast().from_string(source).render(d=record)
    assert printed == stock().from_string(source).render(d=record)
    assert printed.startswith("Tom &amp; &#34;Jerry&#34; &lt;&#39;x&#39;&gt;|3|")
    assert "|True|" in printed                  # d.keys is still the Record's method, as stock jinja has it


def test_missing_fields_still_fail_loudly():
    for env in (stock(), fast()):
        with pytest.raises(jinja2.UndefinedError):
            env.from_string("{{ d.absent }}").render(d=VALUES)
        with pytest.raises(jinja2.UndefinedError):
            env.from_string("{{ d.absent.deeper }}").render(d=VALUES)


def test_printed_values_skip_the_markup_objects():
    """The speedup is in place (a jinja upgrade that renames the hook would silently lose it)."""
    env = fast()
    assert "environment.escaped_text(" in env.compile("{{ x }}", raw=True)
    assert "environment.escaped_text(" not in stock().compile("{{ x }}", raw=True)
    for value in ("<&>'\"", 7, 1.5, None, Markup("<b>"), ["<"]):
        assert escaped_text(value) == str(jinja2.utils.markupsafe.escape(value))


def _masked_slowly(text: str) -> str:
    """The masking rule spelled out: hide every digit but the last few, at least HIDDEN_AT_LEAST hidden."""
    digits = sum(ch.isdigit() for ch in text)
    shown = max(0, min(VISIBLE_TAIL, digits - HIDDEN_AT_LEAST))
    out = []
    for ch in reversed(text):
        if ch.isdigit() and shown:
            shown -= 1
            out.append(ch)
        else:
            out.append(MASK if ch.isdigit() else ch)
    return "".join(reversed(out))


def _mask_phone_slowly(text: str) -> str:
    for pattern in (privacy._MOBILE, privacy._LANDLINE):       # the prefix kept: carrier or area code
        match = pattern.match(text)
        if match:
            return match.group(1) + _masked_slowly(match.group(2))
    return _masked_slowly(text)


def test_masking_digits_only_numbers_takes_the_same_rule():
    rng = random.Random(5)
    for length in range(1, 21):
        for _ in range(40):
            text = rng.choice(["", "0", "1", "13", "010"]) + "".join(rng.choice("0123456789") for _ in range(length))
            assert mask_phone(text) == _mask_phone_slowly(text), text
            odd = text[:-1] + rng.choice("²１-")      # a superscript is a digit but not decimal; fullwidth is both
            assert mask_phone(odd) == _mask_phone_slowly(odd), odd
    assert mask_phone("13812345678") == "138****5678" and mask_phone("01062345678") == "010****5678"
    assert mask_phone("123") == "***" and mask_phone("12345") == "****5"
    assert mask_phone("+86 138-1234-5678") == _masked_slowly("+86 138-1234-5678")


def test_office_text_formats_minutes_as_strftime_did():
    rng = random.Random(3)
    for _ in range(2000):
        at = datetime(1000, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(0, 10**11))
        assert office_text(at) == at.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")
        naive = at.replace(tzinfo=None)
        assert office_text(naive) == naive.strftime("%Y-%m-%d %H:%M")      # naive: already Beijing time
    assert office_text(datetime(999, 12, 31, 23, 59, tzinfo=OFFICE_TZ)) == \
        datetime(999, 12, 31, 23, 59).strftime("%Y-%m-%d %H:%M")
    assert office_text(None) == ""
    assert office_text(datetime(2024, 5, 1, 1, 2, tzinfo=timezone.utc), "%H:%M:%S") == "09:02:00"


def _row(**changes) -> dict:
    row = {"id": 7, "ticket_no": "T-7", "title": "楼道堆物", "category_l1": "物业管理", "urgency": "一般",
           "caller_phone": "13812345678", "status": "handling", "department_id": 1, "community_id": 2,
           "department_name": "城市运行", "called_at": datetime(2024, 5, 1, 1, 30, tzinfo=timezone.utc),
           "close_due_at": datetime(2024, 5, 3, 1, 30, tzinfo=timezone.utc)}
    row.update(changes)
    return row


def test_ledger_rows_show_each_cell_in_its_printed_form():
    now = datetime(2024, 5, 4, tzinfo=timezone.utc)
    names = {1: "城管科", 2: "育新社区"}
    [late, closed, community, unknown, urgent] = ledger_rows(
        [_row(), _row(status="called_back"), _row(department_id=None), _row(department_id=9, community_id=None),
         _row(urgency="紧急", close_due_at=None, status="no-such-state")], names, now, frozenset({"handling"}))
    assert (late.called_at, late.close_due, late.phone, late.state, late.unit) == \
        ("2024-05-01 09:30", "2024-05-03 09:30", "138****5678", "办理中", "城管科")
    assert late.overdue and not closed.overdue and not urgent.overdue
    assert closed.state == "已回访" and community.unit == "育新社区" and unknown.unit == "城市运行"
    assert urgent.urgent and not late.urgent and urgent.close_due == "" and urgent.state == "no-such-state"


def test_titles_are_cut_as_jinjas_truncate_cut_them():
    env = stock()
    for length in (0, 59, 60, 61, 65, 66, 200):
        title = "标" * length
        assert short_title(title) == env.from_string('{{ t|truncate(60, true, "…") }}').render(t=title)


def test_filter_choices_keep_departments_and_communities_apart():
    units = [{"id": 1, "kind": "department", "name": "城管科"}, {"id": 2, "kind": "community", "name": "育新社区"}]
    choices = filter_choices(units, ["供暖"])
    assert choices.departments == [("1", "城管科")] and choices.communities == [("2", "育新社区")]
    assert choices.categories == ["供暖"]
