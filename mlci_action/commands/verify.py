"""`mlci verify IMAGE@sha256:DIGEST`: is there a passing mlci attestation for exactly it?

`mlci promote` runs the same check first (:func:`check_before_promote`).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from mlci_action.images.attestation import Verification, verify
from mlci_action.images.oci import AttestationError, OciClient


def verify_image(client: OciClient, reference: str, console: Console, *, as_json: bool) -> int:
    """Print every check (stderr) and, with ``as_json``, the verification on stdout;
    0 when it verifies, 1 when a check failed."""
    verification = verify(client, reference)
    show_checks(verification, console)
    if as_json:
        print(verification.model_dump_json(by_alias=True, indent=2))
    if verification.ok:
        console.print(f"[bold green]verified[/]: {escape(summary(verification))}")
        if not as_json:
            print(verification.reference)
        return 0
    failed = ", ".join(c.name for c in verification.checks if not c.passed)
    console.print(f"[bold red]not verified[/]: {escape(verification.reference)} ({failed})")
    return 1


def show_checks(verification: Verification, console: Console) -> None:
    width = max(len(c.name) for c in verification.checks)
    for check in verification.checks:
        mark = "[green]✔[/]" if check.passed else "[red]✘[/]"
        console.print(f"{mark} {check.name:<{width}}  {escape(check.detail)}")


def summary(verification: Verification) -> str:
    statement = verification.statement
    if statement is None:
        return verification.reference
    p = statement.predicate
    commit = p.approval.commit or p.source.sha or p.source.ref
    text = f"{p.name} from {commit[:12]}"
    if p.approval.approvers:
        text += f", approved by {', '.join(p.approval.approvers)}"
    metrics = [
        f"{name} {m.candidate:.4g}"
        + (
            f" (Δ CI [{m.ci_low:.3g}, {m.ci_high:.3g}])"
            if m.ci_low is not None and m.ci_high is not None
            else ""
        )
        for name, m in sorted(p.metrics.items())
        if m.candidate is not None
    ]
    if metrics:
        text += "; " + ", ".join(metrics)
    if p.run_url:
        text += f"; run {p.run_url}"
    return text


def check_before_promote(
    client: OciClient, reference: str, console: Console, *, force: bool
) -> bool:
    """Whether ``reference`` may be promoted: it verifies, or ``force`` says go anyway
    (the failed checks are shown either way)."""
    try:
        verification = verify(client, reference)
    except AttestationError as exc:
        if not force:
            raise
        console.print(f"[yellow]warning:[/] attestation not checked: {escape(exc.message)}")
        return True
    if verification.ok:
        console.print(f"[green]✔[/] attested: {escape(summary(verification))}")
        return True
    show_checks(verification, console)
    if force:
        console.print("[yellow]warning:[/] promoting without a passing attestation (--force)")
        return True
    failed = ", ".join(c.name for c in verification.checks if not c.passed)
    console.print(
        f"[bold red]refused[/]: {escape(verification.reference)} has no passing mlci "
        f"attestation ({escape(failed)})"
    )
    console.print(
        "  [dim]hint:[/] push it with `mlci run --push` (which attests it), or pass --force"
    )
    return False
