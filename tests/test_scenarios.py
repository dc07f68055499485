"""Every scenario under tests/scenarios through `tally replay --check`, on DuckDB and PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SCENARIOS

TALLY = str(Path(sys.executable).with_name("tally"))


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
