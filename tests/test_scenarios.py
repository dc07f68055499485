"""Every scenario under tests/scenarios through `tally replay --check`, on DuckDB and PostgreSQL,
and one SQL for many warehouses: both print the same JSON document."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SCENARIOS

TALLY = str(Path(sys.executable).with_name("tally"))

# replay outputs of this module's run, by (scenario, target), for the cross-warehouse comparison
OUTPUTS: dict[tuple[str, str], dict] = {}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_replay_check(scenario, target, tmp_path):
    env = dict(os.environ, TALLY_HOME=str(tmp_path))
    proc = subprocess.run([TALLY, "replay", str(scenario), "--check", "--json", "--target", target],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = json.loads(proc.stdout)
    assert output["invoices"], "a scenario that bills nothing proves nothing"
    for invoice in output["invoices"]:
        assert invoice["fees_amount_cents"] == sum(f["amount_cents"] for f in invoice["fees"])
    OUTPUTS[(scenario.stem, target)] = output


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_duckdb_and_postgres_print_the_same_json(scenario, postgres_available):
    # runs after the replays above (same module, same worker with --dist loadfile)
    outputs = [OUTPUTS.get((scenario.stem, t)) for t in ("duckdb", "postgres")]
    if None in outputs:
        pytest.skip("the replays of this scenario did not both run in this session")
    duck, pg = outputs
    # invoice ids and numbers are deterministic too: the whole document must match
    assert duck == pg
