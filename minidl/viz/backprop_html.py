"""One self-contained HTML file from the backprop page's data: the template of
``minidl/viz/page/`` with its style, the vendored layout library, the data and the script inlined,
so that the page needs no server and no network (its Content-Security-Policy forbids loading
anything)."""
import html
import json
from importlib import resources

PAGE = resources.files("minidl.viz") / "page"


def page_html(data, title):
    """The page for ``data`` (from ``backprop_trace.trace``) as one string of HTML."""
    parts = {
        "title": html.escape(title),
        "style": _read("page.css"),
        "dagre": _without_source_map(_read("vendor/dagre.min.js")),
        "data": _as_script_literal(data),
        "script": _read("page.js"),
    }
    page = _read("template.html")
    for name, text in parts.items():
        page = page.replace(f"<!--minidl:{name}-->", text)
    return page


def _read(name):
    return (PAGE / name).read_text(encoding="utf-8")


def _without_source_map(script):
    """The vendored file minus its ``//# sourceMappingURL`` line (a map that is not shipped)."""
    return "\n".join(line for line in script.splitlines() if not line.startswith("//# sourceMappingURL"))


def _as_script_literal(data):
    """``data`` as a JavaScript literal inside <script>: JSON (whose NaN and Infinity are JavaScript
    too), with every "<" escaped so that no "</script>" in a label can end the script early."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
