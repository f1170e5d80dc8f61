"""`chatcentral tenant hours SLUG`: show and set a shop's hours and holidays; bad input
refused with one line and nothing written; a change announced and audited."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, select

from chatcentral.cli import main
from chatcentral.db.listener import TENANTS_CHANNEL
from chatcentral.models.central import AuditLog, Tenant
from tests.conftest import ProvisionedShop


def stored_hours(engine: Engine, slug: str) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(Tenant.business_hours).where(Tenant.slug == slug)).scalar_one()
        )


def audit(engine: Engine) -> list[tuple[str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.action, AuditLog.details).where(AuditLog.action == "tenant.hours")
        ).all()
    return [(row.action, row.details) for row in rows]


def test_set_days_and_holidays_then_show_them(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listener = psycopg.connect(cli_env.replace("postgresql+psycopg://", "postgresql://"))
    listener.autocommit = True
    listener.execute(f"LISTEN {TENANTS_CHANNEL}")
    argv = ["tenant", "hours", "agua", "--clear"]
    argv += ["--set", "mon-fri 09:00-18:00", "--set", "sat 9:00-14:00"]
    argv += ["--holiday", "2026-12-25", "--holiday", "2027-01-01"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "business hours of agua updated" in out
    assert "mon  09:00-18:00" in out and "sat  09:00-14:00" in out and "sun  closed" in out
    assert "holidays  2026-12-25, 2027-01-01" in out
    hours = stored_hours(sync_engine, "agua")
    assert hours["tue"] == [["09:00", "18:00"]] and hours["sun"] == []
    assert hours["holidays"] == ["2026-12-25", "2027-01-01"]
    # the change reached every process's cache: a NOTIFY with the shop's number
    notices = list(listener.notifies(timeout=2, stop_after=1))
    listener.close()
    assert [n.payload for n in notices] == [shops["water"].phone_number_id]
    [(_, details)] = audit(sync_engine)
    assert details["after"] == hours

    # only the named days change; a holiday removed; shown without options
    assert main(["tenant", "hours", "agua", "--set", "sun closed", "--set", "sáb 10:00-13:00"]) == 0
    assert main(["tenant", "hours", "agua", "--remove-holiday", "2027-01-01"]) == 0
    capsys.readouterr()
    assert main(["tenant", "hours", "agua"]) == 0
    shown = capsys.readouterr().out
    assert "updated" not in shown
    assert "fri  09:00-18:00" in shown and "sat  10:00-13:00" in shown
    assert "holidays  2026-12-25\n" in shown
    assert ("open now" in shown) or ("closed now; opens" in shown)
    assert len(audit(sync_engine)) == 3  # showing writes nothing


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--set", "mon-fri 9-18"], "'9-18' is not a range like 09:00-18:00"),
        (["--set", "lunes"], "expected DAYS HH:MM-HH:MM"),
        (["--set", "xyz 09:00-10:00"], "unknown day 'xyz'"),
        (["--set", "fri-mon 09:00-18:00"], "'fri-mon' runs backwards"),
        (["--set", "mon 09:00-25:00"], "bad time '25:00'"),
        (["--set", "mon 10:00-10:00"], "empty range 10:00-10:00"),
        (["--holiday", "25/12/2026"], "bad holiday '25/12/2026' (expected YYYY-MM-DD)"),
        (["--remove-holiday", "2026-05-05"], "2026-05-05 is not one of the shop's holidays"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_changes_nothing(
    argv: list[str],
    fragment: str,
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = stored_hours(sync_engine, "tienda")
    # a good spec beside the bad one is not applied either
    assert main(["tenant", "hours", "tienda", "--set", "sun closed", *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("chatcentral: error: ") and fragment in err
    assert stored_hours(sync_engine, "tienda") == before
    assert audit(sync_engine) == []


def test_an_unknown_shop_is_refused(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "hours", "nadie"]) == 1
    assert capsys.readouterr().err.strip() == "chatcentral: error: no tenant with slug 'nadie'"
