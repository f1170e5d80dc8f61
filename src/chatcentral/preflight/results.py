"""One line of `chatcentral check`: what was checked, whether it passed, and if not, why and
what fixes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    # The command or setting that fixes a failure (`run \`chatcentral migrate\``, `set …`).
    fix: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"ok   {self.name}: {self.detail}"
        return f"FAIL {self.name}: {self.detail}" + (f"; fix: {self.fix}" if self.fix else "")


def passed(name: str, detail: str) -> Result:
    return Result(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Result:
    return Result(name, False, detail, fix)
