"""What may be pushed: committed code only, unless --allow-dirty (a wt- tag, never a moving
tag). Checked at entry, before anything is built."""

from __future__ import annotations

from tests.conftest import git


def test_push_with_uncommitted_changes_exits_2_naming_them(make_project, mlci):
    project = make_project("classification")
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# tweak\n")
    (project / "notes.txt").write_text("an experiment\n")
    done = mlci("run", str(project), "--push")
    assert done.returncode == 2, done.stderr
    assert "--push with uncommitted changes (2)" in done.stderr
    assert "params.yaml" in done.stderr and "notes.txt" in done.stderr
    assert "--allow-dirty" in done.stderr
    assert not (project / ".mlci").exists()  # nothing built, nothing written


def test_push_outside_git_exits_2(make_project, mlci):
    project = make_project("classification", git_init=False)
    done = mlci("run", str(project), "--push")
    assert done.returncode == 2
    assert "--push needs a git repository" in done.stderr


def test_mlci_output_is_not_a_change(make_project, mlci):
    project = make_project("classification")
    (project / ".mlci" / "out").mkdir(parents=True)
    (project / ".mlci" / "out" / "report.md").write_text("old\n")
    git(project, "status", "--porcelain")
    from mlci_action.preflight import check_push

    check_push(project, allow_dirty=False)  # no error: .mlci is mlci's own output
