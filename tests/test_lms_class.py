"""A class graded from an LMS zip, end to end: Canvas and Moodle in, grades, lateness, copies, report out.

Five lab-01 submissions in a Canvas-style zip (with a roster whose names carry commas, quotes and
accents, and a stray file): ann right; bo wrong in one exercise; cy right in her own way but late;
dee a copy of ann's with renamed variables, no comments and other layout; eve right in her own way.
``aelab grade ZIP`` grades them with the real engine (sandbox), with a deadlines file and both LMS
exports; then bo's fixed submission is regraded from a Moodle-style zip into the same folder, and
the whole class (bo's fixed answers) is graded once more from a Moodle-style zip of its own.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from aelab.course import similarity

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
SOURCE = ROOT / "source" / A / f"{A}.ipynb"
RELEASE = ROOT / "release" / A / f"{A}.ipynb"
AELAB = Path(sys.executable).parent / "aelab"

DISGUISED = {  # ann's answers, renamed, requoted, reformatted, comments gone
    "beta_vae_loss": """def beta_vae_loss(inp, out, m, lv, beta=1.0):
    rec = ((out - inp)**2).sum(dim=1)
    div = 0.5*(torch.exp(lv) + m**2 - 1 - lv).sum(dim=1)
    return rec + beta*div
""",
    "reconstruction_error": """def reconstruction_error(inp, out, kind='mse'):
    if kind == 'mse':
        elementwise = (out - inp)**2
    elif kind == 'l1':
        elementwise = (out - inp).abs()
    elif kind == 'bce':
        elementwise = F.binary_cross_entropy(out, inp, reduction='none')
    else:
        raise ValueError(f"kind must be 'mse', 'l1' or 'bce', got {kind!r}")
    return elementwise.reshape(inp.shape[0], -1).mean(dim=1)
""",
}
EVE = {  # independent right answers
    "beta_vae_loss": '''def beta_vae_loss(x, x_hat, mu, log_var, beta=1.0):
    """Per-sample loss."""
    squared = torch.square(x - x_hat)
    total = torch.sum(squared, 1)
    divergence = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), 1)
    return total + beta * divergence
''',
    "reconstruction_error": '''def reconstruction_error(x, x_hat, kind="mse"):
    """Per-sample error."""
    n = x.shape[0]
    a, b = x.reshape(n, -1), x_hat.reshape(n, -1)
    if kind == "mse":
        return torch.mean((a - b) ** 2, dim=1)
    if kind == "l1":
        return torch.mean(torch.abs(a - b), dim=1)
    if kind == "bce":
        logs = a * torch.log(b).clamp_min(-100) + (1 - a) * torch.log(1 - b).clamp_min(-100)
        return -torch.mean(logs, dim=1)
    raise ValueError(f"unknown kind {kind!r}; expected 'mse', 'l1' or 'bce'")
''',
}
CY = {  # independent right answers, a third way
    "beta_vae_loss": '''def beta_vae_loss(x, x_hat, mu, log_var, beta=1.0):
    """Per-sample loss."""
    rec = F.mse_loss(x_hat, x, reduction="none").sum(-1)
    terms = mu * mu + torch.exp(log_var) - log_var - 1.0
    return rec + beta * 0.5 * terms.sum(-1)
''',
    "reconstruction_error": '''def reconstruction_error(x, x_hat, kind="mse"):
    """Per-sample error."""
    losses = {"mse": F.mse_loss, "l1": F.l1_loss, "bce": F.binary_cross_entropy}
    if kind not in losses:
        raise ValueError(f"kind must be one of {sorted(losses)}, got {kind!r}")
    return losses[kind](x_hat, x, reduction="none").reshape(len(x), -1).mean(1)
''',
}
BO_BETA = '''def beta_vae_loss(x, x_hat, mu, log_var, beta=1.0):
    """Per-sample loss."""
    d = x_hat - x
    rec = torch.einsum("nd,nd->n", d, d)
    kl = 0.5 * torch.einsum("nd->n", log_var.exp() + mu * mu - 1 - log_var)
    return rec + beta * kl
'''
BO_ERROR = '''def reconstruction_error(x, x_hat, kind="mse"):
    """Per-sample error."""
    if kind == "mse":
        return ((x_hat - x) ** 2).reshape(len(x), -1).REDUCE(1)
    if kind == "l1":
        return (x_hat - x).abs().reshape(len(x), -1).REDUCE(1)
    if kind == "bce":
        return F.binary_cross_entropy(x_hat, x, reduction="none").reshape(len(x), -1).REDUCE(1)
    raise ValueError(kind)
'''
BO_WRONG = {"beta_vae_loss": BO_BETA, "reconstruction_error": BO_ERROR.replace("REDUCE", "sum")}  # summed
BO_FIXED = {"beta_vae_loss": BO_BETA, "reconstruction_error": BO_ERROR.replace("REDUCE", "mean")}  # averaged now
ROSTER = [  # student_id, Canvas user id, full name (Moodle names the files by it)
    ("ann", "1001", "Ann Smith"),
    ("bo", "1002", 'Bo "Bobby" O\'Neil'),
    ("cy", "1003", "Cy Østergård"),
    ("dee", "1004", "Dee Dee, Jr."),
    ("eve", "1005", "Eve Ève"),
]
ON_TIME = (2026, 12, 1, 10, 0, 0)
LATE = (2026, 12, 1, 13, 30, 0)  # 1.5 h after the due date: two started hours at one point each
DEADLINES = f"""[policy]
late_penalty = "per_hour:1"

[due]
{A} = "2026-12-01 12:00"

[extensions.eve]
{A} = 24
"""


def _answered(answers: dict[str, str] | None) -> str:
    """The release with the source's solutions filled in, then ``answers`` put in their exercise's cell."""
    src = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(SOURCE, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in src:
            cell.source = "\n".join(ln for ln in src[gid].splitlines() if "### " not in ln)
            if answers and gid in answers:
                cell.source = answers[gid]
    return nbformat.writes(nb)


def _entries(bo: dict) -> dict:
    return {
        "ann": (_answered(None), ON_TIME, ""),
        "bo": (_answered(bo), ON_TIME, ""),
        "cy": (_answered(CY), LATE, "late_"),
        "dee": (_answered(DISGUISED), ON_TIME, ""),
        "eve": (_answered(EVE), LATE, "late_"),  # late too, but with an extension
    }


def _canvas_zip(path: Path) -> None:
    entries = _entries(BO_WRONG)
    with zipfile.ZipFile(path, "w") as zf:
        for sid, canvas_id, _ in ROSTER:
            text, when, late = entries[sid]
            login = f"{sid}login"
            zf.writestr(zipfile.ZipInfo(f"{login}_{late}{canvas_id}_77{canvas_id}_{A}.ipynb", when), text)
        zf.writestr(zipfile.ZipInfo("readme.txt", ON_TIME), "not a submission")


def _moodle_zip(path: Path) -> None:
    """The class as Moodle gives it: names as it spells them in files (no quotes), flat files and folders."""
    entries = _entries(BO_FIXED)
    with zipfile.ZipFile(path, "w") as zf:
        for i, (sid, _, name) in enumerate(ROSTER):
            text, when, _ = entries[sid]
            spelled = name.replace('"', "")
            member = (
                f"{spelled}_{2000 + i}_assignsubmission_file_/{A}.ipynb"
                if i % 2
                else f"{spelled}_{2000 + i}_assignsubmission_file_{A}.ipynb"
            )
            zf.writestr(zipfile.ZipInfo(member, when), text)
        zf.writestr(zipfile.ZipInfo("index.html", ON_TIME), "<p>not a submission</p>")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _grade(*args) -> str:
    done = subprocess.run([str(AELAB), "grade", *map(str, args)], capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("lms-class")
    roster = base / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "canvas_id", "name"])
        w.writerows(ROSTER)
    (base / "deadlines.toml").write_text(DEADLINES)
    _canvas_zip(base / "canvas.zip")
    out = base / "out"
    common = ["--out", out, "--assignments", A, "--deadlines", base / "deadlines.toml", "--export", "canvas,moodle"]
    first = _grade(base / "canvas.zip", *common, "--roster", roster, "--workers", "2", "--timeout", "60")
    before = {r["student"]: r for r in _rows(out / "grades.csv")}
    feedback_before = {p.relative_to(out): p.read_bytes() for p in (out / "feedback").rglob("*.html")}
    # bo fixes his answer and hands it in again on Moodle (a folder per participant, as newer Moodle gives)
    with zipfile.ZipFile(base / "moodle.zip", "w") as zf:
        name = f"Bo Bobby O'Neil_2002_assignsubmission_file_/{A}.ipynb"  # Moodle drops the quotes
        zf.writestr(zipfile.ZipInfo(name, ON_TIME), _answered(BO_FIXED))
    again = _grade(base / "moodle.zip", *common, "--roster", roster, "--students", "bo", "--workers", "1")
    return dict(out=out, first=first, again=again, before=before, feedback_before=feedback_before)


def test_grades_land_on_the_right_students_and_the_late_one_pays(graded):
    before, max_score = graded["before"], float(graded["before"]["ann"]["max_score"])
    assert set(before) == {"ann", "bo", "cy", "dee", "eve"}, graded["first"]
    assert float(before["ann"]["score"]) == max_score
    assert float(before["dee"]["score"]) == max_score and float(before["eve"]["score"]) == max_score
    assert 0 < float(before["bo"]["score"]) < max_score
    assert float(before["cy"]["score"]) == max_score - 2, "1.5 h late at one point per started hour"
    assert "readme.txt" in graded["first"], "the stray file is named as skipped"


def test_a_regrade_of_one_student_changes_only_their_rows(graded):
    out, before = graded["out"], graded["before"]
    after = {r["student"]: r for r in _rows(out / "grades.csv")}
    assert set(after) == set(before)
    assert float(after["bo"]["score"]) == float(before["ann"]["max_score"])
    assert all(after[s] == before[s] for s in before if s != "bo")
    for rel, data in graded["feedback_before"].items():
        if rel.parts[1] != "bo":
            assert (out / rel).read_bytes() == data, f"{rel} changed in bo's regrade"


def test_lms_files_have_the_documented_headers_and_the_roster_ids(graded):
    out = graded["out"]
    with (out / "grades-canvas.csv").open(newline="", encoding="utf-8") as fh:
        canvas = list(csv.reader(fh))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert canvas[1][0] == "Points Possible"
    by_id = {row[1]: row for row in canvas[2:]}
    assert (
        by_id["1002"][0] == ROSTER[1][2] and by_id["1003"][0] == "Cy Østergård" and by_id["1004"][0] == "Dee Dee, Jr."
    )
    max_score = float(graded["before"]["ann"]["max_score"])
    assert float(by_id["1003"][5]) == max_score - 2 and float(by_id["1002"][5]) == max_score
    moodle = _rows(out / "grades-moodle.csv")
    assert list(moodle[0]) == ["First name", "Last name", "Username", "Email address", "ID number", A]
    assert {m["Username"]: float(m[A]) for m in moodle}["cy"] == max_score - 2


def test_the_copy_is_the_most_similar_pair_and_independent_answers_are_not_flagged(graded):
    pairs = similarity.read_similarity(graded["out"])  # after bo's regrade from a zip holding only him
    for exercise in DISGUISED:
        ranked = sorted((p for p in pairs if p.exercise == exercise), key=lambda p: -p.score)
        top = ranked[0]
        assert {top.student_a, top.student_b} == {"ann", "dee"} and top.score >= similarity.THRESHOLD, ranked[:3]
        independent = [p for p in ranked if {p.student_a, p.student_b} & {"cy", "eve"}]
        assert independent and all(p.score < similarity.THRESHOLD for p in independent), independent
        print(exercise, [(p.student_a, p.student_b, p.score) for p in ranked])


def test_the_report_names_every_test_with_its_pass_rate_lateness_and_figures(graded):
    page = (graded["out"] / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", page)
    nb = nbformat.read(SOURCE, as_version=4)
    tests = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]
    for gid in tests:
        assert re.search(rf"{gid}\s+\w+\s+\d/5 \(\d+ %\)", text), f"{gid} has no pass rate in the report"
    assert re.search(r"late by 1\.5 h: 2 points taken", text)
    assert page.count("data:image/png;base64,") >= 1 and "<script" not in page


def test_nothing_in_out_reveals_solutions_or_hidden_tests(graded):
    out = graded["out"]
    hidden = []
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        m = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        hidden += [ln.strip() for ln in (m.group(1).splitlines() if m else []) if len(ln.strip()) > 20]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path
            leaked = [h for h in hidden if h in text]
            assert not leaked, f"{path.relative_to(out)} holds hidden test lines: {leaked[:2]}"
    assert not any(p.name == "source" for p in out.rglob("*")), "no copy of source/ in OUT"


@pytest.fixture(scope="module")
def moodle_class(graded):
    """The same class from a Moodle zip (bo's fixed answers), graded into a folder of its own."""
    base = graded["out"].parent
    _moodle_zip(base / "moodle-class.zip")
    out = base / "out-moodle"
    log = _grade(
        base / "moodle-class.zip",
        *("--out", out, "--assignments", A, "--deadlines", base / "deadlines.toml", "--export", "moodle"),
        *("--roster", base / "roster.csv", "--workers", "2", "--timeout", "60"),
    )
    return dict(out=out, log=log)


def test_a_class_from_a_moodle_zip(moodle_class, graded):
    out, max_score = moodle_class["out"], float(graded["before"]["ann"]["max_score"])
    scores = {r["student"]: float(r["score"]) for r in _rows(out / "grades.csv")}
    assert scores == {"ann": max_score, "bo": max_score, "cy": max_score - 2, "dee": max_score, "eve": max_score}
    assert "index.html" in moodle_class["log"], "the stray file is named as skipped"
    moodle = {m["Username"]: float(m[A]) for m in _rows(out / "grades-moodle.csv")}
    assert moodle == scores
    pairs = similarity.read_similarity(out)
    flagged = {(p.student_a, p.student_b) for p in pairs if p.score >= similarity.THRESHOLD}
    assert flagged == {("ann", "dee")}, [p for p in pairs if p.score >= 0.3]


def test_timestamps_came_from_the_zip(graded):
    report = (graded["out"] / "report.json").read_text(encoding="utf-8")
    assert re.search(r"2026-12-01[ T]13:30:00", report), "cy's submission time is the zip's"


@pytest.mark.browser
def test_the_class_report_renders_in_chromium(graded):
    import browser_helpers as bh

    with bh.local_page(graded["out"] / "report.html", graded["out"].parent / "profile") as (page, shots):
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert widths and all(w > 100 for w in widths), widths
        assert "Similar answers" in page.locator("h2").all_inner_texts()[-1]
        page.screenshot(path=str(shots / "class-report-lms.png"), full_page=True)
