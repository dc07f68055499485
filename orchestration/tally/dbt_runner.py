"""Run the dbt project against a warehouse for a given knowledge time (`as_of`)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
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


def dbt_args(settings: Settings, command: list[str], as_of: datetime | None) -> list[str]:
    root = project_dir()
    args = [
        dbt_executable(), "--no-use-colors", *command,
        "--project-dir", str(root),
        "--profiles-dir", str(root),
        "--target", settings.target,
        "--target-path", str(settings.home / "target" / f"{settings.target}-{settings.schema}"),
        "--log-path", str(settings.home / "logs"),
    ]
    if as_of is not None:
        args += ["--vars", json.dumps({"as_of": format_as_of(as_of)})]
    return args


def run_dbt(settings: Settings, command: list[str], as_of: datetime | None = None,
            echo: bool = False) -> str:
    """Run `dbt <command>`; raise DbtError with dbt's own messages when it fails."""
    settings.home.mkdir(parents=True, exist_ok=True)
    args = dbt_args(settings, command, as_of)
    proc = subprocess.run(args, env=settings.dbt_env(), cwd=project_dir(), capture_output=not echo,
                          text=True)
    if proc.returncode != 0:
        out = (proc.stdout or "") + (proc.stderr or "")
        start = out.rfind("Completed with")
        detail = (out[start:] if start >= 0 else out)[-4000:].strip()
        raise DbtError(f"dbt {' '.join(command)} failed (exit {proc.returncode}):\n{detail}")
    return proc.stdout or ""


def bill(settings: Settings, as_of: datetime, tests: bool = True, echo: bool = False) -> str:
    """Compute every mart as known at `as_of` (seeds, models and, with `tests`, data tests)."""
    skip = ["unit_test"] if tests else ["unit_test", "test"]
    return run_dbt(settings, ["build", "--exclude-resource-type", *skip], as_of, echo)
