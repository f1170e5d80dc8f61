"""Message templates, shipped as data: what is sent when a 24-hour window is closed.

Outside the window WhatsApp accepts only a template approved in the shop's WhatsApp
Business Account (WABA). Each `flows/templates/<key>.yaml` defines one: its name,
language, category, body with `{{1}}`… placeholders, an example value per placeholder
(Meta asks for them at review) and its quick-reply buttons. The same definition builds
the body `chatcentral templates sync` submits (`creation_body`) and the message sent
(`message`), so what is sent always matches what was approved. A shop may use its own
approved copy under another name or language (`settings.templates`, see
`conversation.flow.TemplateChoice`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from chatcentral.conversation.flow import TemplateChoice
from chatcentral.resources import resource_dir
from chatcentral.whatsapp import outbound

_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


class TemplateError(ValueError):
    """A template definition or a send that WhatsApp would refuse; the message says why."""


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    language: str
    category: Literal["UTILITY", "MARKETING", "AUTHENTICATION"]
    body: str
    example: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _acceptable(self) -> TemplateSpec:
        if not outbound.TEMPLATE_NAME_RE.fullmatch(self.name):
            raise ValueError(f"name {self.name!r}: lowercase letters, digits and _ only")
        if not outbound.TEMPLATE_LANGUAGE_RE.fullmatch(self.language):
            raise ValueError(f"language {self.language!r} must look like es_MX")
        if len(self.body) > outbound.TEMPLATE_BODY_MAX:
            raise ValueError(
                f"body is {len(self.body)} characters; WhatsApp allows {outbound.TEMPLATE_BODY_MAX}"
            )
        numbers = [int(n) for n in _PLACEHOLDER.findall(self.body)]
        if sorted(set(numbers)) != list(range(1, len(set(numbers)) + 1)):
            raise ValueError(f"placeholders must be {{{{1}}}} to {{{{n}}}} in turn: {numbers}")
        if len(numbers) != len(set(numbers)):
            raise ValueError("each placeholder may appear once")
        stripped = self.body.strip()
        if _PLACEHOLDER.match(stripped) or re.search(r"\{\{\d+\}\}$", stripped):
            raise ValueError("the body may not start or end with a placeholder (Meta refuses)")
        if len(self.example) != len(numbers):
            raise ValueError(
                f"example has {len(self.example)} values for {len(numbers)} placeholders"
            )
        if not 0 <= len(self.buttons) <= outbound.TEMPLATE_QUICK_REPLIES_MAX:
            raise ValueError(
                f"{len(self.buttons)} buttons; up to {outbound.TEMPLATE_QUICK_REPLIES_MAX}"
            )
        for button in self.buttons:
            if not button.strip() or len(button) > outbound.TEMPLATE_BUTTON_TEXT_MAX:
                raise ValueError(
                    f"button {button!r}: 1 to {outbound.TEMPLATE_BUTTON_TEXT_MAX} characters"
                )
        try:
            self.message(self.example, [f"example:{i}" for i in range(len(self.buttons))])
        except TemplateError as exc:
            raise ValueError(f"example: {exc}") from None
        return self

    @property
    def parameters(self) -> int:
        return len(_PLACEHOLDER.findall(self.body))

    def render(self, params: Sequence[str]) -> str:
        """The body as the recipient reads it."""
        return _PLACEHOLDER.sub(lambda m: params[int(m.group(1)) - 1], self.body)

    def message(self, params: Sequence[str], payloads: Sequence[str]) -> dict[str, Any]:
        """The template message (for `outbound.envelope`), refused if WhatsApp would."""
        if len(params) != self.parameters:
            raise TemplateError(
                f"template {self.name}: {len(params)} parameters for {self.parameters}"
            )
        if len(payloads) != len(self.buttons):
            raise TemplateError(
                f"template {self.name}: {len(payloads)} payloads for {len(self.buttons)} buttons"
            )
        rendered = len(self.render(params))
        if rendered > outbound.TEMPLATE_BODY_MAX:
            raise TemplateError(
                f"template {self.name}: body with its parameters is {rendered} characters; "
                f"WhatsApp allows {outbound.TEMPLATE_BODY_MAX}"
            )
        try:
            return outbound.template(
                self.name, self.language, body_params=params, quick_reply_payloads=payloads
            )
        except outbound.OutboundError as exc:
            raise TemplateError(str(exc)) from None

    def creation_body(self) -> dict[str, Any]:
        """The body of `POST /{waba_id}/message_templates` (Meta's create-template API)."""
        body: dict[str, Any] = {"type": "BODY", "text": self.body}
        if self.example:
            body["example"] = {"body_text": [list(self.example)]}
        components: list[dict[str, Any]] = [body]
        if self.buttons:
            components.append(
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": "QUICK_REPLY", "text": text} for text in self.buttons],
                }
            )
        return {
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "components": components,
        }

    def chosen(self, choice: TemplateChoice | None) -> TemplateSpec:
        """This template under the shop's own name or language, if it set one."""
        if choice is None or (choice.name is None and choice.language is None):
            return self
        return self.model_copy(
            update={
                "name": choice.name or self.name,
                "language": choice.language or self.language,
            }
        )


def template_folder() -> Path:
    return resource_dir("flows") / "templates"


def load_template(path: Path) -> TemplateSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return TemplateSpec.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise TemplateError(f"{path.name}: {where + ': ' if where else ''}{first['msg']}") from None


@functools.cache
def shipped_templates() -> Mapping[str, TemplateSpec]:
    """Every shipped template by key (its file name), loaded once per process."""
    return {path.stem: load_template(path) for path in sorted(template_folder().glob("*.yaml"))}


def for_shop(key: str, choices: Mapping[str, TemplateChoice]) -> TemplateSpec:
    """The shipped template `key` as this shop sends it (its own name or language)."""
    templates = shipped_templates()
    if key not in templates:
        raise TemplateError(f"no template {key!r} in {template_folder()}")
    return templates[key].chosen(choices.get(key))


__all__ = [
    "TemplateError",
    "TemplateSpec",
    "for_shop",
    "load_template",
    "shipped_templates",
    "template_folder",
]
