"""The course as its users meet it: JupyterLab in Chromium, driven by Playwright.

Two JupyterLabs (``aelab lab``'s :func:`aelab.course.lab.running_lab`, fast mode) on free loopback
ports with tokens, for a scratch copy of the course: the student's (the workspace made from the
copy's release/ with :func:`aelab.course.workspace.ensure_workspace`, as ``aelab lab`` does) and the
instructor's (``aelab lab --instructor``: the course directory). Debian's Chromium opens them
headless. The tests

- open the student's file browser: it shows the assignments, not source/, solutions/ or
  autograder/, and a notebook opened from it runs in fast mode; the formgrader is not there;
- run every workspace notebook as a student does (Run All; where JupyterLab's Run All stops at a
  failing cell, select the next cell and "Run Selected Cell and All Below"), and check that the cells
  that must work show no error, that every solution stub raises NotImplementedError, that the graded
  test cells depending on the stubs fail, and that the figures render;
- run a solution notebook (03 by default, see SOLUTIONS), copied into the workspace by
  ``aelab solutions 03 --yes`` as a self-study learner does, and check that every cell ran without
  error, with its figures;
- check that a tqdm progress bar (``aelab.fit``'s) renders as a widget, not as text;
- open the formgrader in the instructor's JupyterLab (nbgrader's JupyterLab command) and check that
  it lists the four assignments.

Screenshots land in ``test-output/browser/`` (not in git). Without Playwright or Chromium the browser
tests fail, saying what to install (``make test`` installs Chromium first, see the Makefile's
``system-deps``); ``AELAB_SKIP_BROWSER=1`` skips them instead, with the reason in pytest's summary
(``-ra``). The test of the ``aelab lab --instructor`` command itself needs no browser (the student
mode's command is tested in tests/test_workspace.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import sys
import time
import warnings
from pathlib import Path

import browser_helpers as bh
import pytest
from course_helpers import aelab_lab, wait_for_lab_url

from aelab.course import build, lab, registry, workspace

REASON = bh.browser_unavailable_reason()
if REASON is None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
else:  # every test that needs the `page` fixture fails (or, with AELAB_SKIP_BROWSER=1, skips) with REASON
    PlaywrightTimeout = TimeoutError

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output" / "browser"
ASSIGNMENTS = registry.names()
NOTEBOOK_TIMEOUT = float(os.environ.get("AELAB_BROWSER_NOTEBOOK_TIMEOUT", "240"))  # s, one notebook's run
OPEN_TIMEOUT = 120.0  # s, a notebook opened with its kernel idle
# Solution notebooks run in the browser: the richest one by default (the solutions are also executed
# headless by tests/test_course.py); AELAB_BROWSER_SOLUTIONS=all (or a comma-separated list) for more.
_wanted = os.environ.get("AELAB_BROWSER_SOLUTIONS", "03_mnist_outlier_lab")
SOLUTIONS = ASSIGNMENTS if _wanted == "all" else tuple(a for a in ASSIGNMENTS if a in _wanted.split(","))
STUB_ERRORS = {"NotImplementedError", "NameError"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class ConfusingStubError(UserWarning):
    """A stub-dependent cell of a release notebook fails with an error that does not name the stub."""


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def out_dir() -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    return OUT


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A scratch copy of the course (the browser saves notebooks; the checkout stays untouched).
    An assignment whose release/ is not committed yet gets one generated from source/."""
    dest = tmp_path_factory.mktemp("browser-course")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for folder in ("source", "release", "solutions"):
        for a in ASSIGNMENTS:
            if (ROOT / folder / a).is_dir():
                shutil.copytree(ROOT / folder / a, dest / folder / a, ignore=ignore)
    missing = [
        a for a in ASSIGNMENTS if (ROOT / "source" / a).is_dir() and not (ROOT / "release" / a / f"{a}.ipynb").exists()
    ]
    if missing:
        os.environ["PATH"] = lab.lab_env()["PATH"]  # nbgrader runs alembic by name
        for rel, text in build.generate_release(ROOT, missing).items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text)
    return dest


@pytest.fixture(scope="module")
def student_ws(course, tmp_path_factory) -> Path:
    """The student's workspace, made from the course's release/ as `aelab lab` makes it."""
    ws = tmp_path_factory.mktemp("browser-home") / "aelab-work"
    workspace.ensure_workspace(ws, course)
    return ws


def _lab_env(scratch: Path) -> dict[str, str]:
    env = lab.lab_env(fast=True)
    env.update(
        AELAB_OFFLINE="1",
        AELAB_CHECKPOINTS=str(scratch / "checkpoints"),
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
    )
    bh.quiet_lab_settings(scratch / "settings")
    return env


@pytest.fixture(scope="module")
def server(course, student_ws, tmp_path_factory, out_dir):
    """The student's JupyterLab (`aelab lab`): the workspace as its root, no formgrader."""
    with lab.running_lab(
        student_ws,
        lab.free_port(),
        secrets.token_hex(16),
        _lab_env(tmp_path_factory.mktemp("browser-lab")),
        course=course,
        student=True,
        log_path=out_dir / "jupyterlab.log",
        timeout=180,
        extra_args=["--LabApp.expose_app_in_browser=True"],
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def instructor_server(course, tmp_path_factory, out_dir):
    """The instructor's JupyterLab (`aelab lab --instructor`): the course directory, the formgrader."""
    with lab.running_lab(
        course,
        lab.free_port(),
        secrets.token_hex(16),
        _lab_env(tmp_path_factory.mktemp("browser-lab-instructor")),
        course=course,
        log_path=out_dir / "jupyterlab-instructor.log",
        timeout=180,
        extra_args=["--LabApp.expose_app_in_browser=True"],
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Debian's Chromium through Playwright: one browser context for the module."""
    if bh.opted_out():
        pytest.skip(f"browser tests skipped: {bh.SKIP_ENV} is set")
    if REASON:
        pytest.fail(f"the browser tests cannot run: {REASON} ({bh.SKIP_ENV}=1 skips them)", pytrace=False)
    with sync_playwright() as pw:
        context = bh.launch_browser(pw, tmp_path_factory.mktemp("chromium") / "profile")
        try:
            yield context
        finally:
            context.close()


def _open_lab(context, server):
    pg = context.pages[0] if context.pages and context.pages[0].url in ("", "about:blank") else context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server.url("lab"))
    _wait(pg, bh.APP_READY, None, OPEN_TIMEOUT, "JupyterLab's application (window.jupyterapp)")
    pg.evaluate("() => window.jupyterapp.restored.then(() => true)")
    return pg


@pytest.fixture(scope="module")
def page(request, chromium):
    """One Chromium page on the student's JupyterLab, app loaded."""
    yield _open_lab(chromium, request.getfixturevalue("server"))


@pytest.fixture(scope="module")
def instructor_page(request, chromium):
    """One Chromium page on the instructor's JupyterLab, app loaded."""
    yield _open_lab(chromium, request.getfixturevalue("instructor_server"))


# --------------------------------------------------------------------------------------- helpers
def _wait(pg, js: str, arg, timeout: float, what: str) -> None:
    try:
        pg.wait_for_function(js, arg=arg, timeout=timeout * 1000, polling=250)
    except PlaywrightTimeout:
        detail = ""
        try:
            detail = bh.summarize(pg.evaluate(bh.CELL_STATE))
        except Exception:  # noqa: BLE001 - no notebook open
            pass
        shot = OUT / f"timeout-{re.sub(r'[^A-Za-z0-9]+', '-', what)[:60].strip('-')}.png"
        try:
            OUT.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(shot))
            detail += f"\nscreenshot: {shot}"
        except Exception:  # noqa: BLE001 - the page is gone
            pass
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}", pytrace=False)


def open_notebook(pg, path: str) -> None:
    """Open a notebook as from the file browser and wait until its kernel is idle."""
    pg.evaluate(
        "(path) => window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'}).then(() => true)",
        path,
    )
    _wait(pg, bh.NOTEBOOK_READY, path, OPEN_TIMEOUT, f"{path} to open with an idle kernel")


def close_notebook(pg) -> None:
    pg.evaluate(bh.CLOSE_NOTEBOOK)


def run_command(pg, command: str, timeout: float) -> None:
    pg.evaluate(bh.START_COMMAND, [command, None])
    _wait(pg, bh.RUN_SETTLED, None, timeout, f"'{command}' to finish (kernel idle, no cell running or queued [*])")


def run_all_as_a_student(pg, timeout: float = NOTEBOOK_TIMEOUT) -> tuple[dict, int]:
    """Run All; while JupyterLab's Run All stopped at a failing cell, run on from the next cell.
    Returns the final state and the number of restarts from a later cell."""
    deadline = time.monotonic() + timeout
    run_command(pg, "notebook:run-all-cells", timeout)
    restarts = 0
    while True:
        state = pg.evaluate(bh.CELL_STATE)
        todo = [c for c in state["cells"] if c["count"] is None]
        if not todo:
            return state, restarts
        before = [c for c in state["cells"] if c["index"] < todo[0]["index"]]
        if not before or not before[-1]["errors"]:
            pytest.fail(
                f"Run All stopped before cell {todo[0]['index']} without an error in the cell above it\n"
                + bh.summarize(state),
                pytrace=False,
            )
        restarts += 1
        if restarts > len(state["cells"]):
            pytest.fail("more restarts than code cells\n" + bh.summarize(state), pytrace=False)
        pg.evaluate(bh.SELECT_CELL, todo[0]["index"])
        run_command(pg, "notebook:run-all-below", max(5.0, deadline - time.monotonic()))


def check_all_executed(state: dict) -> None:
    counts = [c["count"] for c in state["cells"]]
    assert all(isinstance(n, int) for n in counts), "cells left unexecuted:\n" + bh.summarize(state)
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        "cells ran out of order or twice:\n" + bh.summarize(state)
    )
    bad = [p for p in state["prompts"] if not re.fullmatch(r"\[\d+\]:", p)]
    assert not bad, f"input prompts not all filled as [n]: {bad}"
    assert state["kernel"] == "idle"
    if state["indicator"] is not None:
        assert state["indicator"] == "idle", f"execution indicator says {state['indicator']}"


def check_kernel(pg) -> None:
    """The notebook's kernel is this environment's Python, in fast mode, with the inline backend."""
    out = pg.evaluate(
        bh.KERNEL_PROBE,
        "import os, sys, matplotlib; print(sys.executable); "
        "print(os.environ.get('AELAB_FAST')); print(matplotlib.get_backend())",
    )
    exe, fast, backend = out.strip().splitlines()
    assert Path(exe).resolve() == Path(sys.executable).resolve() or Path(exe).parent == Path(sys.executable).parent, (
        f"the notebook's kernel runs {exe}, not this environment's {sys.executable}"
    )
    assert fast == "1", "the kernel does not see AELAB_FAST=1"
    assert "inline" in backend, f"matplotlib backend in the kernel is {backend}: figures would not show"


def rendered(pg) -> dict[int, dict]:
    return {r["index"]: r for r in pg.evaluate(bh.RENDERED)}


def wait_images_loaded(pg, timeout: float = 30) -> None:
    _wait(
        pg,
        """() => [...document.querySelectorAll('.jp-OutputArea-output img')]
                   .every(im => im.complete && im.naturalWidth > 0)""",
        None,
        timeout,
        "the figures to load",
    )


def screenshot_at(pg, index: int | None, path: Path, output: str | None = None) -> None:
    """Screenshot of the window with cell ``index`` at the top, or with its ``output`` (a CSS
    selector inside the cell) scrolled fully into view."""
    if index is not None and not (output and pg.evaluate(bh.SCROLL_TO_OUTPUT, [index, output])):
        if output:
            print(f"{path.name}: could not frame {output} of cell {index}; showing the cell")
        pg.evaluate(bh.SCROLL_TO_CELL, index)
    pg.screenshot(path=str(path))


FIGURE = ".jp-OutputArea-output img"
ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def headless_outputs(nb_path: Path) -> dict[int, set[str]]:
    """Mime types of each cell's outputs in a notebook executed headless (solutions/)."""
    if not nb_path.exists():
        return {}
    nb = bh.read_notebook(nb_path)
    return {
        i: {m for o in c.get("outputs", []) for m in o.get("data", {})}
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    }


def check_rendering(pg, state: dict, expect_ok: set[int], reference: dict[int, set[str]]) -> list[str]:
    """Figures and widget progress bars shown where the headless run had them; no text fallback."""
    problems = []
    shown = rendered(pg)
    for c in state["cells"]:
        i = c["index"]
        if bh.text_progress_bar(c["stderr"]):
            problems.append(f"cell {i}: a progress bar rendered as text: {c['stderr'][-200:]!r}")
        if WIDGET_MIME in c["mimes"] and not shown[i]["widgets"]:
            problems.append(f"cell {i}: a widget output did not render ({shown[i]['text'][:120]!r})")
        if shown[i]["pending"]:
            problems.append(f"cell {i}: a widget shows its text fallback ({shown[i]['text'][:120]!r})")
        if i not in expect_ok:
            continue
        ref = reference.get(i, set())
        if "image/png" in ref and not shown[i]["loaded"]:
            problems.append(f"cell {i}: the headless run has a figure, the browser shows none")
        if WIDGET_MIME in ref and not shown[i]["progress"]:
            problems.append(f"cell {i}: the headless run has a progress bar widget, the browser shows none")
    return problems


# ------------------------------------------------------------------------------------------- tests
def test_aelab_lab_instructor_command_serves_the_course(course, tmp_path):
    """`aelab lab --instructor --fast --port P --token T` prints its URL, serves the course with the
    python3 kernel and nbgrader's formgrader (the course's nbgrader_config.py), and stops cleanly on Ctrl-C,
    JupyterLab too, even when started with SIGINT ignored (as a background job of a script is)."""
    import json
    import signal
    import subprocess
    import urllib.request

    port, token = lab.free_port(), secrets.token_hex(8)
    env = lab.lab_env()
    env.update(
        AELAB_COURSE_DIR=str(course),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    proc, lines = aelab_lab(["--instructor", "--fast", "--port", str(port), "--token", token], env, ignore_sigint=True)
    try:
        wait_for_lab_url(proc, lines, port, token, [])

        def get(path):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())

        assert "python3" in get("api/kernelspecs")["kernelspecs"]
        listing = {item["name"] for item in get("api/contents")["content"]}
        assert {"source", "release", "solutions"} <= listing, f"the instructor's JupyterLab lists {sorted(listing)}"
        names = [a["name"] for a in get("formgrader/api/assignments")]
        assert sorted(names) == sorted(ASSIGNMENTS), f"the formgrader sees {names}"
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs", timeout=30)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, f"aelab lab exited with {rc} on Ctrl-C"
    with pytest.raises(ConnectionRefusedError):  # JupyterLab stopped too, not only aelab
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


FILE_LISTING = """() => [...document.querySelectorAll('#filebrowser .jp-DirListing-content .jp-DirListing-item')]
                  .map(e => e.querySelector('.jp-DirListing-itemText').textContent.trim())"""

CLOSE_WITHOUT_SAVING = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  w.context.model.dirty = false;
  await w.sessionContext.shutdown();
  w.dispose();
  return true;
}"""


def _listing_item(pg, name: str):
    """The file browser's row named exactly ``name``."""
    text = pg.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
    return pg.locator("#filebrowser .jp-DirListing-content .jp-DirListing-item").filter(has=text)


def test_student_file_browser_shows_the_assignments_only(page, course, student_ws, out_dir):
    """The student's JupyterLab (`aelab lab`): the file browser shows the workspace's assignments, not
    source/, solutions/, autograder/ or release/; a notebook opened from it runs in fast mode; nbgrader's
    formgrader is not there, its assignment list (a classroom's students use it) is."""
    _wait(
        page,
        "() => window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')",
        None,
        30,
        "nbgrader's assignment list (command nbgrader:open-assignment-list)",
    )
    for command in ("nbgrader:open-formgrader", "nbgrader:open-create-assignment", "nbgrader:open-course-list"):
        assert not page.evaluate("(c) => window.jupyterapp.commands.hasCommand(c)", command), (
            f"the student's JupyterLab has {command}"
        )
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate').then(() => true)")
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:go-to-path', {path: '/'}).then(() => true)")
    on_disk = sorted(p.name for p in student_ws.iterdir() if not p.name.startswith("."))
    _wait(page, f"() => ({FILE_LISTING})().length === {len(on_disk)}", None, 30, f"the file browser to list {on_disk}")
    shown = page.evaluate(FILE_LISTING)
    screenshot_at(page, None, out_dir / "student-file-browser.png")
    assert sorted(shown) == on_disk, f"the file browser shows {shown}, the workspace holds {on_disk}"
    assert set(ASSIGNMENTS) <= set(shown), f"the file browser shows {shown}, not every assignment"
    course_only = {"source", "release", "autograder", "nbgrader_config.py", "gradebook.db", "aelab", "tests"}
    assert not course_only & set(shown), (
        f"the student's file browser shows the course's {sorted(course_only & set(shown))}"
    )
    if not (student_ws / workspace.SOLUTIONS_FOLDER).exists():  # only after `aelab solutions`
        assert workspace.SOLUTIONS_FOLDER not in shown, f"the file browser shows solutions/: {shown}"

    # open a notebook as a student does: double-click its folder, then the notebook
    a = ASSIGNMENTS[0]
    _listing_item(page, a).dblclick()
    _listing_item(page, f"{a}.ipynb").wait_for(timeout=30_000)
    screenshot_at(page, None, out_dir / "student-file-browser-assignment.png")
    _listing_item(page, f"{a}.ipynb").dblclick()
    path = f"{a}/{a}.ipynb"
    _wait(page, bh.NOTEBOOK_READY, path, OPEN_TIMEOUT, f"{path} to open with an idle kernel")
    try:
        plans, _ = bh.plan_student_notebook(bh.read_notebook(student_ws / path))
        setup = next(p for p in plans if p.grade_id == "setup")
        page.evaluate(bh.SELECT_CELL, setup.index)
        run_command(page, "notebook:run-cell", 120)
        state = page.evaluate(bh.CELL_STATE)
        cell = next(c for c in state["cells"] if c["index"] == setup.index)
        assert cell["count"] == 1 and not cell["errors"], f"the setup cell of {path}:\n" + bh.summarize(state)
        fast = page.evaluate(bh.KERNEL_PROBE, "print(FAST, DATA_DIR.is_absolute())").split()
        assert fast == ["True", "True"], f"the setup cell of {path} set FAST, absolute DATA_DIR = {fast}"
        check_kernel(page)
        screenshot_at(page, setup.index, out_dir / "student-notebook-from-file-browser.png")
    finally:
        page.evaluate(CLOSE_WITHOUT_SAVING)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_notebook_as_a_student(page, course, student_ws, out_dir, assignment):
    """The workspace's copy of the release notebook, run as a student does."""
    nb_file = student_ws / assignment / f"{assignment}.ipynb"
    if not nb_file.exists():
        pytest.fail(f"no notebook {nb_file} in the workspace (no release notebook, and no source to generate it)")
    plans, stubs = bh.plan_student_notebook(bh.read_notebook(nb_file))
    assert stubs, "the release has no solution stubs"
    rel = f"{assignment}/{assignment}.ipynb"  # in the student's JupyterLab, the workspace is the root
    t0 = time.monotonic()
    open_notebook(page, rel)
    state, restarts = run_all_as_a_student(page)
    elapsed = time.monotonic() - t0
    try:
        check_all_executed(state)
        cells = {c["index"]: c for c in state["cells"]}
        assert sorted(cells) == [p.index for p in plans], "the browser shows other code cells than the file"
        problems = []
        for p in plans:
            errors = cells[p.index]["errors"]
            names = {e["ename"] for e in errors}
            if p.expect == "ok" and errors:
                problems.append(f"{p.label()} must work but shows {errors[0]['ename']}: {errors[0]['evalue'][:200]}")
            elif p.expect == "fail" and not errors:
                problems.append(f"{p.label()} is a graded test on a stub and passed with nothing filled in")
            elif p.expect == "fail" and names - STUB_ERRORS:
                problems.append(
                    f"{p.label()} is a graded test on a stub but fails with {sorted(names)}: "
                    f"{errors[0]['evalue'][:200]}"
                )
            elif p.expect == "may_fail" and names - STUB_ERRORS:
                # a later cell tripping over a name an earlier, failed cell left behind: confusing for
                # a student, but a consequence of the empty stubs, so reported rather than failed
                warnings.warn(
                    ConfusingStubError(
                        f"{rel}: {p.label()} depends on a stub; with nothing filled in it fails with "
                        f"{errors[0]['ename']}: {errors[0]['evalue'][:200]} (not NotImplementedError/NameError)"
                    )
                )
        for stub in sorted(stubs):
            raised = [
                p
                for p in plans
                if stub in p.calls and "NotImplementedError" in {e["ename"] for e in cells[p.index]["errors"]}
            ]
            if not raised:
                problems.append(f"no cell shows the stub {stub}() raising NotImplementedError")
        ok_cells = {p.index for p in plans if p.expect == "ok"}
        reference = headless_outputs(course / "solutions" / assignment / f"{assignment}.ipynb")
        problems += check_rendering(page, state, ok_cells, reference)
        check_kernel(page)
        wait_images_loaded(page)
        shown = rendered(page)
        figures = [i for i, r in shown.items() if r["loaded"]]
        assert figures, "no figure rendered anywhere in the student's notebook"
        print(
            f"{assignment}: {len(plans)} code cells, ran in {elapsed:.0f} s with {restarts} restart(s) after "
            f"stub errors; {len(figures)} cell(s) with figures; "
            f"{sum(1 for r in shown.values() if r['progress'])} with a progress widget"
        )
        first_stub_error = next(p.index for p in plans if cells[p.index]["errors"])
        screenshot_at(page, first_stub_error, out_dir / f"release-{assignment}-stub.png", ERROR)
        screenshot_at(page, figures[0], out_dir / f"release-{assignment}.png", FIGURE)
        assert not problems, f"{rel} in JupyterLab:\n  " + "\n  ".join(problems)
    finally:
        close_notebook(page)


@pytest.mark.parametrize("assignment", SOLUTIONS)
def test_solution_notebook_runs_without_error(page, course, student_ws, out_dir, assignment):
    """The worked solutions a self-study learner copies with `aelab solutions NN --yes` run in the
    student's JupyterLab."""
    import subprocess

    if not (course / "solutions" / assignment / f"{assignment}.ipynb").exists():
        pytest.fail(f"solutions/{assignment}/{assignment}.ipynb is missing: run `aelab build`")
    env = dict(lab.lab_env(), AELAB_COURSE_DIR=str(course), AELAB_WORKSPACE=str(student_ws))
    number = registry.assignment(assignment).number
    copied = subprocess.run(
        [sys.executable, "-m", "aelab.course.cli", "solutions", number, "--yes"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copied.returncode == 0, f"aelab solutions {number} --yes failed: {copied.stdout}{copied.stderr}"
    nb_file = student_ws / workspace.SOLUTIONS_FOLDER / assignment / f"{assignment}.ipynb"
    assert nb_file.exists(), f"aelab solutions did not copy {nb_file}: {copied.stdout}"
    reference = headless_outputs(nb_file)  # read before the browser overwrites it
    rel = f"{workspace.SOLUTIONS_FOLDER}/{assignment}/{assignment}.ipynb"
    t0 = time.monotonic()
    open_notebook(page, rel)
    try:
        run_command(page, "notebook:run-all-cells", NOTEBOOK_TIMEOUT)
        state = page.evaluate(bh.CELL_STATE)
        elapsed = time.monotonic() - t0
        check_all_executed(state)
        counts = [c["count"] for c in state["cells"]]
        assert counts == list(range(1, len(counts) + 1)), f"not one run top to bottom: {counts}"
        errors = [(c["index"], e) for c in state["cells"] for e in c["errors"]]
        assert not errors, f"{rel}: cells fail in JupyterLab:\n" + "\n".join(
            f"  cell {i}: {e['ename']}: {e['evalue'][:300]}" for i, e in errors
        )
        check_kernel(page)
        wait_images_loaded(page)
        problems = check_rendering(page, state, {c["index"] for c in state["cells"]}, reference)
        shown = rendered(page)
        figures = [i for i, r in shown.items() if r["loaded"]]
        print(f"{assignment} solution: {len(counts)} code cells in {elapsed:.0f} s, {len(figures)} with figures")
        screenshot_at(page, figures[-1] if figures else None, out_dir / f"solution-{assignment}.png", FIGURE)
        assert not problems, f"{rel} in JupyterLab:\n  " + "\n  ".join(problems)
    finally:
        close_notebook(page)


WIDGET_CHECK = [
    "import torch\nimport aelab\n\ntorch.manual_seed(0)\nmodel = torch.nn.Linear(4, 4)\ndata = torch.randn(64, 4)",
    "# aelab.fit's progress bar (tqdm.auto): an ipywidgets bar in JupyterLab\n"
    "history = aelab.fit(model, data, epochs=3, batch_size=16, progress=True, desc='widget check',\n"
    "                    loss_fn=lambda m, b: ((m(b) - b) ** 2).mean())",
    "import matplotlib.pyplot as plt\nplt.plot(history.epoch_loss, marker='o')\n"
    "plt.title('widget check: epoch loss')\nplt.show()",
]


def test_progress_bar_renders_as_a_widget(page, student_ws, out_dir):
    """tqdm.auto (aelab.fit's bar) shows an ipywidgets progress bar, not text; figures show inline.
    (In fast mode the course notebooks switch their bars off, so this checks the bar on its own.)"""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in WIDGET_CHECK]
    folder = student_ws / "browser_check"
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / "widget_check.ipynb")
    open_notebook(page, "browser_check/widget_check.ipynb")
    try:
        run_command(page, "notebook:run-all-cells", 120)
        state = page.evaluate(bh.CELL_STATE)
        check_all_executed(state)
        assert not any(c["errors"] for c in state["cells"]), bh.summarize(state)
        fit = state["cells"][1]
        assert WIDGET_MIME in fit["mimes"], f"aelab.fit printed no widget: {fit['mimes']} {fit['stderr'][-300:]!r}"
        _wait(
            page,
            """() => { const c = window.jupyterapp.shell.currentWidget.content.widgets[1];
                  return !!c.node.querySelector('.jp-OutputArea .jupyter-widgets .progress-bar'); }""",
            None,
            30,
            "the progress bar widget to render",
        )
        wait_images_loaded(page)
        problems = check_rendering(page, state, set(), {})
        shown = rendered(page)
        assert shown[1]["progress"], f"no progress bar widget: {shown[1]['text']!r}"
        assert shown[2]["loaded"], "the figure did not render"
        bar = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets[1].node
                                  .querySelector('.jp-OutputArea').textContent""")
        assert "3/3" in bar, f"the bar did not reach 3/3 epochs: {bar!r}"
        check_kernel(page)
        screenshot_at(page, 0, out_dir / "widget-progress-bar.png")
        assert not problems, "\n".join(problems)
    finally:
        close_notebook(page)


def test_formgrader_lists_the_four_assignments(instructor_page, out_dir):
    """In the instructor's JupyterLab, nbgrader's Formgrader, opened with its JupyterLab command,
    finds the course's assignments."""
    page = instructor_page
    _wait(
        page,
        "() => window.jupyterapp.commands.hasCommand('nbgrader:open-formgrader')",
        None,
        30,
        "nbgrader's JupyterLab extension (command nbgrader:open-formgrader)",
    )
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-formgrader').then(() => true)")
    frame = page.frame_locator("iframe[src*='formgrader']")
    rows = frame.locator("#main-table tr td.name a")
    try:
        expect(rows).to_have_count(len(ASSIGNMENTS), timeout=60_000)
    except AssertionError:
        screenshot_at(page, None, out_dir / "formgrader.png")
        raise
    names = rows.all_inner_texts()
    assert sorted(names) == sorted(ASSIGNMENTS), f"the formgrader lists {names}"
    banners = frame.locator("#warning-exchange, #warning-course-id")
    assert banners.count() == 0, f"the formgrader warns: {banners.all_inner_texts()}"
    for a in ASSIGNMENTS:
        row = frame.locator("#main-table tr", has=frame.locator(f"td.name a:text-is('{a}')"))
        expect(row.locator("td.preview a"), f"{a}: no release to preview").to_have_count(1, timeout=10_000)
    screenshot_at(page, None, out_dir / "formgrader.png")
