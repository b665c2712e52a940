"""`make report-preview`: the report of sample runs (curves from real scikit-learn models, see
tests/report/records.py) as GitHub shows it, rendered in headless Chromium with Mermaid:
build/report-preview/<case>/report.html (open it in a browser) and <case>.png, a screenshot.

    python scripts/report_preview.py [case ...]    # classification, regression, failing, maximum

The case ``demo`` shows the report `make demo` wrote (build/demo/.mlci/out/report.md): a
real run of the classification example against its baseline; docs/report-preview.png is its
screenshot.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlci_action.report.render import render_limited  # noqa: E402
from tests.report import browser, records  # noqa: E402

CASES = {
    "classification": records.classification,
    "regression": records.regression,
    "failing": records.failing,
    "maximum": records.maximum,
}
DEMO_REPORT = ROOT / "build" / "demo" / ".mlci" / "out" / "report.md"


def main(argv: list[str]) -> int:
    why = browser.missing()
    if why:
        print(f"report-preview: {why}", file=sys.stderr)
        return 2
    unknown = [name for name in argv if name not in CASES and name != "demo"]
    if unknown:
        print(
            f"report-preview: unknown case {unknown[0]!r}; cases: {', '.join(CASES)}, demo",
            file=sys.stderr,
        )
        return 2
    out = ROOT / "build" / "report-preview"
    for name in argv or list(CASES):
        if name == "demo":
            if not DEMO_REPORT.is_file():
                print(
                    f"report-preview: {DEMO_REPORT} is missing: run `make demo` first",
                    file=sys.stderr,
                )
                return 2
            markdown = DEMO_REPORT.read_text(encoding="utf-8")
        else:
            markdown = render_limited(CASES[name]())
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "report.md").write_text(markdown, encoding="utf-8")
        shown = browser.render(markdown, out / name, screenshot=out / f"{name}.png")
        drawn = sum(1 for chart in shown.charts if chart["ok"])
        print(f"{name}: {len(markdown)} characters, {drawn} of {len(shown.charts)} charts drawn")
        print(f"  {out / name / 'report.html'}\n  {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
