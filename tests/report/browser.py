"""The report as GitHub shows it: GitHub-flavoured Markdown to HTML (markdown-it-py with tables
and raw HTML, as GitHub allows ``<details>`` and ``<sub>``), every ``mermaid`` fence drawn by
the ``mermaid`` npm package in Debian's headless Chromium. Used by test_browser.py and by
``make report-preview`` (scripts/report_preview.py).

Chromium runs the page with a virtual-time budget (it stops when the page's work is done) and
dumps the DOM; the page's script renders each chart on its own, as GitHub does (one frame per
chart), and records per chart whether Mermaid parsed and drew it.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
MERMAID = ROOT / ".cache" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
SETUP = "bash scripts/report-browser.sh"

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mlci report preview</title>
<style>
body {{ font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 900px;
  margin: 24px auto; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
th, td {{ border: 1px solid #d1d9e0; padding: 4px 10px; }}
pre {{ background: #f6f8fa; padding: 8px; overflow: auto; }}
pre.mermaid {{ background: none; }}
</style></head>
<body>
{body}
<pre id="mlci-result" hidden>pending</pre>
<script src="{mermaid}"></script>
<script>
(async () => {{
  mermaid.initialize({{ startOnLoad: false, securityLevel: "strict" }});
  const results = [];
  const blocks = document.querySelectorAll("pre.mermaid");
  for (const [k, block] of blocks.entries()) {{
    const source = block.textContent;
    try {{
      await mermaid.parse(source);
      const {{ svg }} = await mermaid.render("chart" + k, source);
      block.innerHTML = svg;
      results.push({{ ok: true }});
    }} catch (error) {{
      results.push({{ ok: false, error: String(error && error.message || error) }});
    }}
  }}
  document.getElementById("mlci-result").textContent = JSON.stringify(results);
}})();
</script>
</body></html>
"""


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if shutil.which("chromium") is None:
        return f"chromium is not installed ({SETUP})"
    if not MERMAID.is_file():
        return f"the mermaid npm package is not installed ({SETUP})"
    return None


def markdown_to_html(text: str) -> str:
    """GitHub-flavoured Markdown: tables, strikethrough, raw HTML; mermaid fences become
    ``<pre class="mermaid">`` for Mermaid to draw."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    fence = parser.renderer.rules["fence"]

    def mermaid_fence(renderer, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        token = tokens[idx]
        if token.info.strip() == "mermaid":
            return f'<pre class="mermaid">{html.escape(token.content)}</pre>\n'
        return fence(tokens, idx, options, env)

    parser.add_render_rule("fence", mermaid_fence)
    return parser.render(text)


def page(markdown: str) -> str:
    return _PAGE.format(body=markdown_to_html(markdown), mermaid=MERMAID.as_uri())


def _chromium(*args: str, timeout: float = 120) -> str:
    command = [
        "chromium",
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
        "--disable-gpu",
        "--allow-file-access-from-files",
        "--virtual-time-budget=30000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Rendered:
    dom: str
    charts: list[dict[str, object]]
    tables: list[list[int]] = field(default_factory=list)
    """Cells per row of every <table> in the browser's DOM."""
    svgs: int = 0
    tags: dict[str, int] = field(default_factory=dict)
    """How many elements of each tag the DOM holds (outside the charts' SVGs)."""


def render(markdown: str, workdir: Path, screenshot: Path | None = None) -> Rendered:
    """The report in Chromium: its DOM after Mermaid ran, and what it found."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = (workdir / "report.html").resolve()
    source.write_text(page(markdown), encoding="utf-8")
    dom = _chromium("--dump-dom", source.as_uri())
    if screenshot is not None:
        _chromium(
            f"--screenshot={screenshot}",
            "--window-size=980,2400",
            "--hide-scrollbars",
            source.as_uri(),
        )
    reader = _Reader()
    reader.feed(dom)
    result = reader.result.strip()
    charts = json.loads(result) if result.startswith("[") else []
    if result == "pending":
        raise RuntimeError("the page's script did not finish within Chromium's time budget")
    (workdir / "report.dom.html").write_text(dom, encoding="utf-8")
    return Rendered(
        dom=dom, charts=charts, tables=reader.tables, svgs=reader.svgs, tags=reader.tags
    )


class _Reader(HTMLParser):
    """Tables (cells per row), SVG charts and the page script's result, from the DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[int]] = []
        self.tags: dict[str, int] = {}
        self.svgs = 0
        self.result = ""
        self._in_result = False
        self._svg_depth = 0
        self._row: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svgs += self._svg_depth == 0
            self._svg_depth += 1
        if self._svg_depth:
            return
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = 0
        elif tag in ("td", "th") and self._row is not None:
            self._row += 1
        elif tag == "pre" and ("id", "mlci-result") in attrs:
            self._in_result = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1
        elif tag == "tr" and self._row is not None and self.tables and not self._svg_depth:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "pre":
            self._in_result = False

    def handle_data(self, data: str) -> None:
        if self._in_result:
            self.result += data
