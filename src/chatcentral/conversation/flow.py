"""Flow definitions: one YAML file per kind of shop under `flows/`, validated on load.

A flow names its states (each with the view that renders it and the inputs it accepts),
its transitions (triggers, conditions and actions by name, as `transitions` takes them),
its settings and every Spanish text. A shop overrides texts and settings in
`central.tenants.settings` (`{"texts": {...}, "minimum_order": "150.00", ...}`).
"""

from __future__ import annotations

import functools
import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatcentral.resources import resource_dir
from chatcentral.whatsapp import outbound

log = logging.getLogger(__name__)

ParseKind = Literal["quantity", "amount", "text", "location", "media", "order", "number"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One way into a trigger: a tapped id (`cat:*` matches a prefix), typed keywords, or
    a parsed value (a quantity, an amount, free text, a location pin, a photo)."""

    trigger: str
    reply: str | None = None
    keywords: tuple[str, ...] = ()
    parse: ParseKind | None = None

    @model_validator(mode="after")
    def _one_way(self) -> InputSpec:
        if self.reply is None and self.parse is None and not self.keywords:
            raise ValueError(f"input for {self.trigger!r} needs reply, keywords or parse")
        return self


class SkipSpec(_Strict):
    """Leave a state at once, by `trigger`, when `when` holds (a step that does not apply)."""

    when: str
    trigger: str
    value: str | None = None


class StateSpec(_Strict):
    name: str
    view: str
    inputs: tuple[InputSpec, ...] = ()
    skip: SkipSpec | None = None


class TransitionSpec(_Strict):
    trigger: str
    source: str | tuple[str, ...]
    dest: str
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    prepare: tuple[str, ...] = ()
    before: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source


class Zone(_Strict):
    name: str
    postal_codes: tuple[str, ...] = ()
    radius_km: float | None = None
    fee: Decimal = Decimal("0")
    minimum_order: Decimal = Decimal("0")


class Slot(_Strict):
    id: str
    title: str = Field(max_length=outbound.ROW_TITLE_MAX)  # shown as a list row


class Location(_Strict):
    latitude: float
    longitude: float


class TemplateChoice(_Strict):
    """A shop's own name or language for a shipped message template (the copy approved
    in the shop's WhatsApp Business Account); unset fields keep the shipped ones."""

    name: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,512}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")


class Settings(_Strict):
    """What a shop may change without touching code."""

    minimum_order: Decimal = Decimal("0")
    fulfillment: tuple[Literal["delivery", "pickup"], ...] = ("delivery", "pickup")
    delivery_fee: Decimal = Decimal("0")
    delivery_zones: tuple[Zone, ...] = ()
    shop_location: Location | None = None
    delivery_slots: tuple[Slot, ...] = ()
    payment_methods: tuple[Literal["cash", "transfer", "card"], ...] = ("cash",)
    bank_details: str = ""
    session_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Messages a customer may send in a minute before they are asked to slow down.
    rate_limit_per_minute: int = Field(default=20, ge=1, le=600)
    jug_deposit: Decimal | None = None
    # Products whose name contains this word are refills: they need an empty jug back.
    refill_marker: str | None = None
    max_quantity: Decimal = Decimal("50")
    browse_by_category: bool = True
    # A customer waiting for a person this long (business hours) is told and offered the menu.
    handoff_timeout_minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)
    # Refill reminders (`reminders/`): on for flows with a "¿Lo de siempre?" path that
    # set it; a shop turns them off with {"refill_reminders": false}.
    refill_reminders: bool = False
    # Templates by shipped key (`flows/templates/<key>.yaml`), e.g. {"nuevo_pedido": {...}}.
    templates: dict[str, TemplateChoice] = Field(default_factory=dict)


class FlowSpec(_Strict):
    name: str
    title: str
    initial: str = "main_menu"
    settings: Settings = Settings()
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    texts: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> FlowSpec:
        names = {state.name for state in self.states}
        if len(names) != len(self.states):
            raise ValueError("state names must be unique")
        if self.initial not in names:
            raise ValueError(f"initial state {self.initial!r} is not defined")
        for transition in self.transitions:
            for named in (*transition.sources, transition.dest):
                if named not in names:
                    raise ValueError(f"transition {transition.trigger!r} names unknown {named!r}")
        for state in self.states:
            leaving = {t.trigger for t in self.transitions if state.name in t.sources}
            if state.skip is not None and state.skip.trigger not in leaving:
                raise ValueError(
                    f"state {state.name!r}: skip trigger {state.skip.trigger!r} has no transition"
                )
            for spec in state.inputs:
                if spec.trigger not in leaving:
                    raise ValueError(
                        f"state {state.name!r}: input trigger {spec.trigger!r} has no transition"
                    )
        return self

    def state(self, name: str) -> StateSpec:
        for state in self.states:
            if state.name == name:
                return state
        raise KeyError(name)


class FlowError(ValueError):
    """A flow file that cannot be used; the message names the file and the problem."""


SHARED_TEXTS = "_texts.yaml"


def load_flow(path: Path) -> FlowSpec:
    """Read and validate a flow file. Texts shared by all flows (`_texts.yaml` beside it)
    come first; a file named under `include:` lends its settings, states, transitions and
    texts, which the flow's own replace (states by name) or follow (transitions)."""
    data = _read_mapping(path)
    shared = (
        _read_mapping(path.parent / SHARED_TEXTS) if (path.parent / SHARED_TEXTS).exists() else {}
    )
    included = data.pop("include", None) or []
    layers = [_read_mapping(path.parent / name) for name in _names(path, included)]
    for layer in layers:
        for field_ in layer:
            if field_ not in _INCLUDABLE:
                raise FlowError(f"{path.name}: included files may not set {field_!r}")
    data["settings"] = _merged(layers, data, "settings")
    data["texts"] = {**shared, **_merged(layers, data, "texts")}
    data["states"] = _states(layers, data)
    data["transitions"] = [t for layer in (*layers, data) for t in layer.get("transitions") or []]
    try:
        return FlowSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FlowError(f"{path.name}: {where}: {first['msg']}") from None


_INCLUDABLE = {"settings", "states", "transitions", "texts"}


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError(f"{path.name}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FlowError(f"{path.name}: not a mapping of flow fields")
    return data


def _names(path: Path, included: Any) -> list[str]:
    names = [included] if isinstance(included, str) else included
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FlowError(f"{path.name}: include: a file name or a list of them")
    return names


def _merged(layers: list[dict[str, Any]], data: dict[str, Any], key: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in (*layers, data):
        merged.update(layer.get(key) or {})
    return merged


def _states(layers: list[dict[str, Any]], data: dict[str, Any]) -> list[Any]:
    """Included states in their order, each replaced by the flow's own of the same name;
    the flow's other states after them."""
    by_name: dict[str, Any] = {}
    for layer in (*layers, data):
        for state in layer.get("states") or []:
            name = state.get("name") if isinstance(state, dict) else None
            by_name[str(name) if name is not None else f"#{len(by_name)}"] = state
    return list(by_name.values())


def flow_files(folder: Path | None = None) -> dict[str, Path]:
    folder = folder or resource_dir("flows")
    return {path.stem: path for path in sorted(folder.glob("*.yaml")) if path.name[0] != "_"}


@functools.cache
def shipped_flow(name: str) -> FlowSpec:
    """A flow shipped in `flows/`, loaded once per process."""
    files = flow_files()
    if name not in files:
        raise FlowError(f"no flow named {name!r} in {resource_dir('flows')}")
    return load_flow(files[name])


_EFFECTIVE: dict[tuple[int, str], tuple[Settings, dict[str, str]]] = {}


def effective(flow: FlowSpec, shop_settings: dict[str, Any]) -> tuple[Settings, dict[str, str]]:
    """The flow's settings and texts with one shop's overrides applied (cached per shop
    settings). Overrides that do not validate are ignored, with a log line, rather than
    leaving the shop's customers without answers."""
    key = (id(flow), json.dumps(shop_settings, sort_keys=True, default=str))
    cached = _EFFECTIVE.get(key)
    if cached is not None:
        return cached
    overrides = dict(shop_settings)
    texts = {**flow.texts, **overrides.pop("texts", {})}
    try:
        settings = Settings.model_validate({**flow.settings.model_dump(), **overrides})
    except ValidationError as exc:
        log.warning("flow %s: shop settings ignored: %s", flow.name, exc.errors()[0]["msg"])
        settings = flow.settings
    if len(_EFFECTIVE) > 4096:
        _EFFECTIVE.clear()
    _EFFECTIVE[key] = (settings, texts)
    return settings, texts
