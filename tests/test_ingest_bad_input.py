"""Bad input for the event loader (`tally ingest`), on DuckDB and on PostgreSQL.

Every call must keep `received = accepted + duplicates + rejected`; every malformed row lands in
`raw.rejected` with its reason code and the number of its line (or Parquet row), and good rows
around it are still accepted. All expected values below are worked out by hand.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tally.ingest import ingest_file

AT = datetime(2024, 3, 5, 12, 0, 0)
CSV_HEADER = "transaction_id,external_subscription_id,code,timestamp,properties,precise_total_amount_cents"


# -- helpers ------------------------------------------------------------------------------------
def ev(tid, sub="sub_1", code="api_calls", **extra) -> str:
    """One NDJSON line."""
    return json.dumps({"transaction_id": tid, "external_subscription_id": sub, "code": code, **extra})


def bare(**fields) -> str:
    """One NDJSON line with exactly these fields."""
    return json.dumps(fields)


def write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text(end.join(lines) + end)
    return path


def ingest(wh, path, at: datetime = AT, fmt: str | None = None):
    result = ingest_file(wh, path, received_at=at, fmt=fmt)
    assert result.received == result.accepted + result.duplicates + result.rejected, result.line()
    return result


def counts(result) -> tuple[int, int, int, int]:
    return result.received, result.accepted, result.duplicates, result.rejected


def rejected(wh) -> list[tuple[int, str, str]]:
    """(line, reason_code, raw_text) of every row of raw.rejected, by line."""
    _, rows = wh.query(f'select source, reason_code, raw_text from "{wh.raw}".rejected')
    return sorted((int(src.rsplit(":", 1)[1]), code, raw) for src, code, raw in rows)


def reasons(wh) -> list[tuple[int, str]]:
    return [(line, code) for line, code, _ in rejected(wh)]


def events(wh) -> dict[tuple[str, str], dict]:
    """raw.events keyed by (external_subscription_id, transaction_id)."""
    rows = wh.records(
        f'select external_subscription_id, transaction_id, code, "timestamp", properties, '
        f'precise_total_amount_cents from "{wh.raw}".events')
    out = {}
    for r in rows:
        props = r["properties"]
        r["properties"] = json.loads(props) if isinstance(props, str) else props
        out[(r["external_subscription_id"], r["transaction_id"])] = r
    return out


def n_rows(wh, table: str) -> int:
    return wh.query(f'select count(*) from "{wh.raw}".{table}')[1][0][0]


def write_parquet(path: Path, columns: dict[str, list], types: dict[str, pa.DataType] | None = None) -> Path:
    types = types or {}
    table = pa.table({name: pa.array(values, type=types.get(name, pa.string()))
                      for name, values in columns.items()})
    pq.write_table(table, path)
    return path


# -- NDJSON: one malformed line between two good ones ---------------------------------------------
OK = {"transaction_id": "t", "external_subscription_id": "sub_1", "code": "api_calls"}

NDJSON_CASES = [
    # structure
    ("not_json", "this is not json", "invalid_json"),
    ("truncated_line", '{"transaction_id": "t", "external_subscription_id": "sub_1", "code": "api_ca',
     "invalid_json"),
    ("trailing_garbage", '{"transaction_id": "t", "external_subscription_id": "sub_1", "code": "c"} x',
     "invalid_json"),
    ("json_array", json.dumps([OK]), "not_an_object"),
    ("json_string", '"an event"', "not_an_object"),
    ("json_number", "42", "not_an_object"),
    ("json_null", "null", "not_an_object"),
    # required fields
    ("missing_transaction_id", bare(external_subscription_id="sub_1", code="api_calls"), "missing_transaction_id"),
    ("empty_transaction_id", ev(""), "missing_transaction_id"),
    ("blank_transaction_id", ev("   "), "missing_transaction_id"),
    ("null_transaction_id", ev(None), "missing_transaction_id"),
    ("missing_code", bare(transaction_id="t", external_subscription_id="sub_1"), "missing_code"),
    ("empty_code", ev("t", code=""), "missing_code"),
    ("missing_external_subscription_id", bare(transaction_id="t", code="api_calls"),
     "missing_external_subscription_id"),
    ("lago_body_missing_code", json.dumps({"event": {"transaction_id": "t", "external_subscription_id": "sub_1"}}),
     "missing_code"),
    ("transaction_id_object", ev({"id": 1}), "invalid_transaction_id"),
    ("transaction_id_boolean", ev(True), "invalid_transaction_id"),
    ("transaction_id_with_nul", ev("a\x00b"), "invalid_transaction_id"),
    ("code_array", ev("t", code=["api_calls"]), "invalid_code"),
    ("code_float", ev("t", code=1.5), "invalid_code"),
    ("external_subscription_id_object", ev("t", sub={"id": "sub_1"}), "invalid_external_subscription_id"),
    # timestamp
    ("timestamp_unparsable", ev("t", timestamp="yesterday"), "invalid_timestamp"),
    ("timestamp_boolean", ev("t", timestamp=True), "invalid_timestamp"),
    ("timestamp_object", ev("t", timestamp={"seconds": 1700000000}), "invalid_timestamp"),
    ("timestamp_array", ev("t", timestamp=[1700000000]), "invalid_timestamp"),
    ("timestamp_impossible_date", ev("t", timestamp="2024-02-30T00:00:00Z"), "invalid_timestamp"),
    ("timestamp_word_epoch", ev("t", timestamp="epoch"), "invalid_timestamp"),
    ("timestamp_empty_string", ev("t", timestamp=""), "invalid_timestamp"),
    ("timestamp_before_1970", ev("t", timestamp="1969-12-31T23:59:59Z"), "timestamp_out_of_range"),
    ("timestamp_negative_unix", ev("t", timestamp=-1), "timestamp_out_of_range"),
    ("timestamp_2100", ev("t", timestamp="2100-01-01T00:00:00Z"), "timestamp_out_of_range"),
    ("timestamp_unix_2100", ev("t", timestamp=4102444800), "timestamp_out_of_range"),
    ("timestamp_unix_huge_number", '{"transaction_id": "t", "external_subscription_id": "sub_1", '
     '"code": "api_calls", "timestamp": 100000000000000000000}', "timestamp_out_of_range"),
    ("timestamp_unix_huge_string", ev("t", timestamp="99999999999999999999"), "timestamp_out_of_range"),
    # properties
    ("properties_string", ev("t", properties="plan=pro"), "invalid_properties"),
    ("properties_array", ev("t", properties=[{"plan": "pro"}]), "invalid_properties"),
    ("properties_number", ev("t", properties=3), "invalid_properties"),
    ("properties_with_nul", ev("t", properties={"plan": "p\x00ro"}), "invalid_properties"),
    # precise_total_amount_cents
    ("precise_non_numeric", ev("t", precise_total_amount_cents="12 cents"), "invalid_precise_total_amount_cents"),
    ("precise_boolean", ev("t", precise_total_amount_cents=True), "invalid_precise_total_amount_cents"),
    ("precise_object", ev("t", precise_total_amount_cents={"value": 1}), "invalid_precise_total_amount_cents"),
]


@pytest.mark.parametrize("kind, line, reason", NDJSON_CASES, ids=[c[0] for c in NDJSON_CASES])
def test_ndjson_malformed_line(warehouse, tmp_path, kind, line, reason):
    path = write(tmp_path / "events.ndjson", [ev("ok-1"), line, ev("ok-2")])
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert rejected(warehouse) == [(2, reason, line)]
    assert set(events(warehouse)) == {("sub_1", "ok-1"), ("sub_1", "ok-2")}


def test_ndjson_all_kinds_in_one_file(warehouse, tmp_path):
    """Every kind above in one file, after a good line each, with blank lines in between."""
    lines, expected = [], []
    for i, (_, line, reason) in enumerate(NDJSON_CASES):
        lines += [ev(f"good-{i}"), line, ""]
        expected.append((3 * i + 2, reason))
    path = write(tmp_path / "mixed.ndjson", lines)
    n = len(NDJSON_CASES)
    assert n == 41
    assert counts(ingest(warehouse, path)) == (2 * n, n, 0, n)
    assert reasons(warehouse) == expected
    assert set(events(warehouse)) == {("sub_1", f"good-{i}") for i in range(n)}


def test_ndjson_first_failing_rule_names_the_reason(warehouse, tmp_path):
    path = write(tmp_path / "events.ndjson", [
        bare(transaction_id="a", external_subscription_id="sub_1", timestamp="nope"),   # no code, bad time
        ev("b", code=["x"], timestamp="nope", properties="x"),                         # bad code first
        ev("c", timestamp="nope", properties="x", precise_total_amount_cents="x"),     # bad time first
        ev("d", properties="x", precise_total_amount_cents="x"),                        # bad properties first
        '[1, 2',                                                                       # not JSON at all
    ])
    assert counts(ingest(warehouse, path)) == (5, 0, 0, 5)
    assert reasons(warehouse) == [(1, "missing_code"), (2, "invalid_code"), (3, "invalid_timestamp"),
                                  (4, "invalid_properties"), (5, "invalid_json")]


def test_ndjson_lines_duckdb_cannot_read_as_text(warehouse, tmp_path):
    """Invalid UTF-8 and a raw NUL byte reject their own line only; later lines keep their numbers."""
    path = tmp_path / "bytes.ndjson"
    path.write_bytes(b"\n".join([
        ev("ok-1").encode(),
        b'{"transaction_id": "bad-\xff\xfe", "external_subscription_id": "sub_1", "code": "api_calls"}',
        b"",
        ev("ok-2").encode(),
        b'{"transaction_id": "nul-\x00", "external_subscription_id": "sub_1", "code": "api_calls"}',
        ev("ok-3").encode(),
    ]) + b"\n")
    assert counts(ingest(warehouse, path)) == (5, 3, 0, 2)
    assert reasons(warehouse) == [(2, "invalid_encoding"), (5, "invalid_json")]
    assert "\x00" not in rejected(warehouse)[1][2]
    assert set(events(warehouse)) == {("sub_1", "ok-1"), ("sub_1", "ok-2"), ("sub_1", "ok-3")}


def test_ndjson_line_longer_than_the_reader_limit(warehouse, tmp_path):
    long_line = ev("huge", properties={"blob": "x" * 2_100_000})
    path = write(tmp_path / "long.ndjson", [ev("ok-1"), long_line, ev("ok-2")])
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert reasons(warehouse) == [(2, "line_too_long")]
    assert set(events(warehouse)) == {("sub_1", "ok-1"), ("sub_1", "ok-2")}


# -- CSV ------------------------------------------------------------------------------------------
CSV_CASES = [
    ("too_many_columns", "t,sub_1,api_calls,,,,extra", "malformed_csv_row"),
    ("too_few_columns", "t,sub_1", "malformed_csv_row"),
    ("empty_transaction_id", ",sub_1,api_calls,,,", "missing_transaction_id"),
    ("empty_code", "t,sub_1,,,,", "missing_code"),
    ("empty_external_subscription_id", "t,,api_calls,,,", "missing_external_subscription_id"),
    ("all_fields_empty", ",,,,,", "missing_transaction_id"),
    ("properties_not_json", "t,sub_1,api_calls,,{plan: pro},", "invalid_properties"),
    ("properties_json_array", 't,sub_1,api_calls,,"[1, 2]",', "invalid_properties"),
    ("properties_json_string", 't,sub_1,api_calls,,"""pro""",', "invalid_properties"),
    ("timestamp_unparsable", "t,sub_1,api_calls,next tuesday,,", "invalid_timestamp"),
    ("timestamp_before_1970", "t,sub_1,api_calls,1969-07-20T20:17:40Z,,", "timestamp_out_of_range"),
    ("timestamp_negative_unix", "t,sub_1,api_calls,-86400,,", "timestamp_out_of_range"),
    ("precise_non_numeric", "t,sub_1,api_calls,,,ten", "invalid_precise_total_amount_cents"),
]


@pytest.mark.parametrize("kind, row, reason", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_csv_malformed_row(warehouse, tmp_path, kind, row, reason):
    path = write(tmp_path / "events.csv", [CSV_HEADER, "ok-1,sub_1,api_calls,,,", row, "ok-2,sub_1,api_calls,,,"])
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert rejected(warehouse) == [(3, reason, row)]
    assert set(events(warehouse)) == {("sub_1", "ok-1"), ("sub_1", "ok-2")}


def test_csv_blank_lines_and_line_numbers(warehouse, tmp_path):
    path = write(tmp_path / "events.csv", [
        CSV_HEADER,                                   # 1
        'ok-1,sub_1,api_calls,,"{""n"": 1}",',         # 2
        "",                                           # 3 blank
        "   ",                                        # 4 blank (spaces)
        "bad,sub_1",                                  # 5 too few columns
        "",                                           # 6 blank
        "ok-2,sub_1,api_calls,1700000000,,",          # 7
        "bad-2,sub_1,,,,",                            # 8 missing code
        "ok-3,sub_1,api_calls,,,2.5",                 # 9
    ])
    assert counts(ingest(warehouse, path)) == (5, 3, 0, 2)
    assert rejected(warehouse) == [(5, "malformed_csv_row", "bad,sub_1"), (8, "missing_code", "bad-2,sub_1,,,,")]
    got = events(warehouse)
    assert set(got) == {("sub_1", "ok-1"), ("sub_1", "ok-2"), ("sub_1", "ok-3")}
    assert got[("sub_1", "ok-1")]["properties"] == {"n": 1}
    assert got[("sub_1", "ok-2")]["timestamp"] == datetime(2023, 11, 14, 22, 13, 20)
    assert float(got[("sub_1", "ok-3")]["precise_total_amount_cents"]) == 2.5


def test_csv_invalid_utf8_row(warehouse, tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b"\n".join([CSV_HEADER.encode(), b"ok-1,sub_1,api_calls,,,",
                                 b"bad-\xff,sub_1,api_calls,,,", b"ok-2,sub_1,api_calls,,,"]) + b"\n")
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert reasons(warehouse) == [(3, "invalid_encoding")]


def test_csv_missing_required_column_is_a_file_error(warehouse, tmp_path):
    path = write(tmp_path / "events.csv", ["transaction_id,code,timestamp", "t1,api_calls,", "t2,api_calls,"])
    with pytest.raises(ValueError) as exc:
        ingest_file(warehouse, path, received_at=AT)
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message and "external_subscription_id" in message
    assert (n_rows(warehouse, "events"), n_rows(warehouse, "rejected")) == (0, 0)


def test_csv_duplicates_first_wins(warehouse, tmp_path):
    path = write(tmp_path / "events.csv", [
        CSV_HEADER,
        'd-1,sub_1,api_calls,,"{""n"": 1}",',
        'd-1,sub_1,api_calls,,"{""n"": 2}",',
        'd-1,sub_2,api_calls,,"{""n"": 3}",',
    ])
    assert counts(ingest(warehouse, path)) == (3, 2, 1, 0)
    got = events(warehouse)
    assert got[("sub_1", "d-1")]["properties"] == {"n": 1}
    assert got[("sub_2", "d-1")]["properties"] == {"n": 3}


# -- Parquet --------------------------------------------------------------------------------------
PARQUET_CASES = [
    ("null_code", {"code": None}, "missing_code"),
    ("null_transaction_id", {"transaction_id": None}, "missing_transaction_id"),
    ("empty_external_subscription_id", {"external_subscription_id": ""}, "missing_external_subscription_id"),
    ("timestamp_unparsable", {"timestamp": "not a time"}, "invalid_timestamp"),
    ("timestamp_before_1970", {"timestamp": "1960-01-01T00:00:00Z"}, "timestamp_out_of_range"),
    ("properties_not_json", {"properties": "plan=pro"}, "invalid_properties"),
    ("properties_json_array", {"properties": "[1, 2]"}, "invalid_properties"),
    ("precise_non_numeric", {"precise_total_amount_cents": "abc"}, "invalid_precise_total_amount_cents"),
]


def _parquet_rows(rows: list[dict]) -> dict[str, list]:
    cols = ("transaction_id", "external_subscription_id", "code", "timestamp", "properties",
            "precise_total_amount_cents")
    return {c: [r.get(c) for r in rows] for c in cols}


@pytest.mark.parametrize("kind, override, reason", PARQUET_CASES, ids=[c[0] for c in PARQUET_CASES])
def test_parquet_malformed_row(warehouse, tmp_path, kind, override, reason):
    base = {"external_subscription_id": "sub_1", "code": "api_calls"}
    path = write_parquet(tmp_path / "events.parquet", _parquet_rows([
        {**base, "transaction_id": "ok-1"},
        {**base, "transaction_id": "bad", **override},
        {**base, "transaction_id": "ok-2"},
    ]))
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert reasons(warehouse) == [(2, reason)]
    assert set(events(warehouse)) == {("sub_1", "ok-1"), ("sub_1", "ok-2")}


def test_parquet_typed_columns(warehouse, tmp_path):
    """Integer ids, tz-aware timestamps and struct properties; a float `code` column is invalid."""
    paris = ZoneInfo("Europe/Paris")
    path = write_parquet(tmp_path / "typed.parquet", {
        "transaction_id": [1, 2, 3],
        "external_subscription_id": ["sub_1", "sub_1", "sub_1"],
        "code": ["api_calls", "api_calls", "api_calls"],
        "timestamp": [datetime(2024, 3, 1, 10, 0, tzinfo=paris), datetime(1969, 12, 31, 23, 0, tzinfo=timezone.utc),
                      None],
        "properties": [{"plan": "pro"}, {"plan": "pro"}, None],
    }, {"transaction_id": pa.int64(), "timestamp": pa.timestamp("us", tz="UTC"),
        "properties": pa.struct([("plan", pa.string())])})
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert reasons(warehouse) == [(2, "timestamp_out_of_range")]
    got = events(warehouse)
    assert got[("sub_1", "1")]["timestamp"] == datetime(2024, 3, 1, 9, 0)      # 10:00 in Paris (CET)
    assert got[("sub_1", "1")]["properties"] == {"plan": "pro"}
    assert got[("sub_1", "3")]["timestamp"] is None and got[("sub_1", "3")]["properties"] == {}

    floats = write_parquet(tmp_path / "floats.parquet", {
        "transaction_id": ["f-1", "f-2"], "external_subscription_id": ["sub_1", "sub_1"], "code": [1.5, None],
    }, {"code": pa.float64()})
    assert counts(ingest(warehouse, floats)) == (2, 0, 0, 2)
    float_rows = [r for r in rejected(warehouse) if '"f-' in r[2]]
    assert [(line, code) for line, code, _ in float_rows] == [(1, "invalid_code"), (2, "missing_code")]
    assert '"code":"1.5"' in float_rows[0][2]


def test_parquet_missing_required_column_is_a_file_error(warehouse, tmp_path):
    good = write(tmp_path / "good.ndjson", [ev("ok-1"), "not json"])
    assert counts(ingest(warehouse, good)) == (2, 1, 0, 1)
    path = write_parquet(tmp_path / "no_sub.parquet", {"transaction_id": ["t1", None], "code": ["api_calls", None]})
    with pytest.raises(ValueError) as exc:
        ingest_file(warehouse, path, received_at=AT)
    message = str(exc.value)
    assert "\n" not in message
    assert message == f"{path.resolve()}: missing required column(s): external_subscription_id"
    assert (n_rows(warehouse, "events"), n_rows(warehouse, "rejected")) == (1, 1)


# -- duplicates and re-ingestion --------------------------------------------------------------------
def test_duplicates_within_one_file_first_wins(warehouse, tmp_path):
    path = write(tmp_path / "events.ndjson", [
        ev("dup-1", properties={"n": 1}),
        ev("dup-2", properties={"n": 2}),
        ev("dup-1", properties={"n": 3}, timestamp="2024-03-01T00:00:00Z"),
        ev("dup-1", sub="sub_2", properties={"n": 4}),       # same transaction_id, other subscription
        json.dumps({"event": json.loads(ev("dup-2", properties={"n": 5}))}),
    ])
    assert counts(ingest(warehouse, path)) == (5, 3, 2, 0)
    got = events(warehouse)
    assert set(got) == {("sub_1", "dup-1"), ("sub_1", "dup-2"), ("sub_2", "dup-1")}
    assert got[("sub_1", "dup-1")]["properties"] == {"n": 1}
    assert got[("sub_1", "dup-1")]["timestamp"] is None
    assert got[("sub_1", "dup-2")]["properties"] == {"n": 2}
    assert got[("sub_2", "dup-1")]["properties"] == {"n": 4}


def test_a_rejected_row_does_not_claim_its_key(warehouse, tmp_path):
    path = write(tmp_path / "events.ndjson", [
        ev("k-1", timestamp="soon", properties={"n": 1}),
        ev("k-1", properties={"n": 2}),
    ])
    assert counts(ingest(warehouse, path)) == (2, 1, 0, 1)
    assert events(warehouse)[("sub_1", "k-1")]["properties"] == {"n": 2}


def test_duplicates_across_files(warehouse, tmp_path):
    a = write(tmp_path / "a.ndjson", [ev("x-1"), ev("x-2", properties={"from": "a"})])
    b = write(tmp_path / "b.ndjson", [ev("x-2", properties={"from": "b"}), ev("x-3")])
    c = write(tmp_path / "c.csv", [CSV_HEADER, "x-3,sub_1,api_calls,,,", "x-4,sub_1,api_calls,,,"])
    d = write_parquet(tmp_path / "d.parquet", _parquet_rows([
        {"transaction_id": t, "external_subscription_id": "sub_1", "code": "api_calls"} for t in ("x-1", "x-4", "x-5")]))
    assert counts(ingest(warehouse, a)) == (2, 2, 0, 0)
    assert counts(ingest(warehouse, b)) == (2, 1, 1, 0)
    assert counts(ingest(warehouse, c)) == (2, 1, 1, 0)
    assert counts(ingest(warehouse, d)) == (3, 1, 2, 0)
    got = events(warehouse)
    assert set(got) == {("sub_1", f"x-{i}") for i in range(1, 6)}
    assert got[("sub_1", "x-2")]["properties"] == {"from": "a"}


def _mixed_file(tmp_path: Path, fmt: str) -> Path:
    """3 good rows and 2 bad ones (lines/rows 2 and 4)."""
    if fmt == "ndjson":
        return write(tmp_path / "mixed.ndjson", [ev("r-1"), "{oops", ev("r-2"), ev("r-3", timestamp="later"),
                                                 ev("r-4")])
    if fmt == "csv":
        return write(tmp_path / "mixed.csv", [CSV_HEADER, "r-1,sub_1,api_calls,,,", "r-x,sub_1,,,,",
                                              "r-2,sub_1,api_calls,,,", "r-3,sub_1,api_calls,later,,",
                                              "r-4,sub_1,api_calls,,,"])
    base = {"external_subscription_id": "sub_1", "code": "api_calls"}
    return write_parquet(tmp_path / "mixed.parquet", _parquet_rows([
        {**base, "transaction_id": "r-1"}, {**base, "transaction_id": "r-x", "code": None},
        {**base, "transaction_id": "r-2"}, {**base, "transaction_id": "r-3", "timestamp": "later"},
        {**base, "transaction_id": "r-4"}]))


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_reingesting_the_same_file_adds_nothing(warehouse, tmp_path, fmt):
    path = _mixed_file(tmp_path, fmt)
    assert counts(ingest(warehouse, path)) == (5, 3, 0, 2)
    assert (n_rows(warehouse, "events"), n_rows(warehouse, "rejected")) == (3, 2)
    before = rejected(warehouse)
    # the same file again, later: every good row is now a duplicate, the bad rows are still rejected
    assert counts(ingest(warehouse, path, at=datetime(2024, 3, 6))) == (5, 0, 3, 2)
    assert counts(ingest(warehouse, path, at=datetime(2024, 3, 7))) == (5, 0, 3, 2)
    assert (n_rows(warehouse, "events"), n_rows(warehouse, "rejected")) == (3, 2)
    assert rejected(warehouse) == before
    first_line = 3 if fmt == "csv" else 2                    # CSV line 1 is the header
    assert [line for line, _, _ in before] == [first_line, first_line + 2]


# -- what is accepted -------------------------------------------------------------------------------
def test_missing_timestamp_is_accepted_as_null(warehouse, tmp_path):
    path = write(tmp_path / "events.ndjson", [ev("no-ts"), ev("null-ts", timestamp=None)])
    assert counts(ingest(warehouse, path)) == (2, 2, 0, 0)
    assert rejected(warehouse) == []
    got = events(warehouse)
    assert got[("sub_1", "no-ts")]["timestamp"] is None
    assert got[("sub_1", "null-ts")]["timestamp"] is None


TIMESTAMPS = [
    ("unix-int", 1700000000, datetime(2023, 11, 14, 22, 13, 20)),
    ("unix-float", 1700000000.5, datetime(2023, 11, 14, 22, 13, 20, 500000)),
    ("unix-string", "1700000000", datetime(2023, 11, 14, 22, 13, 20)),
    ("unix-float-string", "1700000000.25", datetime(2023, 11, 14, 22, 13, 20, 250000)),
    ("unix-exponent", "<1.7e9>", datetime(2023, 11, 14, 22, 13, 20)),          # the JSON number 1.7e9
    ("unix-zero", 0, datetime(1970, 1, 1)),
    ("unix-one-day", "86400", datetime(1970, 1, 2)),
    ("iso-z", "2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, 0)),
    ("iso-plus-2", "2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 8, 0)),
    ("iso-minus-5-30", "2024-02-29T23:30:00-05:30", datetime(2024, 3, 1, 5, 0)),
    ("iso-compact-offset", "2024-03-01T10:00:00+0100", datetime(2024, 3, 1, 9, 0)),
    ("iso-fraction-offset", "2024-03-01T10:00:00.250+01:00", datetime(2024, 3, 1, 9, 0, 0, 250000)),
    ("iso-crossing-year", "2024-01-01T01:30:00+03:00", datetime(2023, 12, 31, 22, 30)),
    ("iso-no-offset-is-utc", "2024-03-01T10:00:00", datetime(2024, 3, 1, 10, 0)),
    ("iso-space", "2024-03-01 10:00:00Z", datetime(2024, 3, 1, 10, 0)),
    ("iso-date-only", "2024-03-01", datetime(2024, 3, 1)),
    ("iso-last-second", "2099-12-31T23:59:59Z", datetime(2099, 12, 31, 23, 59, 59)),
]


def test_timestamps_are_parsed_to_the_utc_instant(warehouse, tmp_path):
    lines = [ev(tid, timestamp=value).replace('"<1.7e9>"', "1.7e9") for tid, value, _ in TIMESTAMPS]
    assert '"timestamp": 1.7e9}' in lines[4]
    path = write(tmp_path / "ts.ndjson", lines)
    assert counts(ingest(warehouse, path)) == (len(TIMESTAMPS), len(TIMESTAMPS), 0, 0)
    got = events(warehouse)
    assert {tid: got[("sub_1", tid)]["timestamp"] for tid, _, _ in TIMESTAMPS} == \
        {tid: expected for tid, _, expected in TIMESTAMPS}


def test_csv_and_parquet_timestamps(warehouse, tmp_path):
    csv_path = write(tmp_path / "ts.csv", [CSV_HEADER, "c-1,sub_1,api_calls,1700000000,,",
                                           "c-2,sub_1,api_calls,2024-03-01T10:00:00+02:00,,",
                                           "c-3,sub_1,api_calls,1700000000.5,,"])
    pq_path = write_parquet(tmp_path / "ts.parquet", {
        "transaction_id": ["p-1", "p-2"], "external_subscription_id": ["sub_1", "sub_1"],
        "code": ["api_calls", "api_calls"], "timestamp": [1700000000, 86400]}, {"timestamp": pa.int64()})
    assert counts(ingest(warehouse, csv_path)) == (3, 3, 0, 0)
    assert counts(ingest(warehouse, pq_path)) == (2, 2, 0, 0)
    got = events(warehouse)
    assert got[("sub_1", "c-1")]["timestamp"] == datetime(2023, 11, 14, 22, 13, 20)
    assert got[("sub_1", "c-2")]["timestamp"] == datetime(2024, 3, 1, 8, 0)
    assert got[("sub_1", "c-3")]["timestamp"] == datetime(2023, 11, 14, 22, 13, 20, 500000)
    assert got[("sub_1", "p-1")]["timestamp"] == datetime(2023, 11, 14, 22, 13, 20)
    assert got[("sub_1", "p-2")]["timestamp"] == datetime(1970, 1, 2)


def test_lago_request_body_form(warehouse, tmp_path):
    path = write(tmp_path / "bodies.ndjson", [
        json.dumps({"event": {"transaction_id": "b-1", "external_subscription_id": "sub_1", "code": "api_calls",
                              "timestamp": 1700000000, "properties": {"gb": 3},
                              "precise_total_amount_cents": "12.5"}}),
        ev("b-2"),                                                      # bare events mix with bodies
        json.dumps({"event": {"transaction_id": "b-2", "external_subscription_id": "sub_1", "code": "api_calls"}}),
    ])
    assert counts(ingest(warehouse, path)) == (3, 2, 1, 0)
    got = events(warehouse)
    b1 = got[("sub_1", "b-1")]
    assert (b1["code"], b1["timestamp"], b1["properties"]) == ("api_calls", datetime(2023, 11, 14, 22, 13, 20),
                                                               {"gb": 3})
    assert float(b1["precise_total_amount_cents"]) == 12.5


def test_blank_lines_are_not_received(warehouse, tmp_path):
    path = tmp_path / "blanks.ndjson"
    path.write_text("\n" + ev("a") + "\n\n   \n\t\n" + ev("b") + "\n" + "{bad" + "\n\n\n")
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert reasons(warehouse) == [(7, "invalid_json")]
    only_blank = tmp_path / "only_blank.ndjson"
    only_blank.write_text("\n\n   \n")
    assert counts(ingest(warehouse, only_blank)) == (0, 0, 0, 0)
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    assert counts(ingest(warehouse, empty)) == (0, 0, 0, 0)


def test_crlf_line_endings(warehouse, tmp_path):
    path = write(tmp_path / "crlf.ndjson", [ev("w-1"), "", ev("w-2", properties={"n": 1}), "nope"], end="\r\n")
    assert counts(ingest(warehouse, path)) == (3, 2, 0, 1)
    assert rejected(warehouse) == [(4, "invalid_json", "nope")]
    assert set(events(warehouse)) == {("sub_1", "w-1"), ("sub_1", "w-2")}
