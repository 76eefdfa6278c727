"""Helpers of the browser tests (tests/test_browser.py): Chromium through Playwright, JupyterLab
driven through its own commands, and what each notebook cell is expected to do.

Every wait here is on the page's own state (the notebook model's execution counts and states, the
kernel's status, the input prompts ``[*]:``, the formgrader's table) and bounded: a wait that runs
out fails with a message that says what it was waiting for and what the page showed.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}


class BrowserUnavailable(Exception):
    """Why the browser tests cannot run here."""


SKIP_ENV = "AELAB_SKIP_BROWSER"


def opted_out() -> bool:
    """True when ``$AELAB_SKIP_BROWSER`` asks to skip the browser tests (the only way to skip them)."""
    return os.environ.get(SKIP_ENV, "").strip().lower() not in ("", "0", "false", "no")


def browser_unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "the Python package 'playwright' is not installed: `make install` installs the [test] extra "
            "(.venv/bin/python -m pip install -e '.[test]')"
        )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM}: `make system-deps` installs Debian's package as root "
            "(else run `sudo apt-get update && sudo apt-get install -y chromium`), or point AELAB_CHROMIUM "
            "at a Chromium binary"
        )
    return None


def launch_browser(playwright, user_data_dir: Path):
    """Debian's Chromium, headless, in a fresh profile; returns a persistent browser context."""
    if user_data_dir.exists():
        shutil.rmtree(user_data_dir)
    user_data_dir.mkdir(parents=True)
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        device_scale_factor=1,
    )


@contextlib.contextmanager
def local_page(path: Path, profile: Path):
    """A Chromium page on the local file ``path`` (skips when opted out, fails saying why when
    Chromium cannot run); yields ``(page, shots)``, the folder for screenshots."""
    import pytest

    reason = browser_unavailable_reason()
    if opted_out():
        pytest.skip(f"browser tests skipped: {SKIP_ENV} is set")
    if reason:
        pytest.fail(f"the browser tests cannot run: {reason}", pytrace=False)
    from playwright.sync_api import sync_playwright

    shots = Path(__file__).resolve().parent.parent / "test-output" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        context = launch_browser(pw, profile)
        try:
            page = context.new_page()
            page.goto(Path(path).as_uri())
            yield page, shots
        finally:
            context.close()


def quiet_lab_settings(settings_dir: Path) -> None:
    """User settings of a fresh JupyterLab: no news/update toast (offline) and nothing else."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True, exist_ok=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


# ------------------------------------------------------------------------------------------ cells
@dataclass
class CellPlan:
    """What one code cell of a student notebook must do when run top to bottom."""

    index: int  # index among all cells of the notebook
    grade_id: str | None
    kind: str  # "solution" | "test" | "other"
    expect: str  # "ok": no error; "fail": must show an error; "may_fail": stub-dependent
    calls: set[str] = field(default_factory=set)  # student functions it uses directly
    source: str = ""

    def label(self) -> str:
        first = self.source.strip().splitlines()[0] if self.source.strip() else ""
        return f"cell {self.index}" + (f" ({self.grade_id})" if self.grade_id else "") + f": {first[:70]!r}"


def _python(source: str) -> str:
    """Cell source as plain Python (IPython magics and shell escapes transformed away)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to the raw source
        return source


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names the cell reads, names it binds), anywhere in the cell (function bodies included)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return set(), set()
    used, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return used, bound


def plan_student_notebook(nb) -> tuple[list[CellPlan], set[str]]:
    """Expectations for a release notebook run top to bottom with nothing filled in.

    The functions defined in solution cells are stubs raising NotImplementedError. A cell that uses
    one of them, or a name computed from them (followed through the cells, function bodies included),
    depends on the stubs: a graded test cell that depends on them must fail; any other dependent cell
    may fail (with NotImplementedError, or a NameError for a value an earlier failure never made).
    Every other cell must run without error.
    """
    plans: list[CellPlan] = []
    stubs: set[str] = set()
    tainted: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        used, bound = _names(cell.source)
        if meta.get("solution"):
            defined = (
                {
                    n.name
                    for n in ast.walk(ast.parse(_python(cell.source)))
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                }
                if "def " in cell.source
                else set()
            )
            stubs |= defined
            tainted |= bound
            plans.append(CellPlan(i, meta.get("grade_id"), "solution", "ok", set(), cell.source))
            continue
        depends = bool(used & tainted)
        if depends:
            tainted |= bound
        kind = "test" if meta.get("grade") else "other"
        expect = ("fail" if kind == "test" else "may_fail") if depends else "ok"
        plans.append(CellPlan(i, meta.get("grade_id"), kind, expect, used & stubs, cell.source))
    return plans, stubs


# ------------------------------------------------------------------------------------ JupyterLab
APP_READY = """() => !!(window.jupyterapp && window.jupyterapp.shell)"""

NOTEBOOK_READY = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.context.isReady || !w.content) return false;
  const s = w.sessionContext;
  return !!(s && s.isReady && s.session && s.session.kernel && s.session.kernel.status === 'idle');
}"""

CELL_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = c.outputs.toJSON();
    out.push({
      index: i,
      count: c.executionCount,
      state: c.executionState,
      errors: outputs.filter(o => o.output_type === 'error').map(o => ({ename: o.ename, evalue: o.evalue})),
      stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr').map(o => o.text).join(''),
      mimes: [].concat(...outputs.map(o => Object.keys(o.data || {}))),
    });
  }
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const prompts = [...w.node.querySelectorAll('.jp-Cell.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
  const indicator = w.node.querySelector('.jp-Notebook-ExecutionIndicator');
  return {kernel: k ? k.status : 'none', cells: out, prompts,
          indicator: indicator ? indicator.getAttribute('data-status') : null};
}"""

# the command's promise settled, the kernel idle, no cell running or queued ([*]: prompt)
RUN_SETTLED = """() => {
  const d = window.__aelabRun;
  if (!d || !d.settled) return false;
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type === 'code' && c.executionState === 'running') return false;
  }
  const indicator = w.node.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.getAttribute('data-status') !== 'idle') return false;
  return ![...w.node.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('*'));
}"""

START_COMMAND = """([command, args]) => {
  window.__aelabRun = {settled: false};
  window.jupyterapp.commands.execute(command, args || {}).then(
    r => { window.__aelabRun = {settled: true, result: r === undefined ? null : r}; },
    e => { window.__aelabRun = {settled: true, error: String(e)}; });
}"""

RENDERED = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.widgets;
  return cells.map((cell, i) => {
    if (cell.model.type !== 'code') return null;
    const area = cell.node.querySelector('.jp-OutputArea');
    if (!area) return {index: i, images: 0, loaded: 0, progress: 0, widgets: 0, pending: 0, text: ''};
    const imgs = [...area.querySelectorAll('.jp-OutputArea-output img')];
    return {
      index: i,
      images: imgs.length,
      loaded: imgs.filter(im => im.complete && im.naturalWidth > 0).length,
      progress: area.querySelectorAll('.jupyter-widgets .progress-bar').length,
      widgets: area.querySelectorAll('.jupyter-widgets').length,
      // a widget view JupyterLab could not render shows its text fallback ("HBox(children=...)")
      pending: [...area.querySelectorAll('.jp-OutputArea-output')]
        .filter(o => o.getAttribute('data-mime-type') === 'text/plain' && /^\\w*Box\\(children=/.test(o.textContent.trim())).length,
      text: area.textContent.slice(0, 400),
    };
  }).filter(x => x);
}"""

KERNEL_PROBE = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let text = '';
  const f = k.requestExecute({code, silent: false, store_history: false});
  f.onIOPub = m => { if (m.header.msg_type === 'stream') text += m.content.text; };
  await f.done;
  return text;
}"""

SCROLL_TO_CELL = """async (index) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.activeCellIndex = index;
  nb.deselectAll();
  if (nb.scrollToItem) { await nb.scrollToItem(index, 'start'); }
  else { nb.widgets[index].node.scrollIntoView({block: 'start'}); }
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
}"""

SCROLL_TO_OUTPUT = """async ([index, selector]) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const el = nb.widgets[index].node.querySelector(selector);
  if (!el) return false;
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  // Cells off screen are laid out lazily (content-visibility), so a scroll can land short while the
  // cells it passes get their real heights: scroll until the output stays put inside the notebook's
  // visible area for two rounds (bounded).
  let last = null;
  for (let i = 0; i < 40; i++) {
    el.scrollIntoView({block: 'end'});  // the output whole, with the code above it
    await frames();
    const box = el.getBoundingClientRect(), view = nb.node.getBoundingClientRect();
    const inside = box.height > view.height ? Math.abs(box.top - view.top) < 2
                                            : box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
    if (inside && last !== null && Math.abs(box.top - last) < 1) return true;
    last = inside ? box.top : null;
  }
  return false;
}"""

SELECT_CELL = """(index) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.activeCellIndex = index;
  nb.deselectAll();
  return nb.activeCellIndex === index;
}"""

CLOSE_NOTEBOOK = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  await w.context.save();
  await w.sessionContext.shutdown();
  w.dispose();
  return true;
}"""


def summarize(state: dict) -> str:
    """A short human description of a notebook's state, for failure messages."""
    lines = [f"kernel {state.get('kernel')}, execution indicator {state.get('indicator')}"]
    for c in state.get("cells", []):
        err = "; ".join(f"{e['ename']}: {e['evalue']}"[:120] for e in c["errors"])
        lines.append(
            f"  cell {c['index']}: [{c['count'] if c['count'] is not None else ' '}] {c['state']}"
            + (f"  ERROR {err}" if err else "")
        )
    return "\n".join(lines)


def text_progress_bar(stderr: str) -> bool:
    """tqdm's text fallback (what tqdm.auto prints when ipywidgets cannot render)."""
    return bool(re.search(r"\d+%\|[^|\n]*\|", stderr)) or "IProgress not found" in stderr


def read_notebook(path: Path):
    return nbformat.read(path, as_version=4)
