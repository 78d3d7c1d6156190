"""Bulk upsert of imported tickets: COPY into a staging table, then one set-based merge.

Row-by-row inserts would take minutes for a year of tickets; COPY plus a single
``INSERT … ON CONFLICT`` takes seconds.  Everything happens in one transaction,
so an import is whole or absent.  The city's columns are updated on re-import.
A ticket enters at the state its 工单状态 names (callcenter.ledger.city_status) and
a re-import only moves it forward; the step times (signed_at, first_contact_at)
belong to the flow (``tickets.apply_step``) and are never written here — a step
passed without one is marked 时间未知 instead.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Callable, Sequence

import asyncpg

from ..ledger import city_status
from ..ledger.deadlines import Deadlines
from ..ledger.flow import State
from ..ledger.ticket_record import COLUMNS, TicketRecord, record_values

#: Serialises imports: two overlapping files must not interleave between reading the stored
#: columns (is_complex, columns a file lacks) and the merge.
_IMPORT_LOCK = 0x74696D70  # "timp"
COPY_CHUNK = 10_000
#: Staged rows merged at once while the file is still being read (see :class:`TicketUpsert`).
MERGE_ROWS = 12_500
#: The columns a ticket's deadlines depend on: a file lacking one leaves existing tickets' deadlines alone.
_DEADLINE_INPUTS = frozenset({"dispatched_at", "urgency", "time_limit_hours", "category_l1", "called_at"})

STAGING_COLUMNS: tuple[str, ...] = ("line_no", *COLUMNS, "sign_due_at", "contact_due_at", "close_due_at",
                                    "city_state", "old_status", "entry_state", "sign_unknown", "contact_unknown",
                                    "close_skipped")

# Fixed SQL text from here on; only values are bound.
_WORK_MEM = "SET LOCAL work_mem = '256MB'"
# Statistics for the columns the merge joins on (tickets, units): the planner needs the row
# count and their spread, not the other 35 columns' (which took most of a full ANALYZE).
_ANALYZE_STAGING = "ANALYZE ticket_import_staging (line_no, ticket_no, department_name, community_name)"
# Empties the staging table after a merge, for the next rows (same transaction).
_EMPTY_STAGING = "TRUNCATE ticket_import_staging"
_CREATE_STAGING = """
CREATE TEMP TABLE ticket_import_staging (
    line_no                 integer NOT NULL,
    ticket_no               text NOT NULL,
    ticket_type             text NOT NULL,
    appeal_kind             text NOT NULL,
    category_l1             text NOT NULL,
    category_l2             text NOT NULL,
    category_l3             text NOT NULL,
    title                   text NOT NULL,
    content                 text NOT NULL,
    urgency                 text NOT NULL,
    caller_name             text NOT NULL,
    caller_phone            text NOT NULL,
    district                text NOT NULL,
    street                  text NOT NULL,
    community_name          text NOT NULL,
    address                 text NOT NULL,
    host_unit               text NOT NULL,
    department_name         text NOT NULL,
    called_at               timestamptz NOT NULL,
    dispatched_at           timestamptz,
    time_limit_hours        integer,
    closed_at               timestamptz,
    city_status             text NOT NULL,
    handling_result         text NOT NULL,
    city_effective_callback boolean,
    city_contacted          text NOT NULL,
    city_solved             text NOT NULL,
    city_satisfied          text NOT NULL,
    city_callback_at        timestamptz,
    sign_due_at             timestamptz NOT NULL,
    contact_due_at          timestamptz NOT NULL,
    close_due_at            timestamptz NOT NULL,
    city_state              text NOT NULL,        -- where the city's 工单状态 places the ticket
    old_status              text,                 -- the ledger's state before this import (existing tickets)
    entry_state             text NOT NULL,        -- its state after the import (never behind old_status)
    sign_unknown            boolean NOT NULL,     -- 签收 / 首次联系 passed without a time: 时间未知
    contact_unknown         boolean NOT NULL,
    close_skipped           boolean NOT NULL      -- past 办结: unknown when there is no 办结时间
) ON COMMIT DROP
"""

# Existing tickets: take over the stored value of every column the file
# does not have, so a file with fewer columns never blanks what it did not mention.
# $2: the file has every input of the deadlines; if not, existing tickets keep theirs.
_MERGE_EXISTING = """
UPDATE ticket_import_staging s SET
       ticket_type             = CASE WHEN 'ticket_type' = ANY($1::text[]) THEN s.ticket_type ELSE t.ticket_type END,
       appeal_kind             = CASE WHEN 'appeal_kind' = ANY($1::text[]) THEN s.appeal_kind ELSE t.appeal_kind END,
       category_l2             = CASE WHEN 'category_l2' = ANY($1::text[]) THEN s.category_l2 ELSE t.category_l2 END,
       category_l3             = CASE WHEN 'category_l3' = ANY($1::text[]) THEN s.category_l3 ELSE t.category_l3 END,
       title                   = CASE WHEN 'title' = ANY($1::text[]) THEN s.title ELSE t.title END,
       content                 = CASE WHEN 'content' = ANY($1::text[]) THEN s.content ELSE t.content END,
       urgency                 = CASE WHEN 'urgency' = ANY($1::text[]) THEN s.urgency ELSE t.urgency END,
       caller_name             = CASE WHEN 'caller_name' = ANY($1::text[]) THEN s.caller_name ELSE t.caller_name END,
       caller_phone            = CASE WHEN 'caller_phone' = ANY($1::text[]) THEN s.caller_phone ELSE t.caller_phone END,
       district                = CASE WHEN 'district' = ANY($1::text[]) THEN s.district ELSE t.district END,
       street                  = CASE WHEN 'street' = ANY($1::text[]) THEN s.street ELSE t.street END,
       community_name          = CASE WHEN 'community_name' = ANY($1::text[]) THEN s.community_name ELSE t.community_name END,
       address                 = CASE WHEN 'address' = ANY($1::text[]) THEN s.address ELSE t.address END,
       host_unit               = CASE WHEN 'host_unit' = ANY($1::text[]) THEN s.host_unit ELSE t.host_unit END,
       department_name         = CASE WHEN 'department_name' = ANY($1::text[]) THEN s.department_name ELSE t.department_name END,
       dispatched_at           = CASE WHEN 'dispatched_at' = ANY($1::text[]) THEN s.dispatched_at ELSE t.dispatched_at END,
       time_limit_hours        = CASE WHEN 'time_limit_hours' = ANY($1::text[]) THEN s.time_limit_hours ELSE t.time_limit_hours END,
       closed_at               = CASE WHEN 'closed_at' = ANY($1::text[]) THEN s.closed_at ELSE t.closed_at END,
       city_status             = CASE WHEN 'city_status' = ANY($1::text[]) THEN s.city_status ELSE t.city_status END,
       handling_result         = CASE WHEN 'handling_result' = ANY($1::text[]) THEN s.handling_result ELSE t.handling_result END,
       city_effective_callback = CASE WHEN 'city_effective_callback' = ANY($1::text[])
                                      THEN s.city_effective_callback ELSE t.city_effective_callback END,
       city_contacted          = CASE WHEN 'city_contacted' = ANY($1::text[]) THEN s.city_contacted ELSE t.city_contacted END,
       city_solved             = CASE WHEN 'city_solved' = ANY($1::text[]) THEN s.city_solved ELSE t.city_solved END,
       city_satisfied          = CASE WHEN 'city_satisfied' = ANY($1::text[]) THEN s.city_satisfied ELSE t.city_satisfied END,
       city_callback_at        = CASE WHEN 'city_callback_at' = ANY($1::text[]) THEN s.city_callback_at
                                      ELSE t.city_callback_at END,
       sign_due_at             = CASE WHEN $2 THEN s.sign_due_at ELSE t.sign_due_at END,
       contact_due_at          = CASE WHEN $2 THEN s.contact_due_at ELSE t.contact_due_at END,
       close_due_at            = CASE WHEN $2 THEN s.close_due_at ELSE t.close_due_at END
  FROM tickets t
 WHERE t.ticket_no = s.ticket_no
"""

# What the ledger holds of the file's tickets that it already has (read under the import lock).
# Then the city's columns the merge compares (_UPSERT's IS DISTINCT FROM), in _CITY_COLUMNS order:
# a row equal in all of them would be left alone by the merge, so it is not staged at all.
# One index lookup per number, whatever the plan cache holds: a prepared statement gets a generic
# plan after five runs, and planned over a still empty ledger (a first import, merged per block)
# "ticket_no = ANY($1)" became a scan of the ledger, which then grew by each block.
_STORED = """
SELECT t.*
  FROM unnest($1::text[]) AS wanted(ticket_no)
 CROSS JOIN LATERAL (
       SELECT ticket_no, is_complex, status, signed_at IS NOT NULL AS signed, first_contact_at IS NOT NULL AS contacted,
              sign_time_unknown, contact_time_unknown, close_time_unknown,
              ticket_type, appeal_kind, category_l1, category_l2, category_l3, title, content,
              urgency, caller_name, caller_phone, district, street, community_name, address,
              host_unit, department_name, called_at, dispatched_at, time_limit_hours, closed_at,
              city_status, handling_result, city_effective_callback, city_contacted, city_solved,
              city_satisfied, city_callback_at
         FROM tickets WHERE tickets.ticket_no = wanted.ticket_no
        LIMIT 1) t                -- ticket_no is unique: LIMIT keeps the subquery a lookup per number
"""
#: The city's columns _UPSERT compares before it updates a ticket (all read by _STORED).
_CITY_COLUMNS = ("ticket_type", "appeal_kind", "category_l1", "category_l2", "category_l3", "title", "content",
                 "urgency", "caller_name", "caller_phone", "district", "street", "community_name", "address",
                 "host_unit", "department_name", "called_at", "dispatched_at", "time_limit_hours", "closed_at",
                 "city_status", "handling_result", "city_effective_callback", "city_contacted", "city_solved",
                 "city_satisfied", "city_callback_at")
#: The columns _MERGE_EXISTING never takes from the ledger: compared whether or not the file has them.
_ALWAYS_COMPARED = frozenset({"category_l1", "called_at"})

_CREATE_UNITS = """
WITH created AS (
    INSERT INTO units (kind, name)
    SELECT DISTINCT 'department', department_name FROM ticket_import_staging WHERE department_name <> ''
    UNION
    SELECT DISTINCT 'community', community_name FROM ticket_import_staging WHERE community_name <> ''
    UNION      -- the names of the unchanged tickets, which were not staged ($1 departments, $2 communities)
    SELECT 'department', name FROM unnest($1::text[]) AS n(name) WHERE name <> ''
    UNION
    SELECT 'community', name FROM unnest($2::text[]) AS n(name) WHERE name <> ''
    ON CONFLICT (kind, name) DO NOTHING
    RETURNING id)
SELECT count(*) FROM created
"""

# New tickets enter at the state the city's 工单状态 names, with one 'import' event naming it;
# existing ones are updated only when a city column differs, and move only forward
# ($2/$3: our states and their ranks, callcenter.ledger.city_status.STATE_RANK).  A ledger
# ahead of the city keeps its state, and the import event records the disagreement.  department_id/community_id are set
# by the flow's 派单 once a ticket is dispatched, so re-import only fills them when empty.
_UPSERT = """
WITH upserted AS (
    INSERT INTO tickets AS t (
        ticket_no, ticket_type, appeal_kind, category_l1, category_l2, category_l3, title, content,
        urgency, caller_name, caller_phone, district, street, community_name, address, host_unit,
        department_name, called_at, dispatched_at, time_limit_hours, closed_at, city_status,
        handling_result, city_effective_callback, city_contacted, city_solved, city_satisfied, city_callback_at,
        department_id, community_id, sign_due_at, contact_due_at, close_due_at,
        status, sign_time_unknown, contact_time_unknown, close_time_unknown, awaiting_since)
    SELECT s.ticket_no, s.ticket_type, s.appeal_kind, s.category_l1, s.category_l2, s.category_l3, s.title,
           s.content, s.urgency, s.caller_name, s.caller_phone, s.district, s.street, s.community_name,
           s.address, s.host_unit, s.department_name, s.called_at, s.dispatched_at, s.time_limit_hours,
           s.closed_at, s.city_status, s.handling_result, s.city_effective_callback, s.city_contacted,
           s.city_solved, s.city_satisfied, s.city_callback_at, d.id, c.id, s.sign_due_at, s.contact_due_at, s.close_due_at,
           s.entry_state, s.sign_unknown, s.contact_unknown, s.close_skipped AND s.closed_at IS NULL,
           CASE WHEN s.entry_state = 'awaiting_callback' THEN now() END
      FROM ticket_import_staging s
      LEFT JOIN units d ON d.kind = 'department' AND d.name = s.department_name
      LEFT JOIN units c ON c.kind = 'community' AND c.name = s.community_name
     ORDER BY s.line_no
    ON CONFLICT (ticket_no) DO UPDATE SET
        ticket_type             = EXCLUDED.ticket_type,
        appeal_kind             = EXCLUDED.appeal_kind,
        category_l1             = EXCLUDED.category_l1,
        category_l2             = EXCLUDED.category_l2,
        category_l3             = EXCLUDED.category_l3,
        title                   = EXCLUDED.title,
        content                 = EXCLUDED.content,
        urgency                 = EXCLUDED.urgency,
        caller_name             = EXCLUDED.caller_name,
        caller_phone            = EXCLUDED.caller_phone,
        district                = EXCLUDED.district,
        street                  = EXCLUDED.street,
        community_name          = EXCLUDED.community_name,
        address                 = EXCLUDED.address,
        host_unit               = EXCLUDED.host_unit,
        department_name         = EXCLUDED.department_name,
        called_at               = EXCLUDED.called_at,
        dispatched_at           = EXCLUDED.dispatched_at,
        time_limit_hours        = EXCLUDED.time_limit_hours,
        closed_at               = EXCLUDED.closed_at,
        city_status             = EXCLUDED.city_status,
        handling_result         = EXCLUDED.handling_result,
        city_effective_callback = EXCLUDED.city_effective_callback,
        city_contacted          = EXCLUDED.city_contacted,
        city_solved             = EXCLUDED.city_solved,
        city_satisfied          = EXCLUDED.city_satisfied,
        city_callback_at        = EXCLUDED.city_callback_at,
        department_id           = coalesce(t.department_id, EXCLUDED.department_id),
        community_id            = coalesce(t.community_id, EXCLUDED.community_id),
        sign_due_at             = EXCLUDED.sign_due_at,
        contact_due_at          = EXCLUDED.contact_due_at,
        close_due_at            = EXCLUDED.close_due_at,
        status                  = EXCLUDED.status,
        sign_time_unknown       = EXCLUDED.sign_time_unknown,
        contact_time_unknown    = EXCLUDED.contact_time_unknown,
        close_time_unknown      = EXCLUDED.close_time_unknown,
        awaiting_since          = CASE WHEN EXCLUDED.status = 'awaiting_callback' AND t.status <> 'awaiting_callback'
                                       THEN now() ELSE t.awaiting_since END,
        updated_at              = now()
     WHERE (t.ticket_type, t.appeal_kind, t.category_l1, t.category_l2, t.category_l3, t.title, t.content,
            t.urgency, t.caller_name, t.caller_phone, t.district, t.street, t.community_name, t.address,
            t.host_unit, t.department_name, t.called_at, t.dispatched_at, t.time_limit_hours, t.closed_at,
            t.city_status, t.handling_result, t.city_effective_callback, t.city_contacted, t.city_solved,
            t.city_satisfied, t.city_callback_at)
           IS DISTINCT FROM
           (EXCLUDED.ticket_type, EXCLUDED.appeal_kind, EXCLUDED.category_l1, EXCLUDED.category_l2,
            EXCLUDED.category_l3, EXCLUDED.title, EXCLUDED.content, EXCLUDED.urgency, EXCLUDED.caller_name,
            EXCLUDED.caller_phone, EXCLUDED.district, EXCLUDED.street, EXCLUDED.community_name,
            EXCLUDED.address, EXCLUDED.host_unit, EXCLUDED.department_name, EXCLUDED.called_at,
            EXCLUDED.dispatched_at, EXCLUDED.time_limit_hours, EXCLUDED.closed_at, EXCLUDED.city_status,
            EXCLUDED.handling_result, EXCLUDED.city_effective_callback, EXCLUDED.city_contacted,
            EXCLUDED.city_solved, EXCLUDED.city_satisfied, EXCLUDED.city_callback_at)
    RETURNING t.id, t.ticket_no, (t.xmax = 0) AS is_new      -- xmax 0: the row was inserted, not updated
), events AS (
    -- A new ticket, a forward move, or a city state behind ours (recorded, not applied).
    INSERT INTO ticket_events (ticket_id, actor, action, from_state, to_state, data)
    SELECT u.id, 'import', 'import', s.old_status, s.entry_state,
           jsonb_build_object('source', $1::text, 'city_status', s.city_status)
           || CASE WHEN s.entry_state <> s.city_state
                   THEN jsonb_build_object('city_state', s.city_state, 'disagreement', '本街道状态领先于市级系统, 保留本街道状态')
                   ELSE '{}'::jsonb END
      FROM upserted u JOIN ticket_import_staging s ON s.ticket_no = u.ticket_no
     WHERE u.is_new OR s.old_status IS DISTINCT FROM s.entry_state OR s.entry_state <> s.city_state
     ORDER BY u.id
)
SELECT count(*) FILTER (WHERE is_new) AS inserted, count(*) FILTER (WHERE NOT is_new) AS updated FROM upserted
"""


@dataclass(frozen=True)
class ImportCounts:
    inserted: int
    updated: int
    unchanged: int
    units_created: int


async def load_category_names(conn: asyncpg.Connection) -> frozenset[str]:
    """Every 一级分类 the ledger accepts."""
    return frozenset(r["name"] for r in await conn.fetch("SELECT name FROM categories"))


class TicketUpsert:
    """One import's transaction, staged block by block while the file is still being read, and merged every
    :data:`MERGE_ROWS` staged rows.

    Why blocks: staging is COPY work for PostgreSQL, reading the file is Python's, so
    block *n* is copied while block *n + 1* is parsed.  The merge of new tickets (their
    indexes, the scoring trigger, the foreign-key checks) is most of an import's
    PostgreSQL CPU; merged once at the end it followed the reading, merged every
    ``merge_rows`` it runs while the next rows are read.  Each merge finds stored tickets
    through the ticket-number index, never by scanning the ledger (EXPLAIN over 1M tickets:
    a nested loop of index lookups, or a merge join reading the index only up to the
    block's last number), and one whose staged rows are all new skips the take-over of
    stored columns.
    It stays all or nothing: everything happens in one transaction, which
    :meth:`__aexit__` commits only when the ``async with`` body ends without an
    exception (an invalid file raises, and nothing of it stays, merged or not).  The
    tickets merged so far stay row-locked until the commit, so a callback verdict on one
    of them waits for the import to end (seconds).  Blocks must not repeat a ticket
    number (the importer rejects duplicates within a file): then merging per block
    writes what one merge of the whole file writes.

    ``deadlines(record, is_complex)`` computes a ticket's deadlines (the domain's
    rule; ``is_complex`` is the flow's 延期 flag of an existing ticket).
    ``present_columns``: the ticket columns the file has; the others keep their
    stored values on existing tickets.  Deadlines are recomputed for existing
    tickets only when the file has every column they depend on.
    """

    def __init__(self, conn: asyncpg.Connection, *, present_columns: frozenset[str],
                 deadlines: Callable[[TicketRecord, bool], Deadlines], source: str, merge_rows: int | None = None):
        self._conn, self._deadlines, self._source = conn, deadlines, source
        self._merge_rows = MERGE_ROWS if merge_rows is None else merge_rows
        self._columns = sorted(present_columns)
        self._placements = _Placements("city_status" in present_columns)
        self._has_deadline_inputs = _DEADLINE_INPUTS <= present_columns
        compared = [c for c in _CITY_COLUMNS if c in present_columns or c in _ALWAYS_COMPARED]
        self._file_values = attrgetter(*compared)
        self._stored_values = itemgetter(*compared)          # a stored Record's values, by name
        self._unstaged_units: tuple[set[str], set[str]] = (set(), set())
        self._staged = self._staged_known = 0       # rows in the staging table; of those, tickets the ledger has
        self._transaction = conn.transaction()
        self.rows = self.inserted = self.updated = self.units_created = 0

    async def __aenter__(self) -> "TicketUpsert":
        await self._transaction.start()
        try:
            await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _IMPORT_LOCK)
            # The merge sorts and hashes the whole file: in memory, not in temp files (this transaction only).
            await self._conn.execute(_WORK_MEM)
            await self._conn.execute(_CREATE_STAGING)
        except BaseException:
            await self._transaction.rollback()
            raise
        return self

    async def __aexit__(self, kind, exc, tb) -> None:
        if kind is None:
            await self._transaction.commit()
        else:
            await self._transaction.rollback()

    async def add(self, records: Sequence[TicketRecord], line_numbers: Sequence[int]) -> None:
        """Stage one block with COPY (inside the transaction), after merging what is staged once that is
        ``merge_rows`` or more.

        Why the merge waits for the next block: its rows (deadlines, states) are built in a
        worker thread while PostgreSQL merges the earlier ones, instead of between merges.
        The block's stored tickets are read first; the merge cannot change them (a file never
        repeats a ticket number).
        """
        if not records:
            return
        conn = self._conn
        stored = {r["ticket_no"]: r for r in await conn.fetch(_STORED, [r.ticket_no for r in records])}
        self.rows += len(records)
        known = 0
        if stored:
            records, line_numbers = self._changed(records, line_numbers, stored)
            known = sum(rec.ticket_no in stored for rec in records)
        if self._staged >= self._merge_rows:
            building = asyncio.ensure_future(asyncio.to_thread(self._staging_rows, records, line_numbers, stored))
            try:
                await self._merge_staged()
            finally:
                rows = await building       # the thread runs to its end whatever the merge did
        else:
            rows = self._staging_rows(records, line_numbers, stored)
        self._staged += len(records)
        self._staged_known += known
        for start in range(0, len(rows), COPY_CHUNK):
            await conn.copy_records_to_table("ticket_import_staging", records=rows[start:start + COPY_CHUNK],
                                             columns=STAGING_COLUMNS)

    def _staging_rows(self, records: Sequence[TicketRecord], line_numbers: Sequence[int],
                      stored: dict[str, asyncpg.Record]) -> list[tuple]:
        """The staging table's rows for ``records``: their deadlines and state columns."""
        complex_nos = {no for no, r in stored.items() if r["is_complex"]}
        deadlines, placements = self._deadlines, self._placements
        return [_staging_row(rec, line, deadlines(rec, rec.ticket_no in complex_nos),
                             placements(rec, stored.get(rec.ticket_no)))
                for rec, line in zip(records, line_numbers)]

    def _changed(self, records: Sequence[TicketRecord], line_numbers: Sequence[int],
                 stored: dict[str, asyncpg.Record]) -> tuple[list[TicketRecord], list[int]]:
        """The records the merge would write: new tickets and those differing in a compared city column.

        Why: on a re-import most rows are unchanged, and staging them (deadlines, states,
        COPY) was most of the work for a merge that then left them alone.  The comparison
        is _UPSERT's IS DISTINCT FROM, column for column (None equals None; datetimes compare
        as instants); columns the file lacks take the stored value in the merge, so they are
        equal.  The city's columns are written by imports only, which the import lock
        serialises, so what was read here still holds at the merge.  An unchanged ticket's
        unit names still go to :data:`_CREATE_UNITS`, as they would from the staging table.
        """
        file_values, stored_values = self._file_values, self._stored_values
        departments, communities = self._unstaged_units
        kept, kept_lines = [], []
        for record, line in zip(records, line_numbers):
            known = stored.get(record.ticket_no)
            if known is not None and file_values(record) == stored_values(known):
                departments.add(known["department_name"])
                communities.add(known["community_name"])
            else:
                kept.append(record)
                kept_lines.append(line)
        return kept, kept_lines

    async def merge(self) -> None:
        """Merge what is still staged into the ledger (still uncommitted): call once, after the last block."""
        await self._merge_staged()

    async def _merge_staged(self) -> None:
        """One set-based merge of the staging table, which is then emptied for the next rows.

        _MERGE_EXISTING is skipped when no staged row is a stored ticket (it would update
        nothing); the units of unchanged tickets seen since the last merge go to _CREATE_UNITS.
        """
        conn = self._conn
        await conn.execute(_ANALYZE_STAGING)
        if self._staged_known:
            await conn.execute(_MERGE_EXISTING, self._columns, self._has_deadline_inputs)
        departments, communities = self._unstaged_units
        self.units_created += await conn.fetchval(_CREATE_UNITS, sorted(departments), sorted(communities))
        counts = await conn.fetchrow(_UPSERT, self._source)
        self.inserted += counts["inserted"]
        self.updated += counts["updated"]
        await conn.execute(_EMPTY_STAGING)
        departments.clear()
        communities.clear()
        self._staged = self._staged_known = 0

    @property
    def counts(self) -> ImportCounts:
        return ImportCounts(self.inserted, self.updated, self.rows - self.inserted - self.updated, self.units_created)


async def upsert_tickets(
    conn: asyncpg.Connection,
    records: Sequence[TicketRecord],
    line_numbers: Sequence[int],
    *,
    present_columns: frozenset[str],
    deadlines: Callable[[TicketRecord, bool], Deadlines],
    source: str,
) -> ImportCounts:
    """Insert new tickets and update changed ones, in one transaction (a :class:`TicketUpsert` of one block)."""
    async with TicketUpsert(conn, present_columns=present_columns, deadlines=deadlines, source=source) as upsert:
        await upsert.add(records, line_numbers)
        await upsert.merge()
    return upsert.counts


#: What the ledger holds of a known ticket, as far as its placement goes (the _STORED columns after ticket_no).
_STORED_PLACE_COLUMNS = ("status", "signed", "contacted", "sign_time_unknown", "contact_time_unknown",
                         "close_time_unknown")


def _placement(city_label: str, effective_callback: bool | None, stored: tuple | None,
               has_status: bool) -> tuple:
    """The staging row's state columns (city_state … close_skipped) for one ticket.

    ``stored``: the ledger's :data:`_STORED_PLACE_COLUMNS` of a known ticket, None for a new one.
    """
    ledger = None if stored is None else city_status.LedgerPlace(State(stored[0]), *stored[1:])
    if ledger is not None and not has_status:
        city = ledger.state        # the file says nothing about the state: it claims none
    else:
        city = city_status.entry_state(city_label, effective_callback)
    placed = city_status.place(city, ledger)
    return (city.value, None if ledger is None else ledger.state.value, placed.state.value,
            placed.sign_unknown, placed.contact_unknown, placed.close_skipped)


class _Placements:
    """:func:`_placement` once per distinct input: a file has a handful of 工单状态 and the ledger a few states.

    Why: it was a third of building 100k staging rows.
    """
    __slots__ = ("_has_status", "_seen")

    def __init__(self, has_status: bool):
        self._has_status, self._seen = has_status, {}

    def __call__(self, record: TicketRecord, stored: asyncpg.Record | None) -> tuple:
        known = None if stored is None else tuple(stored[c] for c in _STORED_PLACE_COLUMNS)
        key = (record.city_status, record.city_effective_callback, known)
        columns = self._seen.get(key)
        if columns is None:
            columns = self._seen[key] = _placement(record.city_status, record.city_effective_callback, known,
                                                    self._has_status)
        return columns


def _staging_row(record: TicketRecord, line: int, due: Deadlines, placement: tuple) -> tuple:
    return (line, *record_values(record), due.sign_due_at, due.contact_due_at, due.close_due_at, *placement)
