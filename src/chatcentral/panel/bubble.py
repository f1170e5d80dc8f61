"""A message as WhatsApp shows it, in HTML: *bold*, _italic_, ~strike~, ```monospace```
and line breaks. The text is escaped first and only these tags are added around
already-escaped parts, so nothing a shop or customer typed becomes markup."""

from __future__ import annotations

import re

from markupsafe import Markup, escape


def _style(marker: str) -> re.Pattern[str]:
    """WhatsApp's rule: the markers hug the text (no space inside them) and stand apart
    from the words around (snake_case or 2*3*4 stay as typed); never across lines."""
    m = re.escape(marker)
    return re.compile(rf"(?<![\w{m}]){m}(?=\S)([^\n]*?\S){m}(?![\w{m}])")


_STYLES = (
    (re.compile(r"```([^\n]+?)```"), "code"),
    (_style("*"), "strong"),
    (_style("_"), "em"),
    (_style("~"), "s"),
)


def whatsapp_html(text: str) -> Markup:
    html = str(escape(text))
    for pattern, tag in _STYLES:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    return Markup(html.replace("\n", "<br>\n"))  # noqa: S704 - built from escaped text only
