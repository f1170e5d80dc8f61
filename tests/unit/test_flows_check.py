"""`chatcentral flows check` passes for the shipped flows and names what is broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from chatcentral.cli import main
from chatcentral.conversation.flow import FlowError, load_flow, shipped_flow
from chatcentral.conversation.flow_check import check_flow
from chatcentral.resources import resource_dir


@pytest.mark.parametrize("name", ["grocery", "water_delivery"])
def test_shipped_flows_pass(name: str) -> None:
    assert check_flow(shipped_flow(name)) == []


def test_the_command_passes_on_the_shipped_flows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok   grocery" in out and "ok   water_delivery" in out


def _broken_copy(tmp_path: Path, change: object) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(resource_dir("flows") / "_texts.yaml", folder / "_texts.yaml")
    data = yaml.safe_load((resource_dir("flows") / "grocery.yaml").read_text(encoding="utf-8"))
    shared = yaml.safe_load((resource_dir("flows") / "_shop.yaml").read_text(encoding="utf-8"))
    change(data, shared)  # type: ignore[operator]
    (folder / "grocery.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    (folder / "_shop.yaml").write_text(yaml.safe_dump(shared, allow_unicode=True), "utf-8")
    return folder


def _unreachable(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["states"].append(
        {"name": "lost_state", "view": "notes", "inputs": [{"reply": "x", "trigger": "leave_lost"}]}
    )
    data["transitions"].append(
        {"trigger": "leave_lost", "source": "lost_state", "dest": "main_menu"}
    )


def _long_button(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["texts"] = {"summary.confirm": "Confirmar mi pedido ahora mismo"}


def _missing_text(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["texts"] = {"cart.body": "Tu pedido: {lineas}"}


def _unknown_action(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["transitions"][0]["before"] = ["launch_rockets"]


def _model_method_as_condition(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["transitions"][0]["conditions"] = ["render"]


def _action_as_condition(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    data["transitions"][0]["unless"] = ["place_order"]


def _no_outcome(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    shared["transitions"] = [t for t in shared["transitions"] if t["trigger"] != "order_rejected"]


def _dead_end(data: dict, shared: dict) -> None:  # type: ignore[type-arg]
    shared["transitions"] = [t for t in shared["transitions"] if t["trigger"] != "set_quantity"]
    for state in shared["states"]:
        if state["name"] == "entering_quantity":
            state["inputs"] = []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_unreachable, "state lost_state cannot be reached from main_menu"),
        (_long_button, "text 'summary.confirm' is 31 characters; this title allows 20"),
        (_missing_text, "text 'cart.body' cannot be filled in: 'lineas'"),
        (_unknown_action, "transition browse: unknown action 'launch_rockets'"),
        (_model_method_as_condition, "transition browse: unknown condition 'render'"),
        (_action_as_condition, "transition browse: unknown condition 'place_order'"),
        (_no_outcome, "state placing_order: no 'order_rejected' transition"),
        (_dead_end, "state entering_quantity has no way forward"),
    ],
)
def test_a_broken_flow_fails_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, expected: str
) -> None:
    folder = _broken_copy(tmp_path, change)
    assert main(["flows", "check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.startswith("FAIL grocery: ")


def test_flow_files_are_validated_on_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: x\nstates: []\ntransitions: []\ntexts: {}\n")
    with pytest.raises(FlowError, match=r"bad\.yaml: .*initial state 'main_menu' is not defined"):
        load_flow(bad)
    bad.write_text(
        "name: bad\ntitle: x\nstates:\n  - {name: main_menu, view: main_menu,"
        " inputs: [{reply: a, trigger: go}]}\ntransitions: []\ntexts: {}\n"
    )
    with pytest.raises(FlowError, match="input trigger 'go' has no transition"):
        load_flow(bad)
    bad.write_text("name: [unclosed\n")
    with pytest.raises(FlowError, match=r"bad\.yaml"):
        load_flow(bad)


def test_a_missing_folder_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["flows", "check", "--dir", str(tmp_path / "nope")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"chatcentral: error: {tmp_path / 'nope'} is not a folder"
    )


def test_an_included_file_lends_states_a_flow_replaces_by_name(tmp_path: Path) -> None:
    (tmp_path / "_base.yaml").write_text(
        "settings: {max_quantity: '7', minimum_order: '1'}\n"
        "states:\n"
        "  - {name: main_menu, view: main_menu, inputs: [{reply: a, trigger: go}]}\n"
        "  - {name: notes_state, view: notes}\n"
        "transitions:\n"
        "  - {trigger: go, source: main_menu, dest: notes_state, conditions: [has_cart]}\n"
        "texts: {welcome: base}\n"
    )
    (tmp_path / "shop.yaml").write_text(
        "name: shop\ntitle: x\ninclude: _base.yaml\n"
        "settings: {minimum_order: '5'}\n"
        "states:\n"
        "  - {name: notes_state, view: summary, inputs: [{reply: b, trigger: back}]}\n"
        "transitions:\n"
        "  - {trigger: go, source: main_menu, dest: notes_state}\n"
        "  - {trigger: back, source: notes_state, dest: main_menu}\n"
        "texts: {welcome: own}\n"
    )
    flow = load_flow(tmp_path / "shop.yaml")
    assert [(s.name, s.view) for s in flow.states] == [
        ("main_menu", "main_menu"),
        ("notes_state", "summary"),
    ]
    # The included transition comes first: its condition is tried before the fallback.
    assert [(t.trigger, t.conditions) for t in flow.transitions] == [
        ("go", ("has_cart",)),
        ("go", ()),
        ("back", ()),
    ]
    assert flow.settings.max_quantity == 7 and flow.settings.minimum_order == 5
    assert flow.texts["welcome"] == "own"


def test_an_included_file_may_not_name_the_flow(tmp_path: Path) -> None:
    (tmp_path / "_base.yaml").write_text("name: other\n")
    (tmp_path / "shop.yaml").write_text("name: shop\ntitle: x\ninclude: _base.yaml\n")
    with pytest.raises(FlowError, match=r"shop\.yaml: included files may not set 'name'"):
        load_flow(tmp_path / "shop.yaml")
    (tmp_path / "shop.yaml").write_text("name: shop\ntitle: x\ninclude: _missing.yaml\n")
    with pytest.raises(FlowError, match=r"_missing\.yaml"):
        load_flow(tmp_path / "shop.yaml")
