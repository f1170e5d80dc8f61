"""A message as WhatsApp shows it: its own markers become tags, everything else is text."""

from __future__ import annotations

import pytest

from chatcentral.panel.bubble import whatsapp_html


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("*Hola* _Ana_ ~ya no~", "<strong>Hola</strong> <em>Ana</em> <s>ya no</s>"),
        ("*bold _and italic_*", "<strong>bold <em>and italic</em></strong>"),
        ("```SKU-1```", "<code>SKU-1</code>"),
        ("snake_case_name 2*3*4 * spaced *", "snake_case_name 2*3*4 * spaced *"),
        ("*no\nbold*", "*no<br>\nbold*"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("*<img src=x onerror=alert(1)>*", "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"),
        ('Tom & "Jerry"', "Tom &amp; &#34;Jerry&#34;"),
    ],
)
def test_whatsapp_markers_become_tags_and_nothing_else_does(typed: str, shown: str) -> None:
    assert str(whatsapp_html(typed)) == shown
