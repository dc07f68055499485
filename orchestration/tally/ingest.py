"""`tally ingest`: events from NDJSON, CSV or Parquet → `raw.events`.

Files are read and checked by DuckDB's own readers, in SQL, never row by row in
Python. Each row ends in exactly one of three places: accepted (appended to
`raw.events`), duplicate (its (external_subscription_id, transaction_id) is
already known, or appeared earlier in the same file: first received wins), or
rejected (appended to `raw.rejected` with a reason code). So
`received = accepted + duplicates + rejected` holds for every call.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .catalog import utcnow
from .warehouse import Warehouse

REQUIRED = ("transaction_id", "code", "external_subscription_id")

# A `\u0000` escape in JSON text (one not itself escaped as `\\u0000`).
NUL_ESCAPE = r"(^|[^\\])(\\\\)*\\u0000"
NUL_TEXT = r"\u0000"

# The first matching rule names the reason; order matters (structure before fields).
# A NUL character is refused in the key fields and in properties: PostgreSQL cannot store it, and
# both warehouses must accept the same events.
REJECTION_RULES = [
    ("line_too_long", "the line is longer than the reader's limit", "reader_code = 'line_too_long'"),
    ("invalid_encoding", "the line is not valid UTF-8", "reader_code = 'invalid_encoding'"),
    ("malformed_csv_row", "the CSV row does not have the file's columns", "reader_code = 'malformed_csv_row'"),
    ("invalid_json", "the line is not valid JSON", "reader_code = 'invalid_json' or not is_json"),
    ("not_an_object", "the event is not a JSON object", "ev_type <> 'OBJECT'"),
    *[(f"missing_{f}", f"{f} is missing or empty", f"coalesce(trim({f}), '') = '' and {f}_type in ('NULL', 'VARCHAR')")
      for f in REQUIRED],
    *[(f"invalid_{f}", f"{f} must be a string (without NUL characters)",
       f"{f}_type not in ('VARCHAR', 'BIGINT', 'UBIGINT') or contains({f}, chr(0))")
      for f in REQUIRED],
    ("invalid_timestamp", "timestamp is neither Unix seconds nor an ISO 8601 date-time",
     "ts_given and ts_parsed is null"),
    ("timestamp_out_of_range", "timestamp is before 1970 or after 2100",
     "ts_parsed is not null and (ts_parsed < timestamp '1970-01-01' or ts_parsed >= timestamp '2100-01-01')"),
    ("invalid_properties", "properties must be a JSON object (without NUL characters)",
     # (the regex only runs on the rare text that contains `\u0000` at all)
     f"props_type not in ('OBJECT', 'NULL') or (contains(cast(properties as varchar), '{NUL_TEXT}') "
     f"and regexp_matches(cast(properties as varchar), '{NUL_ESCAPE}'))"),
    ("invalid_precise_total_amount_cents", "precise_total_amount_cents must be a number",
     "precise_text is not null and try_cast(precise_text as decimal(38, 12)) is null"),
]

# DuckDB reader errors (`reject_errors.error_type`) that have a reason of their own; any other
# reader error is `invalid_json` for NDJSON and `malformed_csv_row` for CSV.
READER_ERRORS = {"LINE SIZE OVER MAXIMUM": "line_too_long", "INVALID ENCODING": "invalid_encoding"}

# Unix seconds, as a JSON number or a numeric string.
UNIX_SECONDS = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
# What `timestamptz` may parse: an ISO 8601 date first (so no 'epoch', 'infinity', 'now').
ISO_DATE_TIME = r"[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?"
# Unix seconds are clamped into what DuckDB can represent (years 1..9999) before conversion;
# anything clamped is far outside 1970..2100 and so is rejected as out of range.
MIN_UNIX, MAX_UNIX = -62135596800, 253402300799


@dataclass
class IngestResult:
    source: str
    received: int
    accepted: int
    duplicates: int
    rejected: int
    batch_id: str

    def line(self) -> str:
        return (f"{self.source}: received {self.received} = accepted {self.accepted} + "
                f"duplicates {self.duplicates} + rejected {self.rejected}")


def _format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffixes = "".join(path.suffixes).lower()
    for ext, name in ((".parquet", "parquet"), (".csv", "csv"), (".ndjson", "ndjson"),
                      (".jsonl", "ndjson"), (".json", "ndjson")):
        if ext in suffixes:
            return name
    raise ValueError(f"{path}: cannot tell the format from the extension (use .ndjson, .csv or .parquet)")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _field_sql(expr_json: str) -> str:
    """Typed fields out of one JSON event value (`ev`)."""
    cols = []
    for f in REQUIRED:
        cols.append(f"coalesce(json_type({expr_json}, '$.{f}'), 'NULL') as {f}_type")
        cols.append(f"json_extract_string({expr_json}, '$.{f}') as {f}")
    cols += [
        f"json_type({expr_json}, '$.timestamp') as ts_type",
        f"json_extract_string({expr_json}, '$.timestamp') as ts_text",
        f"coalesce(json_type({expr_json}, '$.properties'), 'NULL') as props_type",
        f"json_extract({expr_json}, '$.properties') as properties",
        f"json_extract_string({expr_json}, '$.precise_total_amount_cents') as precise_text",
    ]
    return ",\n        ".join(cols)


def _reader_code(fallback: str) -> str:
    """SQL: the reason code of one line's DuckDB reader errors (a list `types` of `error_type`s)."""
    cases = " ".join(f"when list_contains(types, '{t}') then '{c}'" for t, c in READER_ERRORS.items())
    return f"case {cases} else '{fallback}' end"


_BLANK = r"regexp_full_match(coalesce(line, ''), '\s*')"


def _read_lines(duck, p: str) -> None:
    """Temp tables `lines` (line_no, line): the file's lines numbered as in the file, blank ones
    included; and `line_errors` (line_no, types, message, csv_line): the lines DuckDB could not read
    as text (not UTF-8, longer than the reader's limit, a NUL byte)."""
    duck.execute("drop table if exists temp.line_rejects; drop table if exists temp.line_scans")
    duck.execute(f"""
        create or replace temp table lines as
        select row_number() over () as line_no, line
        from read_csv({p}, columns={{'line': 'VARCHAR'}}, header=false, delim=chr(0), quote='',
                      escape='', auto_detect=false, store_rejects=true,
                      rejects_table='line_rejects', rejects_scan='line_scans')
    """)
    duck.execute("""
        create or replace temp table line_errors as
        select line as line_no, list(distinct error_type) as types, string_agg(error_message, '; ') as message,
               ltrim(any_value(csv_line), chr(10) || chr(13)) as csv_line
        from line_rejects
        group by line
    """)
    if duck.execute("select count(*) from line_errors").fetchone()[0]:
        # The readable lines fill, in order, the line numbers the unreadable ones leave free.
        duck.execute("""
            create or replace temp table lines as
            with free as (
                select line_no, row_number() over (order by line_no) as good_no
                from range(1, (select count(*) from lines) + (select count(*) from line_errors) + 1) t(line_no)
                where line_no not in (select line_no from line_errors)
            )
            select f.line_no, l.line from lines l join free f on f.good_no = l.line_no
        """)


def _parse_ts(text: str) -> str:
    """SQL: the UTC `timestamp` a timestamp text stands for (Unix seconds or ISO 8601), else NULL.
    (Unix seconds never hold a `:`: the cheap test spares most ISO texts a regex.)"""
    t = f"trim({text})"
    return f"""case when {text} is null then null
                    when not contains({text}, ':') and regexp_full_match({t}, '{UNIX_SECONDS}')
                        then timezone('UTC', to_timestamp(greatest(least(try_cast({t} as double), {MAX_UNIX}), {MIN_UNIX})))
                    when regexp_full_match({t}, '{ISO_DATE_TIME}')
                        then timezone('UTC', try_cast({t} as timestamptz))
               end"""


def _text_view(select: str) -> str:
    """SQL: view `incoming` over a select of text fields (`ts_text` among them)."""
    return f"""
        create or replace temp view incoming as
        select *, ts_text is not null as ts_given, {_parse_ts('ts_text')} as ts_parsed
        from ({select})
    """


# Parquet timestamp types that convert exactly to the microsecond UTC `timestamp` their text form parses to.
_PARQUET_TS = {
    "TIMESTAMP WITH TIME ZONE": "timezone('UTC', ts_src)",
    "TIMESTAMP": "ts_src",
    "TIMESTAMP_MS": "cast(ts_src as timestamp)",
    "TIMESTAMP_S": "cast(ts_src as timestamp)",
    # a cast would round the nanoseconds; the text form truncates them
    "TIMESTAMP_NS": "make_timestamp(epoch_ns(ts_src) // 1000)",
}


def _stage(duck, path: Path, fmt: str) -> str:
    """Create temp view `incoming`: one row per received row, with its fields as text, `ts_given` and
    `ts_parsed`. Returns the SQL (over `incoming`) of the timestamp as text, for rejected rows only."""
    p = _sql_str(str(path))
    if fmt == "ndjson":
        _read_lines(duck, p)
        duck.execute(_text_view(f"""
            with parsed as (
                select line_no, line as raw_text, json_valid(line) as is_json,
                       case when json_valid(line) then cast(line as json) end as doc
                from lines
                where not {_BLANK}
            ), unwrapped as (
                -- a Lago request body ({{"event": {{...}}}}) or a bare event
                select *, case when json_type(doc, '$.event') = 'OBJECT' then json_extract(doc, '$.event')
                               else doc end as ev
                from parsed
            )
            select line_no, raw_text, is_json, cast(null as varchar) as reader_code,
                   cast(null as varchar) as reader_error,
                   coalesce(json_type(ev), 'NULL') as ev_type,
                   {_field_sql('ev')}
            from unwrapped
            union all by name
            select line_no, csv_line as raw_text, {_reader_code('invalid_json')} as reader_code,
                   message as reader_error
            from line_errors
        """))
        return "ts_text"
    elif fmt == "csv":
        _read_lines(duck, p)
        duck.execute("drop table if exists temp.csv_rejects; drop table if exists temp.csv_scans")
        duck.execute(f"""
            create or replace temp table csv_rows as
            select row_number() over () as good_no, r as rec
            from read_csv({p}, header=true, all_varchar=true, store_rejects=true,
                          rejects_table='csv_rejects', rejects_scan='csv_scans') r
        """)
        cols = {d[0] for d in duck.execute("select rec.* from csv_rows limit 0").description}
        _require_columns(path, cols)
        # Every line of the file: blank ones are skipped by the CSV reader and are not received
        # (DuckDB rejects a line of spaces as having too few columns: that is blank too).
        duck.execute(f"""
            create or replace temp table csv_lines as
            select line_no, line, {_BLANK} as blank from lines
            union all
            select line_no, null, false from line_errors
        """)
        duck.execute("""
            create or replace temp table csv_errors as
            select line as line_no, list(distinct error_type) as types, string_agg(error_message, '; ') as message,
                   ltrim(any_value(csv_line), chr(10) || chr(13)) as csv_line
            from csv_rejects
            where line not in (select line_no from csv_lines where blank)
            group by line
        """)
        # Good rows fill, in order, the non-blank lines after the header that the reader did not reject
        # (one record per line: quoted newlines inside CSV fields are not supported).
        duck.execute("""
            create or replace temp table csv_good_lines as
            select line_no, row_number() over (order by line_no) as good_no
            from csv_lines
            where not blank
              and line_no > (select min(line_no) from csv_lines where not blank)
              and line_no not in (select line_no from csv_errors)
        """)
        counts = duck.execute("select (select count(*) from csv_good_lines), (select count(*) from csv_rows)"
                              ).fetchone()
        if counts[0] != counts[1]:
            # The reader skipped lines some other way: number the good rows from line 2 around the rejects.
            duck.execute("""
                create or replace temp table csv_good_lines as
                select i + 2 as line_no, row_number() over (order by i) as good_no
                from range((select count(*) from csv_rows) + (select count(*) from csv_errors)) t(i)
                where i + 2 not in (select line_no from csv_errors)
            """)
        opt = {c: (f'rec."{c}"' if c in cols else "cast(null as varchar)") for c in
               ("timestamp", "properties", "precise_total_amount_cents")}
        duck.execute(_text_view(f"""
            with rows_as_json as (
                select g.line_no,
                       json_object('transaction_id', rec.transaction_id, 'code', rec.code,
                                   'external_subscription_id', rec.external_subscription_id,
                                   'timestamp', {opt['timestamp']},
                                   'precise_total_amount_cents', {opt['precise_total_amount_cents']}) as base,
                       {opt['properties']} as props_text,
                       coalesce(l.line, to_json(rec)::varchar) as raw_text
                from csv_rows r
                join csv_good_lines g using (good_no)
                left join csv_lines l using (line_no)
            ), ev as (
                -- properties that are not JSON stay a string, and so fail as invalid_properties
                select line_no, raw_text, true as is_json,
                       case when props_text is null then base
                            when json_valid(props_text)
                                then json_merge_patch(base, json_object('properties', cast(props_text as json)))
                            else json_merge_patch(base, json_object('properties', props_text))
                       end as ev
                from rows_as_json
            )
            select line_no, raw_text, is_json, cast(null as varchar) as reader_code,
                   cast(null as varchar) as reader_error, 'OBJECT' as ev_type,
                   {_field_sql('ev')}
            from ev
            union all by name
            select e.line_no, coalesce(l.line, e.csv_line) as raw_text,
                   {_reader_code('malformed_csv_row')} as reader_code, e.message as reader_error
            from csv_errors e left join csv_lines l using (line_no)
        """))
        return "ts_text"
    elif fmt == "parquet":
        duck.execute(f"create or replace temp view pq as select * from read_parquet({p}, file_row_number=true)")
        cols = {r[0]: r[1] for r in duck.execute("select column_name, column_type from (describe pq)").fetchall()}
        _require_columns(path, set(cols))
        ts = cols.get("timestamp")
        # The timestamp as text, as a text field would carry it: kept for rejected rows, and parsed for
        # the rare values a typed timestamp cannot be used as is for.
        if ts is None:
            ts_text = "cast(null as varchar)"
        elif ts.startswith("TIMESTAMP WITH"):
            ts_text = "strftime(timezone('UTC', ts_src), '%Y-%m-%dT%H:%M:%S.%fZ')"
        elif ts.startswith("TIMESTAMP"):
            ts_text = "strftime(ts_src, '%Y-%m-%dT%H:%M:%S.%fZ')"
        else:
            ts_text = "cast(ts_src as varchar)"
        if ts in _PARQUET_TS:
            # Within 1970..2100 a typed timestamp is what its text parses back to: use it directly.
            cast = "timestamp_ns" if ts == "TIMESTAMP_NS" else "timestamp"
            bound = "ts_src" if ts == "TIMESTAMP_NS" else _PARQUET_TS[ts]
            ts_parsed = f"""case when ts_src is null then null
                                 when {bound} >= {cast} '1970-01-01' and {bound} < {cast} '2100-01-01'
                                     then {_PARQUET_TS[ts]}
                                 else {_parse_ts(ts_text)} end"""
        else:
            ts_parsed = _parse_ts(ts_text)
        props = cols.get("properties")
        if props is None:
            props_expr = "cast(null as json)"
        elif props.startswith(("STRUCT", "MAP")):
            props_expr = "to_json(properties)"
        elif props == "VARCHAR":
            # text that is not JSON becomes a JSON string, and so fails as invalid_properties
            # (one parse: a failed try_cast is what json_valid refuses)
            props_expr = "coalesce(try_cast(properties as json), to_json(properties))"
        else:
            # text that is not JSON becomes a JSON string, and so fails as invalid_properties
            props_expr = ("case when json_valid(cast(properties as varchar)) then cast(properties as json) "
                          "else to_json(cast(properties as varchar)) end")
        precise = "cast(precise_total_amount_cents as varchar)" if "precise_total_amount_cents" in cols \
            else "cast(null as varchar)"
        typ = {f: ("'VARCHAR'" if cols[f] == "VARCHAR" else "'BIGINT'" if cols[f] in _INTEGER_TYPES else "'OTHER'")
               for f in REQUIRED}
        duck.execute(f"""
            create or replace temp view incoming as
            select line_no,
                   cast(null as varchar) as raw_text,
                   true as is_json,
                   cast(null as varchar) as reader_code,
                   cast(null as varchar) as reader_error,
                   'OBJECT' as ev_type,
                   case when transaction_id is null then 'NULL' else {typ['transaction_id']} end as transaction_id_type,
                   cast(transaction_id as varchar) as transaction_id,
                   case when code is null then 'NULL' else {typ['code']} end as code_type,
                   cast(code as varchar) as code,
                   case when external_subscription_id is null then 'NULL'
                        else {typ['external_subscription_id']} end as external_subscription_id_type,
                   cast(external_subscription_id as varchar) as external_subscription_id,
                   ts_src,
                   ts_src is not null as ts_given,
                   {ts_parsed} as ts_parsed,
                   -- valid JSON that starts with a brace is an object: no need to parse it again to know
                   case when props is null then 'NULL' when starts_with(props, '{{') then 'OBJECT'
                        else coalesce(json_type(props), 'NULL') end as props_type,
                   props as properties,
                   precise_text
            from (
                select file_row_number + 1 as line_no, transaction_id, code, external_subscription_id,
                       {'"timestamp"' if ts else 'cast(null as varchar)'} as ts_src,
                       {props_expr} as props,
                       {precise} as precise_text
                from pq
            )
        """)
        return ts_text
    else:
        raise ValueError(f"unknown format {fmt!r}")


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                  "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}


def _require_columns(path: Path, cols: set[str]) -> None:
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise ValueError(f"{path}: missing required column(s): {', '.join(missing)}")


def _classify(duck, ts_text: str) -> None:
    """Temp table `checked`: every incoming row with its fate (NULL reason_code = acceptable), with
    only the columns the writers need; the raw text is kept for rejected rows only."""
    reason_case = "\n".join(f"when {cond} then '{code}'" for code, _, cond in REJECTION_RULES)
    duck.execute(f"""
        create or replace temp table checked as
        select line_no, reason_code, transaction_id, external_subscription_id, code, ts_parsed, properties,
               precise_text,
               -- PostgreSQL cannot store a NUL character: it becomes U+FFFD
               case when reason_code is not null then
                   replace(coalesce(raw_text, to_json(struct_pack(transaction_id, code, external_subscription_id,
                            "timestamp" := {ts_text}, properties,
                            precise_total_amount_cents := precise_text))::varchar), chr(0), chr(65533))
               end as raw_text,
               case when reason_code is not null then reader_error end as reader_error
        from (select *, case {reason_case} end as reason_code from incoming)
    """)


def _outcomes(duck, source: str, received_at: datetime, batch_id: str) -> None:
    """Temp table `skip_lines`: the acceptable lines whose key an earlier acceptable line of the file
    holds (first received wins); view `accepted` (the acceptable rows as `raw.events` rows, with their
    `line_no`) and view `rejections` (as `raw.rejected` rows)."""
    at = f"cast({_sql_str(received_at.isoformat(sep=' '))} as timestamp)"
    duck.execute(f"""
        create or replace temp view accepted as
        select line_no, transaction_id, external_subscription_id, code,
               ts_parsed as "timestamp",
               coalesce(properties, cast('{{}}' as json)) as properties,
               try_cast(precise_text as decimal(38, 12)) as precise_total_amount_cents,
               {at} as received_at,
               {_sql_str(batch_id)} as batch_id
        from checked
        where reason_code is null
    """)
    duck.execute("create or replace temp table skip_lines (line_no bigint)")
    if _dup_hashes(duck):
        duck.execute("""
            insert into skip_lines
            select line_no from (
                select line_no,
                       row_number() over (partition by external_subscription_id, transaction_id
                                          order by line_no) as nth
                from checked
                where reason_code is null
                  and hash(external_subscription_id, transaction_id) in (select h from dup_hashes)
            )
            where nth > 1
        """)
    reason_text = " ".join(f"when '{code}' then {_sql_str(text)}" for code, text, _ in REJECTION_RULES)
    duck.execute(f"""
        create or replace temp view rejections as
        select {_sql_str(source)} || ':' || line_no as source, reason_code,
               case reason_code {reason_text} end || coalesce(': ' || reader_error, '') as reason,
               raw_text,
               {at} as received_at
        from checked
        where reason_code is not null
    """)


def _dup_hashes(duck) -> int:
    """Temp table `dup_hashes`: the hashes of keys that more than one acceptable row has (usually none:
    grouping the hashes finds that faster than grouping by the key strings, and in DuckDB faster
    than sorting them in numpy, which also costs its import). Returns their number."""
    duck.execute("""
        create or replace temp table dup_hashes as
        select h from (
            select hash(external_subscription_id, transaction_id) as h from checked where reason_code is null
        ) as keyed
        group by h
        having count(*) > 1
    """)
    return duck.execute("select count(*) from dup_hashes").fetchone()[0]


def _candidates(duck) -> str:
    """SQL: the accepted rows not in `skip_lines` (no join when there is nothing to skip: a join in
    front of a large insert slows it down)."""
    if duck.execute("select count(*) from skip_lines").fetchone()[0]:
        return "(select a.* from accepted a anti join skip_lines s on s.line_no = a.line_no)"
    return "accepted"


_TEMP_TABLES = ("lines", "line_errors", "line_rejects", "line_scans", "checked", "dup_hashes", "skip_lines",
                "csv_rows", "csv_rejects", "csv_scans", "csv_lines", "csv_errors", "csv_good_lines")
_TEMP_VIEWS = ("rejections", "accepted", "incoming", "pq")


def ingest_file(wh: Warehouse, path: str | Path, received_at: datetime | None = None,
                fmt: str | None = None) -> IngestResult:
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    fmt = _format(path, fmt)
    received_at = received_at or utcnow()
    batch_id = uuid.uuid4().hex
    wh.ensure_raw()
    if wh.target == "duckdb":
        duck = wh.connect()
    else:
        import duckdb

        duck = duckdb.connect()
        duck.execute("set TimeZone = 'UTC'")
    try:
        ts_text = _stage(duck, path, fmt)
        _classify(duck, ts_text)
        _outcomes(duck, str(path), received_at, batch_id)
        received, rejected = duck.execute(
            "select count(*), count(reason_code) from checked").fetchone()
        if wh.target == "duckdb":
            accepted = _write_duckdb(wh, duck, rejected)
        else:
            accepted = _write_postgres(wh, duck, rejected)
    finally:
        if wh.target != "duckdb":
            duck.close()
        else:
            for v in _TEMP_VIEWS:
                duck.execute(f"drop view if exists temp.{v}")
            for t in _TEMP_TABLES:
                duck.execute(f"drop table if exists temp.{t}")
    return IngestResult(str(path), received, accepted, received - accepted - rejected, rejected, batch_id)


_EVENT_COLS = ('transaction_id, external_subscription_id, code, "timestamp", properties, '
               "precise_total_amount_cents, received_at, batch_id")


def _write_duckdb(wh: Warehouse, duck, rejected: int) -> int:
    raw = f'"{wh.raw}"'
    # Rows in any order (the logs are read by key and time, never by position, as on PostgreSQL),
    # so that DuckDB's writers fill whole row groups: in insertion order each insert left dozens
    # part-filled (54 of 133 at 10M events), and every later checkpoint merged some of them
    # again — 3 to 6 s each at 10M, paid by the next `tally bill`. (A setting of the database,
    # restored after the transaction: in a failed one, DuckDB refuses every statement.)
    keep_order = duck.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    duck.execute("set preserve_insertion_order = false")
    try:
        with wh.transaction():
            # first received wins: the lines whose key raw.events already holds are duplicates too
            if duck.execute(f"select count(*) from (select 1 from {raw}.events limit 1)").fetchone()[0]:
                duck.execute(f"""
                    insert into skip_lines
                    select a.line_no from accepted a
                    semi join {raw}.events e
                        on e.external_subscription_id = a.external_subscription_id
                       and e.transaction_id = a.transaction_id
                """)
            accepted = duck.execute(f"""
                insert into {raw}.events ({_EVENT_COLS})
                select {_EVENT_COLS} from {_candidates(duck)}
            """).fetchone()[0]
            if rejected:
                duck.execute(f"""
                    insert into {raw}.rejected (source, reason_code, reason, raw_text, received_at)
                    select * from rejections r
                    where not exists (select 1 from {raw}.rejected x
                                      where x.source = r.source and x.raw_text is not distinct from r.raw_text)
                """)
    finally:
        duck.execute(f"set preserve_insertion_order = {'true' if keep_order else 'false'}")
    return accepted


def _copy(duck, pg_cur, relation: str, target: str, columns: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "rows.csv")
        duck.execute(f"copy (select {columns} from {relation}) to {_sql_str(f)} (header false, format csv)")
        with open(f) as fh:
            pg_cur.copy_expert(f"copy {target} ({columns}) from stdin with (format csv)", fh)


def _write_postgres(wh: Warehouse, duck, rejected: int) -> int:
    conn = wh.connect()
    raw = f'"{wh.raw}"'
    with wh.transaction():
        cur = conn.cursor()
        cur.execute(f"create temp table incoming_events (like {raw}.events) on commit drop")
        cur.execute(f"create temp table incoming_rejected (like {raw}.rejected) on commit drop")
        _copy(duck, cur, _candidates(duck), "incoming_events", _EVENT_COLS)
        _copy(duck, cur, "rejections", "incoming_rejected", "source, reason_code, reason, raw_text, received_at")
        cur.execute(f"""
            insert into {raw}.events ({_EVENT_COLS})
            select {_EVENT_COLS} from incoming_events
            on conflict (external_subscription_id, transaction_id) do nothing
        """)
        accepted = cur.rowcount
        cur.execute(f"""
            insert into {raw}.rejected (source, reason_code, reason, raw_text, received_at)
            select * from incoming_rejected r
            where not exists (select 1 from {raw}.rejected x
                              where x.source = r.source and x.raw_text is not distinct from r.raw_text)
        """)
    return accepted
