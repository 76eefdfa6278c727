"""The student's own workspace: made once from release/, never overwritten, reset on request;
the solutions after a confirmation; ``aelab check NN``; ``aelab lab`` serving the workspace only.

Every test works on a scratch copy of the course (``AELAB_COURSE_DIR``) and a scratch workspace
(``AELAB_WORKSPACE``); the checkout and the user's own ``~/aelab-work`` are never touched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from course_helpers import aelab_lab, wait_for_lab_url

from aelab.course import cli, lab, registry, workspace
from aelab.course.workspace import WorkspaceError

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = registry.names()
A1, A3 = "01_autoencoder_basics", "03_mnist_outlier_lab"
FILLED = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "note": "my own work"}\n'


def _nb(root: Path, a: str) -> Path:
    return root / a / f"{a}.ipynb"


def _scratch_course(dest: Path, *, source: tuple[str, ...] = ()) -> Path:
    """release/ and solutions/ of the checkout (and the source/ of ``source``), nbgrader_config.py."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for folder in ("release", "solutions"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    for a in source:
        shutil.copytree(ROOT / "source" / a, dest / "source" / a, ignore=ignore)
    return dest


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    course = _scratch_course(tmp_path / "course")
    monkeypatch.setenv("AELAB_COURSE_DIR", str(course))
    return course


@pytest.fixture
def ws(tmp_path, monkeypatch, course) -> Path:
    path = tmp_path / "home" / "aelab-work"
    monkeypatch.setenv("AELAB_WORKSPACE", str(path))
    return path


def _cli_env(course: Path, ws: Path) -> dict[str, str]:
    env = lab.lab_env()
    env.update(AELAB_COURSE_DIR=str(course), AELAB_WORKSPACE=str(ws))
    return env


# ---------------------------------------------------------------------------------------- where
def test_workspace_is_under_home_by_default_and_never_relative_to_the_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AELAB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert workspace.workspace_dir() == (tmp_path / "home" / "aelab-work").resolve()
    monkeypatch.setenv("AELAB_WORKSPACE", "~/my-lab")
    assert workspace.workspace_dir() == (tmp_path / "home" / "my-lab").resolve()
    monkeypatch.setenv("AELAB_WORKSPACE", "my-lab")
    with pytest.raises(WorkspaceError, match=r"AELAB_WORKSPACE must be an absolute folder.*'my-lab'"):
        workspace.workspace_dir()


def test_aelab_workspace_prints_where_it_is(ws, capsys):
    assert cli.main(["workspace"]) == 0
    assert capsys.readouterr().out.strip() == str(ws.resolve())
    assert not ws.exists(), "printing the place must not create it"
    assert cli.main(["workspace", "--create"]) == 0
    assert capsys.readouterr().out.strip() == str(ws.resolve())
    assert all(_nb(ws, a).is_file() for a in ASSIGNMENTS)


def test_a_workspace_that_would_serve_the_course_is_refused(course, tmp_path):
    with pytest.raises(WorkspaceError, match=r"holds the course directory .*source/, solutions/ and autograder/"):
        workspace.ensure_workspace(course.parent, course)
    with pytest.raises(WorkspaceError, match=r"holds the course directory"):
        workspace.ensure_workspace(course, course)
    for inside in ("release", "solutions", "source", "autograder"):
        with pytest.raises(WorkspaceError, match=rf"inside the course's {inside}/"):
            workspace.ensure_workspace(course / inside / "work", course)
    assert not (course / "release" / "work").exists()


# --------------------------------------------------------------------------------------- create
def test_workspace_is_made_from_the_release_and_never_overwritten(course, ws):
    copied = workspace.ensure_workspace(ws, course)
    assert sorted(copied) == sorted(_nb(ws, a) for a in ASSIGNMENTS)
    for a in ASSIGNMENTS:
        assert _nb(ws, a).read_bytes() == _nb(course / "release", a).read_bytes()
    _nb(ws, A1).write_bytes(FILLED)  # the student's work
    _nb(ws, A3).unlink()  # a notebook the student deleted
    _nb(course / "release", A1).write_text(_nb(course / "release", A1).read_text().replace("Lab", "LAB"))
    (course / "release" / A1 / "data.csv").write_text("x\n1\n")  # a file new in the release
    (course / "release" / A1 / ".ipynb_checkpoints").mkdir()
    (course / "release" / A1 / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    copied = workspace.ensure_workspace(ws, course)
    assert sorted(copied) == sorted([_nb(ws, A3), ws / A1 / "data.csv"]), "only what is missing is copied"
    assert _nb(ws, A1).read_bytes() == FILLED, "a file of the workspace was replaced"
    assert not (ws / A1 / ".ipynb_checkpoints").exists()
    assert workspace.ensure_workspace(ws, course) == []


def test_a_course_without_a_release_says_to_build_it(tmp_path):
    (tmp_path / "course" / "source").mkdir(parents=True)
    with pytest.raises(WorkspaceError, match=r"no release/ yet: run `aelab build`"):
        workspace.ensure_workspace(tmp_path / "ws", tmp_path / "course")


def test_a_filled_notebook_survives_aelab_build_byte_for_byte(tmp_path, monkeypatch, capsys):
    """`aelab build` (the real command, release only) regenerates release/ of a scratch course;
    the workspace's filled notebook, and the workspace made again as `aelab lab` does, keep it."""
    course = _scratch_course(tmp_path / "course", source=(A1,))
    ws = tmp_path / "ws"
    monkeypatch.setenv("AELAB_COURSE_DIR", str(course))
    monkeypatch.setenv("AELAB_WORKSPACE", str(ws))
    workspace.ensure_workspace(ws, course)
    nb = json.loads(_nb(ws, A1).read_text())
    solution = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    solution["source"] = ["def reconstruction_error(x, x_hat, kind='mse'):\n", "    return 'my attempt'\n"]
    filled = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
    _nb(ws, A1).write_bytes(filled)
    release = _nb(course / "release", A1)
    release.write_text("stale")  # so that the build visibly writes it
    assert cli.main(["build", "--release-only", A1]) == 0, capsys.readouterr().err
    assert release.read_bytes() == _nb(ROOT / "release", A1).read_bytes(), "aelab build did not rewrite release/"
    assert _nb(ws, A1).read_bytes() == filled, "aelab build changed the workspace"
    assert workspace.ensure_workspace(ws, course) == []
    assert _nb(ws, A1).read_bytes() == filled, "making the workspace again changed a filled notebook"


# ---------------------------------------------------------------------------------------- reset
def test_reset_puts_the_release_back_and_keeps_the_students_copy(course, ws, capsys):
    workspace.ensure_workspace(ws, course)
    _nb(ws, A3).write_bytes(FILLED)
    assert cli.main(["reset", "03"]) == 0
    out = capsys.readouterr().out
    backups = sorted((ws / A3).glob(f"{A3}.backup-*.ipynb"))
    assert len(backups) == 1 and re.fullmatch(rf"{A3}\.backup-\d{{8}}-\d{{6}}\.ipynb", backups[0].name)
    assert backups[0].read_bytes() == FILLED, "the student's copy was not kept"
    assert _nb(ws, A3).read_bytes() == _nb(course / "release", A3).read_bytes()
    assert str(backups[0]) in out and str(_nb(ws, A3)) in out, out
    # twice in the same second: two backups, none replaced
    _nb(ws, A3).write_bytes(FILLED + b" ")
    first = workspace.reset_notebook(A3, stamp="20250101-120000")
    _nb(ws, A3).write_bytes(FILLED + b"  ")
    second = workspace.reset_notebook(A3, stamp="20250101-120000")
    assert first.backup != second.backup
    assert first.backup.read_bytes() == FILLED + b" " and second.backup.read_bytes() == FILLED + b"  "


def test_reset_accepts_a_path_in_the_workspace(course, ws, monkeypatch, capsys):
    workspace.ensure_workspace(ws, course)
    _nb(ws, A1).write_bytes(FILLED)
    monkeypatch.chdir(ws / A1)
    assert cli.main(["reset", f"{A1}.ipynb"]) == 0
    assert _nb(ws, A1).read_bytes() == _nb(course / "release", A1).read_bytes()
    _nb(ws, A1).unlink()  # a deleted notebook is put back, with nothing to keep
    assert cli.main(["reset", str(ws / A1)]) == 0
    assert "there was no" in capsys.readouterr().out
    assert _nb(ws, A1).is_file()


def test_reset_refuses_paths_outside_the_workspace(course, ws, capsys):
    workspace.ensure_workspace(ws, course)
    release = _nb(course / "release", A3)
    before = release.read_bytes()
    for target in (str(release), str(ws / ".." / "elsewhere.ipynb")):
        assert cli.main(["reset", target]) == 2
        err = capsys.readouterr().err
        assert "is not in your workspace" in err and "aelab reset 03_mnist_outlier_lab" in err, err
    assert release.read_bytes() == before
    (ws / A3 / "notes.ipynb").write_bytes(FILLED)
    assert cli.main(["reset", str(ws / A3 / "notes.ipynb")]) == 2
    assert f"the release has no {A3}/notes.ipynb" in capsys.readouterr().err
    assert (ws / A3 / "notes.ipynb").read_bytes() == FILLED
    assert cli.main(["reset", "07"]) == 2
    assert "unknown assignment '07'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ solutions
def test_solutions_are_copied_only_after_a_yes(course, ws):
    env = _cli_env(course, ws)
    cmd = [sys.executable, "-m", "aelab.course.cli", "solutions", "03"]
    refused = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused
    assert "pass --yes" in refused.stderr and "tried the exercises" in refused.stderr, refused.stderr
    assert not (ws / "solutions").exists()
    done = subprocess.run(
        cmd + ["--yes"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done
    target = ws / "solutions" / A3
    assert str(target) in done.stdout
    assert _nb(ws / "solutions", A3).read_bytes() == _nb(course / "solutions", A3).read_bytes()
    _nb(ws / "solutions", A3).write_bytes(FILLED)  # the learner ran and edited them: kept
    again = subprocess.run(
        cmd + ["--yes"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "kept as they are" in again.stdout, again
    assert _nb(ws / "solutions", A3).read_bytes() == FILLED


class _Terminal:
    closed = False

    def isatty(self) -> bool:
        return True


def test_solutions_ask_first_on_a_terminal(course, ws, monkeypatch, capsys):
    asked = []
    answers = iter(["", "n", "yes"])
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or next(answers))
    for _ in range(2):  # Enter (the default) and "n" copy nothing
        assert cli.main(["solutions", A1]) == 1
        assert not (ws / "solutions").exists()
    assert "Have you tried the exercises of 01_autoencoder_basics yourself? The worked solutions" in asked[0]
    assert cli.main(["solutions", A1]) == 0
    assert _nb(ws / "solutions", A1).is_file() and len(asked) == 3
    assert cli.main(["solutions", A1, "--yes"]) == 0 and len(asked) == 3, "--yes must not ask"
    capsys.readouterr()


# ---------------------------------------------------------------------------------------- check
def test_check_takes_an_assignment_or_a_path(course, ws, tmp_path, capsys):
    with pytest.raises(WorkspaceError, match=r"your workspace has no .*`aelab lab`"):
        workspace.notebook_to_check("03")
    workspace.ensure_workspace(ws, course)
    for key in ("03", "3", A3, "lab03", f"{A3}/"):
        assert workspace.notebook_to_check(key) == _nb(ws, A3), key
    elsewhere = tmp_path / f"{A1}.ipynb"
    elsewhere.write_bytes(FILLED)
    assert workspace.notebook_to_check(str(elsewhere)) == elsewhere
    assert workspace.notebook_to_check(str(ws / A3)) == _nb(ws, A3)
    assert cli.main(["check", "07"]) == 2
    assert "unknown assignment '07'" in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "nothing.ipynb")]) == 2
    assert "no notebook at" in capsys.readouterr().err


@pytest.mark.notebook
def test_check_by_name_grades_the_workspace_copy(ws, monkeypatch, capsys):
    """`aelab check 01` grades the workspace's notebook (the release: nothing filled in, no points)
    with the checkout's graders."""
    monkeypatch.delenv("AELAB_COURSE_DIR")
    workspace.ensure_workspace(ws, ROOT)
    rc = cli.main(["check", "01"])
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"aelab check: {_nb(ws, A1)}", out
    assert re.search(rf"{A1}: 0 of \d+ points \(graded\)", out), out
    assert "reconstruction_error: 0/" in out and "to fix" in out, out
    assert rc == 0


# ------------------------------------------------------------------------------- `aelab lab` (student)
class StudentLab:
    """`aelab lab --fast` (student mode) run as a command, with what it printed."""

    def __init__(self, proc, port, token, lines, printed, course, ws, runtime):
        self.proc, self.port, self.token = proc, port, token
        self.lines, self.printed = lines, printed
        self.course, self.ws, self.runtime = course, ws, runtime

    def request(self, path: str, timeout: float = 30):
        """(status, body) of GET ``path`` with the token; an HTTP error is a status too."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}", headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("student-lab")
    course = _scratch_course(tmp / "course", source=(A1,))
    ws = tmp / "home" / "aelab-work"
    workspace.ensure_workspace(ws, course)
    _nb(ws, A1).write_bytes(FILLED)  # work done before this start-up
    port, token = lab.free_port(), secrets.token_hex(8)
    env = _cli_env(course, ws)
    # an instructor's own config turns the formgrader on (as `aelab class init` writes it): the
    # student mode's command line must win over it
    config_dir = tmp / "jupyter-config"
    config_dir.mkdir()
    extensions = {"nbgrader.server_extensions.formgrader": True, "nbgrader.server_extensions.course_list": True}
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": extensions}})
    )
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
    )
    proc, lines = aelab_lab(["--fast", "--port", str(port), "--token", token], env)
    printed: list[str] = []
    server = StudentLab(proc, port, token, lines, printed, course, ws, tmp / "runtime")
    try:
        wait_for_lab_url(proc, lines, port, token, printed)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_student_lab_serves_the_workspace_only(student_lab):
    status, body = student_lab.request("api/contents")
    assert status == 200, body
    listing = sorted(item["name"] for item in json.loads(body)["content"])
    assert listing == sorted(ASSIGNMENTS), f"the student's JupyterLab lists {listing}"
    assert any(str(student_lab.ws) in line for line in student_lab.printed), "".join(student_lab.printed)
    status, body = student_lab.request(f"api/contents/{A3}")
    assert status == 200 and [i["name"] for i in json.loads(body)["content"]] == [f"{A3}.ipynb"], body
    status, body = student_lab.request(f"files/{A1}/{A1}.ipynb")
    assert status == 200 and body.encode() == FILLED


def test_student_lab_cannot_reach_the_checkout(student_lab):
    course = student_lab.course
    secret = (course / "source" / A1 / f"{A1}.ipynb").read_text()
    marker = "### BEGIN SOLUTION"
    assert marker in secret
    targets = [
        f"api/contents/../source/{A1}/{A1}.ipynb",
        f"api/contents/%2e%2e/source/{A1}/{A1}.ipynb",
        f"api/contents/..%2fsource/{A1}/{A1}.ipynb",
        f"api/contents/{A1}/../../source/{A1}/{A1}.ipynb",
        "api/contents/..",
        f"api/contents{course}/source/{A1}/{A1}.ipynb",
        f"api/contents/{os.path.relpath(course / 'source', student_lab.ws)}/{A1}/{A1}.ipynb",
        f"files/../source/{A1}/{A1}.ipynb",
        f"files/%2e%2e/source/{A1}/{A1}.ipynb",
        f"files/..%2fsource/{A1}/{A1}.ipynb",
        f"files/{A1}/..%2f..%2fsource/{A1}/{A1}.ipynb",
        f"files{course}/source/{A1}/{A1}.ipynb",
        "files/../nbgrader_config.py",
        f"files/{os.path.relpath(course / 'nbgrader_config.py', student_lab.ws)}",
        f"view/../source/{A1}/{A1}.ipynb",
        f"nbconvert/html/../source/{A1}/{A1}.ipynb?download=false",
    ]
    for path in targets:
        status, body = student_lab.request(path)
        assert status >= 400, f"GET /{path} answered {status}"
        assert marker not in body and "nbgrader_config(" not in body, f"GET /{path} shows the course's files"


def test_student_lab_has_no_formgrader(student_lab):
    for path in ("formgrader/api/assignments", "formgrader", "formgrader/api/students", "formgraders"):
        status, _ = student_lab.request(path)
        assert status == 404, f"the students' JupyterLab serves /{path} ({status})"
    status, body = student_lab.request("assignments")  # nbgrader's assignment list: there, asks for a course id
    assert status != 404 and "course_id" in body, f"the assignment list is gone ({status})"
    status, page = student_lab.request("lab")
    assert status == 200
    config = json.loads(
        re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    disabled = set(config.get("disabledExtensions", []))
    _, plugins = lab.student_disabled()
    assert set(plugins) <= disabled, f"JupyterLab plugins still on for students: {set(plugins) - disabled}"
    assert "@jupyter/nbgrader:assignment-list" not in disabled, "the assignment list (classroom) was switched off"


def test_student_lab_start_up_keeps_a_filled_notebook(student_lab):
    assert _nb(student_lab.ws, A1).read_bytes() == FILLED


def test_student_lab_stops_on_sigterm(student_lab):
    """SIGTERM (a service manager, `kill`) stops JupyterLab and its kernels, not just `aelab lab`."""
    servers = [json.loads(p.read_text()) for p in student_lab.runtime.glob("jpserver-*.json")]
    assert len(servers) == 1, f"JupyterLab's runtime files: {servers}"
    pid = servers[0]["pid"]
    student_lab.proc.send_signal(signal.SIGTERM)
    rc = student_lab.proc.wait(60)
    assert rc == 0, f"aelab lab exited with {rc} on SIGTERM"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"JupyterLab (pid {pid}) still runs after aelab lab got SIGTERM")
    with pytest.raises(urllib.error.URLError):  # nothing answers there any more
        urllib.request.urlopen(f"http://127.0.0.1:{student_lab.port}/api/status", timeout=5)


def test_the_instructor_lab_has_an_exchange(tmp_path):
    """`aelab lab --instructor` gives the formgrader an exchange that exists: the class's, or a private one."""
    made = lab.instructor_exchange({"HOME": str(tmp_path)})
    assert made == tmp_path / ".local" / "share" / "aelab" / "exchange" and made.is_dir()
    shared = tmp_path / "srv-exchange"
    assert lab.instructor_exchange({"HOME": str(tmp_path), "AELAB_EXCHANGE": str(shared)}) == shared
    assert not shared.exists(), "a class's exchange is the instructor's to make (aelab class init)"
