"""The systemd units docs/deploy.md ships run commands the CLI has, with arguments it
accepts, as the user and with the environment file the guide sets up."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from chatcentral.cli import _build_parser

UNITS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "systemd").glob("*.service"))


def test_both_units_are_shipped() -> None:
    assert [unit.name for unit in UNITS] == [
        "chatcentral-web.service",
        "chatcentral-worker.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_a_unit_runs_a_real_command_in_production(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    service = parser["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/srv/chatcentral/.venv/bin/chatcentral"
    parsed = _build_parser().parse_args(argv[1:])  # exits (fails the test) on a bad argument
    assert parsed.handler is not None
    assert service["User"] == "chatcentral"
    assert service["EnvironmentFile"] == "/etc/chatcentral/chatcentral.env"
    assert service["Environment"] == "CHATCENTRAL_ENV=production"
    assert service["Restart"] == "always"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
