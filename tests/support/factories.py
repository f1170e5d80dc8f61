"""Small builders shared by tests."""

from __future__ import annotations

from chatcentral.tenancy.provisioning import TenantSpec


def spec(slug: str, phone_number_id: str, flow: str = "grocery", **extra: object) -> TenantSpec:
    fields: dict[str, object] = {
        "slug": slug,
        "name": f"Tienda {slug}",
        "phone_number_id": phone_number_id,
        "display_phone": "+52 55 1234 5678",
        "flow": flow,
        "admin_phones": ["+52 55 8765 4321"],
    }
    fields.update(extra)
    return TenantSpec(**fields)  # type: ignore[arg-type]
