"""The template commands against the loopback fake Graph API: a shop created with its WABA
id submits its templates, an operator reads Meta's review, and a second sync is harmless."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatcentral.cli import main
from chatcentral.config import get_settings
from chatcentral.notifications.templates import shipped_templates
from chatcentral.simulator.fake_cloud import FakeCloud

WABA = "102290129340398"


@pytest.fixture
def fake_graph(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    fake = FakeCloud()
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", fake.start())
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "fake-graph-token")
    get_settings.cache_clear()
    yield fake
    fake.stop()
    get_settings.cache_clear()


def test_sync_then_status_against_the_fake_graph_api(
    fake_graph: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ["tenant", "create", "--slug", "lupita", "--name", "Abarrotes Lupita"]
    create += ["--phone-number-id", "106540352242922", "--display-phone", "+52 55 1234 5678"]
    create += ["--flow", "grocery", "--admin-phone", "+52 55 8765 4321", "--waba-id", WABA]
    assert main(create) == 0
    capsys.readouterr()

    assert main(["templates", "sync", "lupita"]) == 0
    out = capsys.readouterr().out
    assert "submitted nuevo_pedido (es_MX): PENDING" in out
    assert len(out.splitlines()) == len(shipped_templates())
    stored = {t["name"]: t for t in fake_graph.templates(WABA)}
    assert set(stored) == {spec.name for spec in shipped_templates().values()}
    assert stored["nuevo_pedido"]["category"] == "UTILITY"
    assert stored["nuevo_pedido"]["components"][1]["buttons"][0] == {
        "type": "QUICK_REPLY",
        "text": "Confirmar",
    }
    assert {auth for _, _, auth in fake_graph.template_calls} == {"Bearer fake-graph-token"}

    assert main(["templates", "status", "lupita"]) == 0
    assert "nuevo_pedido\tes_MX\tPENDING\n" in capsys.readouterr().out
    fake_graph.review("nuevo_pedido", "APPROVED")
    assert main(["templates", "status", "lupita"]) == 0
    assert "nuevo_pedido\tes_MX\tAPPROVED\n" in capsys.readouterr().out

    # Run again: nothing is submitted twice, and that is not a failure.
    assert main(["templates", "sync", "lupita"]) == 0
    assert "exists    nuevo_pedido (es_MX): already submitted" in capsys.readouterr().out
    assert len(fake_graph.templates(WABA)) == len(shipped_templates())


def test_a_bad_waba_id_at_creation_is_one_line(
    fake_graph: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    create = ["tenant", "create", "--slug", "lupita", "--name", "Abarrotes Lupita"]
    create += ["--phone-number-id", "106540352242922", "--display-phone", "+52 55 1234 5678"]
    create += ["--flow", "grocery", "--admin-phone", "+52 55 8765 4321", "--waba-id", "abc"]
    assert main(create) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "invalid WABA id 'abc'" in err
