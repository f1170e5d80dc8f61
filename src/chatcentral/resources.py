"""Where the top-level folders (migrations, flows) are, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Path of `central_schema`, `tenant_schema` or `flows`.

    A wheel bundles them under `chatcentral/_bundled/`; an editable install or a checkout
    finds them at the top of the repository.
    """
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"chatcentral resource folder {name!r} not found")
