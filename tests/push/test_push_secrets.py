"""No secret in logs or error messages: every system answers 401 quoting the credentials it
received (as a badly behaved server may), and neither the logs (every logger, DEBUG), the
outbox, the attempt log, the report nor `tally push`'s output holds a secret."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tally.push import run_push
from tally.push.secrets import MASK, Secrets, SecretsError, install_log_masking, mask, register
from tally.warehouse import Warehouse

from .fakes import SECRETS

TALLY = Path(sys.executable).with_name("tally")
# the values a leak would show (the NetSuite account id is an identifier, not a secret)
SECRET_VALUES = [v for k, v in SECRETS.items() if k != "TALLY_NETSUITE_ACCOUNT_ID"]


def _leaks(text: str) -> list[str]:
    return [v for v in SECRET_VALUES if v in text]


@pytest.mark.parametrize("target", ["duckdb"])
def test_no_secret_in_logs_errors_or_the_outbox(billed, systems, caplog):
    for fake in systems.all():
        fake.reflect_credentials = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    result = run_push(billed, sleep=lambda s: None)
    report = result.report
    assert report.failed
    # only customers linked to an existing record (no request needed) went through
    assert {(r.system, r.object_type) for r in report.done} <= {("xero", "customer")}
    assert {r.system for r in report.failed} >= {"stripe", "gocardless", "xero", "netsuite", "hubspot", "webhook"}
    # the servers did quote the credentials back ...
    assert any(any(v in r.last_error for v in ("invalid credentials",)) for r in report.failed)
    assert any(MASK in (r.last_error or "") for r in report.failed)
    # ... and nothing kept or printed shows them
    with Warehouse(billed) as wh:
        stored = wh.query(f'select cast(last_error as varchar) from "{wh.raw}".push_outbox')[1] + \
            wh.query(f'select cast(error as varchar) from "{wh.raw}".push_attempts')[1]
    texts = [str(r[0]) for r in stored] + result.lines() + [r.getMessage() for r in caplog.records] + [caplog.text]
    assert len(caplog.records) > 10
    assert not [t for t in texts if _leaks(t)], [t for t in texts if _leaks(t)][:3]


@pytest.mark.parametrize("target", ["duckdb"])
def test_tally_push_prints_no_secret(billed, systems):
    for fake in systems.all():
        fake.reflect_credentials = True
    env = {**billed.dbt_env(), **systems.env(), "TALLY_HOME": str(billed.home),
           "TALLY_SECRETS_FILE": "/nonexistent/tally-secrets.env", "TALLY_PUSH_TIMEOUT": "5"}
    env.pop("TALLY_DUCKDB_PATH", None)
    out = subprocess.run([str(TALLY), "push", "-v", "--target", billed.target], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert "failed" in out.stdout and "HTTP 401" in out.stdout
    assert not _leaks(out.stdout + out.stderr)


def test_mask_hides_every_form_of_a_secret():
    secret = "fake-key/def+ghi=="
    register(secret)
    import base64
    from urllib.parse import quote

    for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
        assert mask(f"error: got {form} back") == f"error: got {MASK} back"
    install_log_masking()
    record = logging.getLogger("tally.test").makeRecord("tally.test", logging.ERROR, __file__, 1,
                                                         "token %s refused", (secret,), None)
    assert secret not in record.getMessage() and MASK in record.getMessage()


def test_secrets_come_from_the_environment_or_a_file_outside_the_repository(tmp_path):
    from conftest import ROOT

    f = tmp_path / "secrets.env"
    f.write_text("# comment\nTALLY_STRIPE_API_KEY='fake_stripe_fromfile1234'\nTALLY_HUBSPOT_ACCESS_TOKEN=pat-from-file\n")
    s = Secrets(env={"TALLY_HUBSPOT_ACCESS_TOKEN": "pat-from-env"}, file=f)
    assert s.get("TALLY_STRIPE_API_KEY") == "fake_stripe_fromfile1234"
    assert s.get("TALLY_HUBSPOT_ACCESS_TOKEN") == "pat-from-env"   # the environment wins
    assert mask("fake_stripe_fromfile1234 pat-from-file") == f"{MASK} {MASK}"
    with pytest.raises(SecretsError, match="TALLY_XERO_ACCESS_TOKEN is not set"):
        s.require("TALLY_XERO_ACCESS_TOKEN")

    inside = ROOT / "warehouse" / "test-secrets-refused.env"
    with pytest.raises(SecretsError, match="outside the repository"):
        Secrets(env={}, file=inside if inside.exists() else _touch(inside))
    inside.unlink()

    bad = tmp_path / "bad.env"
    bad.write_text("fake_key_pasted_without_a_name\n")
    with pytest.raises(SecretsError) as err:
        Secrets(env={}, file=bad)
    assert "fake_key_pasted_without_a_name" not in str(err.value) and "bad.env:1" in str(err.value)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("TALLY_STRIPE_API_KEY=x\n")
    return path
