"""`python -m tally.dbt_exec SPEC`: run one dbt command for tally.dbt_runner, parsing the project
without the run's vars first.

dbt re-parses the whole project (about 6 s) whenever `--vars` differ from the previous run's, and
every billing run has a new `as_of`. The vars only reach the SQL when dbt compiles a node (no
ref, source or config depends on them), so this parses with the project's default vars — a
partial parse that reuses the previous one (`partial_parse.msgpack` in the target path) when no
file changed — and runs the command with that manifest and the run's vars: dbt compiles every
node it runs with those vars. SPEC (JSON): {"globals": [...], "command": [...], "common": [...],
"vars": {...}}. Exit code: dbt's (0 success, 1 failure, 2 error).
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    from dbt.cli.main import dbtRunner

    # The command writes the manifest (and run results) itself: a parse before it does not write
    # its JSON artifacts (about 0.2 s); partial_parse.msgpack, which the next run reuses, is written.
    no_json = [] if spec["command"] == ["parse"] else ["--no-write-json"]
    parsed = dbtRunner().invoke([*spec["globals"], "--quiet", "parse", *no_json, *spec["common"]])
    if not parsed.success or parsed.result is None:
        if parsed.exception is not None:
            print(f"dbt parse failed: {parsed.exception}", file=sys.stderr)
        return 2 if parsed.exception is not None else 1
    if spec["command"] == ["parse"]:
        return 0
    args = [*spec["globals"], *spec["command"], *spec["common"]]
    if spec.get("vars") is not None:
        args += ["--vars", json.dumps(spec["vars"])]
    res = dbtRunner(manifest=parsed.result).invoke(args)
    if res.exception is not None:
        print(f"dbt {' '.join(spec['command'])}: {res.exception}", file=sys.stderr)
        return 2
    return 0 if res.success else 1


if __name__ == "__main__":
    sys.exit(main())
