"""Message templates in a WhatsApp Business Account (WABA), on the Graph API:
`POST /{waba_id}/message_templates` submits one for review, `GET` reads their status.

Operator calls (the `chatcentral templates` commands), synchronous; sending a template
goes through the dispatcher like any message (`whatsapp/graph.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# Meta's answer to a template whose name already exists in that language (code 100).
ALREADY_EXISTS_SUBCODE = 2388024
_FIELDS = "name,language,status,category,id,rejected_reason"
_PAGES_MAX = 20


class TemplateApiError(Exception):
    """The Graph API refused a template call, or could not be reached."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.subcode = subcode
        self.http_status = http_status

    @property
    def already_exists(self) -> bool:
        return self.subcode == ALREADY_EXISTS_SUBCODE

    def __str__(self) -> str:
        where = f"HTTP {self.http_status}" if self.http_status else "no answer"
        code = f", code {self.code}" if self.code is not None else ""
        return f"{where}{code}: {self.reason}"


@dataclass(frozen=True)
class Submitted:
    id: str | None
    status: str  # PENDING, APPROVED or REJECTED
    category: str | None


@dataclass(frozen=True)
class TemplateStatus:
    name: str
    language: str
    status: str  # APPROVED, PENDING, REJECTED, PAUSED, DISABLED…
    category: str | None = None
    id: str | None = None
    rejected_reason: str | None = None


class TemplatesApi:
    def __init__(
        self,
        base_url: str,
        version: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/{version}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def __enter__(self) -> TemplatesApi:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def submit(self, waba_id: str, body: dict[str, Any]) -> Submitted:
        """Submit one template for review (Meta's create-template body)."""
        answer = self._call("POST", f"{self._prefix}/{waba_id}/message_templates", json=body)
        return Submitted(
            id=_text(answer.get("id")),
            status=_text(answer.get("status")) or "PENDING",
            category=_text(answer.get("category")),
        )

    def find(self, waba_id: str, name: str) -> list[TemplateStatus]:
        """Every language of the template called `name` (exactly) in this WABA."""
        url: str | None = f"{self._prefix}/{waba_id}/message_templates"
        params: dict[str, Any] | None = {"name": name, "fields": _FIELDS, "limit": 100}
        found: list[TemplateStatus] = []
        for _ in range(_PAGES_MAX):
            if url is None:
                break
            answer = self._call("GET", url, params=params)
            for item in answer.get("data") or []:
                if isinstance(item, dict) and item.get("name") == name:
                    found.append(
                        TemplateStatus(
                            name=name,
                            language=_text(item.get("language")) or "?",
                            status=_text(item.get("status")) or "?",
                            category=_text(item.get("category")),
                            id=_text(item.get("id")),
                            rejected_reason=_text(item.get("rejected_reason")),
                        )
                    )
            paging = answer.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            url, params = (following, None) if isinstance(following, str) else (None, None)
        return found

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise TemplateApiError(f"Graph API unreachable ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        error = error if isinstance(error, dict) else {}
        code, subcode = error.get("code"), error.get("error_subcode")
        reason = error.get("error_user_msg") or error.get("message") or "unexpected answer"
        raise TemplateApiError(
            str(reason)[:300],
            code=code if isinstance(code, int) else None,
            subcode=subcode if isinstance(subcode, int) else None,
            http_status=response.status_code,
        )


def _text(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None
