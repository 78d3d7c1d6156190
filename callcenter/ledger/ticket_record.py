"""One row of the city's ticket export ↔ one validated ticket record (pure, no I/O).

The importer, the exporter and the sample generator all go through this
module, so what we write out is exactly what we accept back in.  Every problem
of a row is reported (line, column, reason), not just the first one, so a clerk
fixes a file in one pass instead of one error per attempt.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields as dc_fields
from functools import cached_property
from operator import attrgetter
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import city_status
from .deadlines import DeadlinePolicy, Deadlines, compute_deadlines, policy_in_force
from .timezone import OFFICE_TZ, as_local, local_date
from ..scoring.rules import ANSWERS, DEFAULT_RULE_SET, RuleSet, RuleSetError

TICKET_TYPES = ("诉求", "咨询")
APPEAL_KINDS = ("咨询", "求助", "投诉", "举报", "建议")
URGENCIES = ("一般", "紧急")
CONTACTED = ANSWERS["contacted"]
SATISFIED = ANSWERS["satisfied"]
SOLVED = ANSWERS["solved"]
#: The answer columns and the rule-set question each one answers (labels: callcenter.scoring.rules).
ANSWER_COLUMNS = {"city_contacted": "contacted", "city_solved": "solved", "city_satisfied": "satisfied"}

#: Longest 办理时限 we believe (a year); anything above is a typo, not a deadline.
MAX_TIME_LIMIT_HOURS = 24 * 366
#: Timestamps outside these years are typos (a missing digit, an Excel epoch 1900).
PLAUSIBLE_YEARS = range(2000, 2100)


class FieldError(ValueError):
    """One cell that cannot be accepted; the message is the reason shown to the clerk."""


class HeaderError(ValueError):
    """The header row cannot be used: required columns missing or a column given twice."""

    def __init__(self, missing: Sequence[str] = (), duplicated: Sequence[str] = ()):
        self.missing, self.duplicated = list(missing), list(duplicated)
        parts = []
        if missing:
            parts.append("缺少必需的列: " + "、".join(missing))
        if duplicated:
            parts.append("列重复出现: " + "、".join(duplicated))
        super().__init__("; ".join(parts))


@dataclass(frozen=True)
class RowError:
    line: int        # line (CSV) or row (xlsx) number in the file, header = 1
    column: str      # the header as written in the file
    reason: str
    value: str = ""  # the offending cell, as text


# --- cell → value parsers -------------------------------------------------------------

def cell_text(value: Any) -> str:
    """A cell as the clerk sees it: xlsx numbers without '.0', times without microseconds."""
    if type(value) is str:          # the common case first: every CSV cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _text(value: Any) -> str:
    text = cell_text(value)
    if "\x00" in text:
        raise FieldError("包含非法字符 NUL")
    return text


def _required_text(value: Any) -> str:
    text = _text(value)
    if not text:
        raise FieldError("不能为空")
    return text


#: The city's numbers are 10–13 digits (older ones carry a letter prefix); 32 leaves room and refuses
#: the 40-digit numbers a spreadsheet produces when it mangles a cell.
MAX_TICKET_NO = 32
_TICKET_NO = re.compile(r"^[^\s\x00-\x1f\x7f]{1,%d}$" % MAX_TICKET_NO)


def _ticket_no(value: Any) -> str:
    text = _required_text(value)
    if not _TICKET_NO.match(text):
        raise FieldError(f"工单编号不能含空白或控制字符, 最长 {MAX_TICKET_NO} 个字符 (收到 {len(text)} 个)")
    return text


def _choice(allowed: Sequence[str], default: str = "", aliases: Mapping[str, str] | None = None
            ) -> Callable[[Any], str]:
    """A parser for a closed list of answers; an empty cell means ``default``."""
    aliases = aliases or {}

    def parse(value: Any) -> str:
        text = _text(value).replace(" ", "")
        if not text:
            return default
        text = aliases.get(text, text)
        if text not in allowed:
            raise FieldError(f"无效取值 “{text}”, 可选: {'/'.join(allowed)}")
        return text
    return parse


_YES = {"是", "有效", "y", "yes", "true", "1"}
_NO = {"否", "无效", "n", "no", "false", "0"}


def _yes_no(value: Any) -> bool | None:
    text = _text(value).lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise FieldError(f"无效取值 “{text}”, 可选: 是/否")


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Beijing 010 and the 02X cities have 8-digit local numbers; other areas 0XXX + 7–8 digits.
_LANDLINE = re.compile(r"^0(?:10|2\d)[2-9]\d{7}$|^0[3-9]\d{2}[2-9]\d{6,7}$")
_PHONE_JUNK = re.compile(r"[\s\-()（）.]")


def normalize_phone(value: Any) -> str:
    """Digits only: mobiles as 11 digits, landlines with their 0-prefixed area code; '' = anonymous.

    Accepts +86 / 0086 / 86 prefixes, spaces, dashes and brackets, because that is
    how people and spreadsheets write numbers.
    """
    raw = _text(value)
    digits = _PHONE_JUNK.sub("", raw)
    if not digits:
        return ""
    international = True
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("+"):
        raise FieldError(f"不是中国大陆号码: {raw}")
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    else:
        international = False
    if not digits.isdigit():
        raise FieldError(f"电话号码含非数字字符: {raw}")
    if _MOBILE.match(digits):
        return digits
    if international and not digits.startswith("0"):
        digits = "0" + digits          # +86 10 6234 5678: the area code drops its trunk 0
    if _LANDLINE.match(digits):
        return digits
    if digits.startswith("1") and len(digits) == 10:
        raise FieldError(f"电话号码无效: {raw} (固话需带区号; Excel 可能去掉了开头的 0, 请把该列设为文本)")
    if len(digits) in (7, 8):
        raise FieldError(f"固定电话缺少区号: {raw}")
    raise FieldError(f"电话号码无效: {raw} (应为 11 位手机号或带区号的固定电话)")


_DATETIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.(\d+))?\s*秒?)?\s*分?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")
#: What the city's export and ours write: read without the general pattern (a third of an import's time).
CANONICAL_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)")


def parse_time(value: Any) -> datetime | None:
    """A timezone-aware timestamp, to the second; naive input is Beijing time.

    Accepts native xlsx datetimes and the usual spellings: 2024-05-01 09:30[:00],
    2024/5/1 9:30, 2024年5月1日 9时30分, 20240501093000, ISO 8601 with an offset.
    """
    if value is None or value == "":
        return None
    if type(value) is str and (canonical := CANONICAL_TIME.fullmatch(value)):
        year = int(canonical[1])
        if year in PLAUSIBLE_YEARS:
            try:
                return datetime(year, *map(int, canonical.groups()[1:]), tzinfo=OFFICE_TZ)
            except ValueError:
                pass                 # 2024-02-30: the general path below words the error
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = _text(value)
        if not text:
            return None
        moment = _parse_time_text(text)
    if moment.year not in PLAUSIBLE_YEARS:
        raise FieldError(f"日期超出合理范围: {cell_text(value)}")
    moment = as_local(moment)
    # Round to the second: xlsx stores times as binary fractions of a day.
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=round(moment.microsecond / 1e6))
    return moment


def _parse_time_text(text: str) -> datetime:
    match = _DATETIME.match(text) or _COMPACT.match(text)
    if not match:
        raise FieldError(f"无法识别的日期时间: {text} (例: 2024-05-01 09:30:00)")
    groups = match.groups()
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in groups[:6])
    fraction = groups[6] if len(groups) > 6 else None
    offset = groups[7] if len(groups) > 7 else None
    try:
        moment = datetime(year, month, day, hour, minute, second,
                          int((fraction or "0")[:6].ljust(6, "0")))
    except ValueError:
        raise FieldError(f"不存在的日期时间: {text}") from None
    if offset:
        try:
            moment = datetime.fromisoformat(moment.isoformat() + ("+00:00" if offset == "Z" else
                                                                  offset[:3] + ":" + offset[-2:]))
        except ValueError:
            raise FieldError(f"无效的时区: {text}") from None
    return moment


def _required_time(value: Any) -> datetime:
    moment = parse_time(value)
    if moment is None:
        raise FieldError("不能为空")
    return moment


_HOURS = re.compile(r"^(\d+)(?:\.0+)?\s*(?:小时|h|H)?$")


def _hours(value: Any) -> int | None:
    if isinstance(value, float) and not value.is_integer():
        raise FieldError(f"办理时限须为正整数小时: {value}")
    text = _text(value)
    if not text:
        return None
    match = _HOURS.match(text)
    if not match:
        raise FieldError(f"办理时限须为正整数小时: {text}")
    hours = int(match.group(1))
    if hours <= 0:
        raise FieldError("办理时限须大于 0")
    if hours > MAX_TIME_LIMIT_HOURS:
        raise FieldError(f"办理时限过大: {hours} 小时")
    return hours


def _city_status(value: Any) -> str:
    """工单状态: one of the city's spellings (callcenter.ledger.city_status), or empty."""
    try:
        return city_status.check_label(_text(value))
    except city_status.CityStatusError as exc:
        raise FieldError(str(exc)) from None


#: Cell parsers other record types (e.g. urban cases) build their fields from.
text_cell = _text
required_text = _required_text
required_time = _required_time


# --- the columns ------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    column: str                     # tickets table column (also the English header alias)
    header: str                     # the city's Chinese header
    parse: Callable[[Any], Any]
    required: bool = False


FIELDS: tuple[Field, ...] = (
    Field("ticket_no", "工单编号", _ticket_no, required=True),
    Field("ticket_type", "工单类型", _choice(TICKET_TYPES, "诉求")),
    Field("appeal_kind", "诉求类别", _choice(APPEAL_KINDS, "投诉")),
    Field("category_l1", "一级分类", _required_text, required=True),
    Field("category_l2", "二级分类", _text),
    Field("category_l3", "三级分类", _text),
    Field("title", "标题", _text),
    Field("content", "主要内容", _text),
    Field("urgency", "紧急程度", _choice(URGENCIES, "一般", {"普通": "一般", "特急": "紧急", "加急": "紧急"})),
    Field("caller_name", "来电人", _text),
    Field("caller_phone", "来电人电话", normalize_phone),
    Field("district", "被反映区", _text),
    Field("street", "被反映街乡镇", _text),
    Field("community_name", "所在社区", _text),
    Field("address", "问题点位", _text),
    Field("host_unit", "主办单位", _text),
    Field("department_name", "承办科室", _text),
    Field("called_at", "来电时间", _required_time, required=True),
    Field("dispatched_at", "派单时间", parse_time),
    Field("time_limit_hours", "办理时限", _hours),
    Field("closed_at", "办结时间", parse_time),
    Field("city_status", "工单状态", _city_status),
    Field("handling_result", "办理结果", _text),
    Field("city_effective_callback", "是否有效回访", _yes_no),
    # Checked against the rule set in force on 来电时间 (parse_row): labels are the rule set's data.
    Field("city_contacted", "是否联系", _text),
    Field("city_solved", "是否解决", _text),
    Field("city_satisfied", "是否满意", _text),
    Field("city_callback_at", "回访时间", parse_time),      # the city's callback, when its export has one
)
HEADERS: tuple[str, ...] = tuple(f.header for f in FIELDS)
#: The columns every export of the city's carries (domain.md); the ones after them are optional.
STANDARD_HEADERS: tuple[str, ...] = HEADERS[:HEADERS.index("回访时间")]
COLUMNS: tuple[str, ...] = tuple(f.column for f in FIELDS)
REQUIRED: tuple[Field, ...] = tuple(f for f in FIELDS if f.required)


@dataclass(frozen=True)
class TicketRecord:
    """The city's view of one ticket, validated; times are aware (Beijing time)."""
    ticket_no: str
    category_l1: str
    called_at: datetime
    ticket_type: str = "诉求"
    appeal_kind: str = "投诉"
    category_l2: str = ""
    category_l3: str = ""
    title: str = ""
    content: str = ""
    urgency: str = "一般"
    caller_name: str = ""
    caller_phone: str = ""
    district: str = ""
    street: str = ""
    community_name: str = ""
    address: str = ""
    host_unit: str = ""
    department_name: str = ""
    dispatched_at: datetime | None = None
    time_limit_hours: int | None = None
    closed_at: datetime | None = None
    city_status: str = ""
    handling_result: str = ""
    city_effective_callback: bool | None = None
    city_contacted: str = ""
    city_solved: str = ""
    city_satisfied: str = ""
    city_callback_at: datetime | None = None


assert {f.name for f in dc_fields(TicketRecord)} == set(COLUMNS), "FIELDS and TicketRecord disagree"

_OPTIONAL_DEFAULTS = {f.name: f.default for f in dc_fields(TicketRecord) if f.name not in {r.column for r in REQUIRED}}
_REQUIRED_COLUMNS = frozenset(f.column for f in REQUIRED)


def record_of(values: Mapping[str, Any]) -> TicketRecord:
    """``TicketRecord(**values)`` for parsed values, without the frozen ``__init__``'s setattr per field.

    Why: a bulk import builds 100k records and that ``__init__`` was a tenth of its time;
    the object is the same (equal, hashable, frozen).  ``values`` must come from the field
    parsers and name every required column.
    """
    if not _REQUIRED_COLUMNS <= values.keys():
        return TicketRecord(**values)       # let the dataclass word the mistake
    record = object.__new__(TicketRecord)
    record.__dict__.update(_OPTIONAL_DEFAULTS)
    record.__dict__.update(values)
    return record


#: A record's values in COLUMNS order (at C speed): what :func:`record_from_values` takes back.
record_values = attrgetter(*COLUMNS)


def record_from_values(values: Sequence[Any]) -> TicketRecord:
    """The record :func:`record_values` gave ``values`` for (e.g. sent by another process, where a
    tuple pickles in half the time of the dataclass)."""
    record = object.__new__(TicketRecord)
    record.__dict__.update(zip(COLUMNS, values))
    return record


# --- header row -------------------------------------------------------------------------

def _by_name(fields: Sequence[Field]) -> dict[str, Field]:
    """Header text or column name → field (both spellings are accepted in a file)."""
    names: dict[str, Field] = {}
    for f in fields:
        names[f.header] = f
        names[f.column] = f
    return names


_BY_NAME = _by_name(FIELDS)


def _header_key(value: Any) -> str:
    return re.sub(r"\s+", "", cell_text(value).lstrip("\ufeff").strip("*")).lower()


@dataclass(frozen=True)
class HeaderMap:
    """Where each known column sits in the file, and what the file calls it."""
    positions: Mapping[str, int]      # column → cell index
    labels: Mapping[str, str]         # column → header text in the file
    ignored: tuple[str, ...]          # headers we do not know (reported, not imported)
    fields: tuple[Field, ...] = FIELDS  # the record type's columns

    @property
    def present(self) -> frozenset[str]:
        return frozenset(self.positions)

    def label(self, column: str) -> str:
        return self.labels.get(column) or next(f.header for f in self.fields if f.column == column)

    @cached_property
    def plan(self) -> tuple[tuple[Field, int, str], ...]:
        """(field, cell index, label) of each present column, worked out once per file, not per row."""
        return tuple((f, self.positions[f.column], self.label(f.column)) for f in self.fields
                     if f.column in self.positions)


def resolve_headers(headers: Sequence[Any], fields: Sequence[Field] = FIELDS) -> HeaderMap:
    """Map the header row; raises :class:`HeaderError` naming every missing/duplicated column.

    ``fields``: the columns of the record type (tickets by default; other files, such as
    urban cases, describe theirs with the same :class:`Field` and get the same reporting).
    """
    by_name = _BY_NAME if fields is FIELDS else _by_name(fields)
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    duplicated: list[str] = []
    for index, raw in enumerate(headers):
        key = _header_key(raw)
        if not key:
            continue
        field = by_name.get(key)
        if field is None:
            ignored.append(cell_text(raw))
        elif field.column in positions:
            duplicated.append(f"{field.header} ({labels[field.column]} / {cell_text(raw)})")
        else:
            positions[field.column] = index
            labels[field.column] = cell_text(raw)
    missing = [f"{f.header} ({f.column})" for f in fields if f.required and f.column not in positions]
    if missing or duplicated:
        raise HeaderError(missing, duplicated)
    return HeaderMap(positions, labels, tuple(ignored), tuple(fields))


# --- a row ------------------------------------------------------------------------------

def parse_fields(cells: Sequence[Any], headers: HeaderMap, line: int) -> tuple[dict[str, Any], list[RowError]]:
    """Each present column parsed by its field: (values by column, every cell error of the row)."""
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    width = len(cells)
    for field, index, label in headers.plan:
        raw = cells[index] if index < width else None
        try:
            values[field.column] = field.parse(raw)
        except FieldError as exc:
            errors.append(RowError(line, label, str(exc), cell_text(raw)))
    return values, errors


def parse_row(cells: Sequence[Any], headers: HeaderMap, line: int,
              categories: Iterable[str] | frozenset[str],
              rule_set_on: Callable[[date], RuleSet] = lambda day: DEFAULT_RULE_SET) -> TicketRecord | list[RowError]:
    """A record, or every error found in the row (``categories``: known 一级分类).

    ``rule_set_on(day)``: the rule set in force on the ticket's 来电时间, whose label table
    turns 基本解决 / 比较满意 / … into the answers it credits.
    """
    values, errors = parse_fields(cells, headers, line)
    called_on = local_date(values["called_at"]) if values.get("called_at") else None
    rule_set = rule_set_on(called_on) if called_on else DEFAULT_RULE_SET
    for column, question in ANSWER_COLUMNS.items():
        if values.get(column):
            try:
                values[column] = rule_set.answer(question, values[column])
            except RuleSetError as exc:
                errors.append(RowError(line, headers.label(column), str(exc), values[column]))
    category = values.get("category_l1")
    if category and category not in categories:
        errors.append(RowError(line, headers.label("category_l1"),
                               f"未知一级分类 “{category}” (不在分类表中)", category))
    called = values.get("called_at")
    for column in ("dispatched_at", "closed_at", "city_callback_at"):
        later = values.get(column)
        if called and later and later < called:
            errors.append(RowError(line, headers.label(column), f"早于来电时间 {cell_text(called.replace(tzinfo=None))}",
                                   cell_text(later.astimezone(OFFICE_TZ).replace(tzinfo=None))))
    if errors:
        return errors
    return TicketRecord(**values)


# --- record → cells (export, sample files) ----------------------------------------------

def to_cells(record: TicketRecord) -> list[Any]:
    """Cells in :data:`HEADERS` order: naive Beijing datetimes, ints, texts; re-parses to ``record``."""
    cells: list[Any] = []
    for column in COLUMNS:
        value = getattr(record, column)
        if isinstance(value, datetime):
            value = value.astimezone(OFFICE_TZ).replace(tzinfo=None)
        elif isinstance(value, bool):
            value = "是" if value else "否"
        elif value is None:
            value = ""
        cells.append(value)
    return cells


def record_from_mapping(row: Mapping[str, Any]) -> TicketRecord:
    """A record from a database row (or any mapping holding the ticket columns)."""
    return TicketRecord(**{c: row[c] for c in COLUMNS})


# --- deadlines --------------------------------------------------------------------------

def record_deadlines(record: TicketRecord, policies: Sequence[DeadlinePolicy] | Callable[[datetime], DeadlinePolicy],
                     *, utility_categories: frozenset[str], is_complex: bool = False) -> Deadlines:
    """The ticket's deadlines, counted from dispatch (or the call, if not dispatched yet).

    ``policies``: the dated policies, or a lookup of the one in force (a :class:`PoliciesByDay`).
    """
    start = record.dispatched_at or record.called_at
    policy = policies(start) if callable(policies) else policy_in_force(policies, start)
    return compute_deadlines(
        policy, start, urgent=record.urgency == "紧急",
        category_l1=record.category_l1, is_complex=is_complex,
        time_limit_hours=record.time_limit_hours, utility_categories=utility_categories,
    )
