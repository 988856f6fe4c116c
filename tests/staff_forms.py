"""Read an admin page's main form the way a browser would submit it (for the staff walks)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Forms(HTMLParser):
    """Collect every <form>'s action and the values its fields would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[dict[str, str], dict[str, list[str]]]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._selected_any = False

    def _fields(self) -> dict[str, list[str]]:
        return self.forms[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a, {}))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "image", "file"):
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self._fields().setdefault(a["name"], []).append(a.get("value", default))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._fields().setdefault(self._select, [])
        elif tag == "option" and self._select and "selected" in a:
            self._fields()[self._select].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._fields()[self._textarea] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._fields()[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def main_form(html: str) -> dict[str, list[str]]:
    """Return the fields of the page's main form (not the logout or search forms)."""
    parser = _Forms()
    parser.feed(html)
    for attrs, fields in parser.forms:
        if attrs.get("id") in ("logout-form", "changelist-search"):
            continue
        if (attrs.get("method") or "get").lower() == "post":
            return fields
    raise AssertionError("no POST form on the page")
