"""Run the dbt project against a warehouse for a given knowledge time (`as_of`)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from .settings import Settings, project_dir


class DbtError(RuntimeError):
    pass


def dbt_executable() -> str:
    local = Path(sys.executable).with_name("dbt")
    if local.exists():
        return str(local)
    found = shutil.which("dbt")
    if not found:
        raise DbtError("dbt is not installed in this environment (run `make install`)")
    return found


def format_as_of(as_of: datetime) -> str:
    return as_of.strftime("%Y-%m-%d %H:%M:%S")


def metric_expressions(settings: Settings, as_of: datetime | None) -> dict[str, str]:
    """Each billable metric's `expression` (as known at as_of), translated to this warehouse's SQL.

    dbt cannot run Python, so the checked translation (tally.expressions) reaches the models as
    the var `metric_expressions`: {metric code: SQL over the columns properties, event_timestamp}.
    """
    from .expressions import ExpressionError, to_sql
    from .warehouse import Warehouse

    # Literals, not bound parameters: DuckDB's Python client imports pandas (about 0.5 s, a tenth of
    # a small bill) the first time a query binds one, and this is all the CLI queries before dbt.
    def text(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    with Warehouse(settings) as wh:
        _, found = wh.query(f"select count(*) from information_schema.tables "
                            f"where table_schema = {text(wh.raw)} and table_name = 'catalog_changes'")
        if not found[0][0]:
            return {}
        where = ""
        if as_of is not None:
            utc = as_of.astimezone(timezone.utc).replace(tzinfo=None) if as_of.tzinfo else as_of
            where = f"and received_at <= cast({text(utc.isoformat(sep=' ', timespec='microseconds'))} as timestamp)"
        _, rows = wh.query(
            f"""select object_key, action, cast(payload as {'varchar' if wh.target == 'duckdb' else 'text'})
                from (select *, row_number() over (partition by object_key order by received_at desc, seq desc) as rn
                      from "{wh.raw}".catalog_changes where object_type = 'billable_metric' {where}) latest
                where rn = 1""")
    out = {}
    for code, action, payload in rows:
        expression = json.loads(payload).get("billable_metric", {}).get("expression")
        if action == "delete" or not expression:
            continue
        try:
            out[code] = to_sql(expression, settings.target, metric_code=code, as_text=True)
        except ExpressionError:
            continue  # refused at `tally load`; such a metric's events are reported, not billed
    return out


def dbt_vars(settings: Settings, as_of: datetime | None) -> dict:
    """The vars a billing run passes to dbt: as_of and the compiled metric expressions."""
    out: dict = {"metric_expressions": metric_expressions(settings, as_of)}
    if as_of is not None:
        out["as_of"] = format_as_of(as_of)
    return out


def dbt_args(settings: Settings, command: list[str], as_of: datetime | None) -> list[str]:
    """The `dbt` command line equivalent to what run_dbt runs."""
    spec = dbt_spec(settings, command, as_of)
    return [dbt_executable(), *spec["globals"], *spec["command"], *spec["common"],
            "--vars", json.dumps(spec["vars"])]


def dbt_spec(settings: Settings, command: list[str], as_of: datetime | None) -> dict:
    root = project_dir()
    return {
        "globals": ["--no-use-colors"],
        "command": list(command),
        "common": [
            "--project-dir", str(root),
            "--profiles-dir", str(root),
            "--target", settings.target,
            "--target-path", str(settings.home / "target" / f"{settings.target}-{settings.schema}"),
            "--log-path", str(settings.home / "logs"),
        ],
        "vars": dbt_vars(settings, as_of),
    }


def run_dbt(settings: Settings, command: list[str], as_of: datetime | None = None,
            echo: bool = False) -> str:
    """Run `dbt <command>` with the vars of `as_of`; raise DbtError with dbt's own messages when it fails.

    dbt runs in a child process (tally.dbt_exec) that parses the project without the run's vars, so
    that dbt's partial parsing survives a change of as_of, and then runs the command with them."""
    settings.home.mkdir(parents=True, exist_ok=True)
    spec = dbt_spec(settings, command, as_of)
    proc = subprocess.run([sys.executable, "-m", "tally.dbt_exec", json.dumps(spec)], env=settings.dbt_env(),
                          cwd=project_dir(), capture_output=not echo, text=True)
    if proc.returncode != 0:
        out = (proc.stdout or "") + (proc.stderr or "")
        start = out.rfind("Completed with")
        detail = (out[start:] if start >= 0 else out)[-4000:].strip()
        raise DbtError(f"dbt {' '.join(command)} failed (exit {proc.returncode}):\n{detail}")
    return proc.stdout or ""


def parse(settings: Settings) -> None:
    """Parse the project for this warehouse (what every run_dbt does first), so that the next
    billing run only re-parses what changed."""
    run_dbt(settings, ["parse"])


def bill(settings: Settings, as_of: datetime, tests: bool = True, echo: bool = False) -> str:
    """Compute every mart as known at `as_of` (seeds, models and, with `tests`, data tests)."""
    skip = ["unit_test"] if tests else ["unit_test", "test"]
    return run_dbt(settings, ["build", "--exclude-resource-type", *skip], as_of, echo)
