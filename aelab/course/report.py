"""``OUT/report.html``: what the class got, and got wrong, on one self-contained page.

Written by ``aelab grade`` from every row of ``OUT/report.json`` (so a regrade updates it), readable
offline: figures are PNGs embedded as data URLs (matplotlib), no script, no external file. Sections:
score distribution per assignment; pass rate per exercise and per test (each test by its
``grade_id``, with how many notebooks had it restored or put back); the most common failure
messages per test, with counts; statuses (graded, missing,
timed out, kernel died, ...) and flags (cells restored, tampering, nbgrader disagreements); grading
time per job. Messages are the ones students see in their feedback (never the hidden tests).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["class_report", "write_report", "restored_cells"]

TOP_MESSAGES = 5
TOP_PAIRS = 15


# The engine's notes on a cell it put back (aelab/course/engine.py, prepare_notebook).
_RESTORED = re.compile(
    r"\bcell ([\w.-]+?)(?: was edited: restored| was missing: put back| changed type: restored|'s nbgrader metadata was changed)"
)


def restored_cells(outcome) -> set[str]:
    """The grade_ids of the cells the engine restored or put back in ``outcome``'s notebook."""
    text = "; ".join(x for x in [outcome.detail, *outcome.flags] if x)
    return set(_RESTORED.findall(text))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram(scores: list[float], max_score: float, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    top = max(max_score, max(scores, default=0.0), 1.0)
    ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    def cell(i, value, tag):
        align = ' class="num"' if i in numeric else ""
        return f"<{tag}{align}>{value}</{tag}>"

    head = "".join(cell(i, html.escape(h), "th") for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell(i, v, "td") for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def class_report(outcomes, pairs=()) -> str:
    """The page, as HTML text, for ``outcomes`` (:class:`aelab.course.grading.Outcome` rows) and the
    similarity ``pairs`` (:class:`aelab.course.similarity.Pair`)."""
    from . import registry

    esc = html.escape
    order = {a: i for i, a in enumerate(registry.names())}
    by_assignment = defaultdict(list)
    for o in outcomes:
        by_assignment[o.assignment].append(o)
    assignments = sorted(by_assignment, key=lambda a: (order.get(a, len(order)), a))
    students = sorted({o.student for o in outcomes})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>aelab: class report</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}.num{text-align:right}"
        "img{margin:.3em}.bad{color:#a00}</style></head><body>",
        "<h1>Class report</h1>",
        f"<p>{_count(len(students), 'student')}, {_count(len(assignments), 'assignment')}, "
        f"{_count(len(outcomes), 'submission')}.</p>",
    ]
    if not outcomes:
        parts.append("<p>No submissions were graded.</p></body></html>")
        return "".join(parts)

    parts.append("<h2>Scores</h2>")
    rows = []
    for a in assignments:
        os_ = by_assignment[a]
        graded = [o.score for o in os_ if o.status != "missing"]
        top = max(o.max_score for o in os_)
        mean = f"{sum(graded) / len(graded):.2f}" if graded else "–"
        full = sum(1 for o in os_ if o.score >= o.max_score > 0)
        rows.append([esc(a), str(len(graded)), str(len(os_) - len(graded)), mean, f"{top:g}", str(full)])
    parts.append(
        _table(["assignment", "graded", "missing", "mean score", "max", "full marks"], rows, numeric={1, 2, 3, 4, 5})
    )
    figures = [
        f"<img alt='scores of {esc(a)}' src='{_histogram([o.score for o in by_assignment[a] if o.status != 'missing'], max(o.max_score for o in by_assignment[a]), a)}'>"
        for a in assignments
    ]
    parts.append("<div>" + "".join(figures) + "</div>")

    parts.append("<h2>Pass rates per exercise and per test</h2>")
    for a in assignments:
        cells = defaultdict(list)  # grade_id -> [CellOutcome]
        exercise_of = {}
        for o in by_assignment[a]:
            for c in o.cells:
                cells[c.grade_id].append(c)
                exercise_of[c.grade_id] = c.exercise
        if not cells:
            continue
        parts.append(f"<h3>{esc(a)}</h3>")
        per_exercise = defaultdict(lambda: [0.0, 0.0])
        for gid, cs in cells.items():
            per_exercise[exercise_of[gid]][0] += sum(c.score for c in cs)
            per_exercise[exercise_of[gid]][1] += sum(c.max_score for c in cs)
        parts.append(
            _table(
                ["exercise", "points earned / possible (all students)"],
                [
                    [esc(ex or "–"), f"{got:g} / {of:g} ({100 * got / of:.0f} %)" if of else "–"]
                    for ex, (got, of) in per_exercise.items()
                ],
                numeric={1},
            )
        )
        restored = Counter(gid for o in by_assignment[a] for gid in restored_cells(o))
        rows = []
        for gid, cs in cells.items():
            passed = sum(1 for c in cs if c.score >= c.max_score)
            failures = Counter(c.message.strip()[:300] for c in cs if c.score < c.max_score and c.message.strip())
            common = "<br>".join(
                f"<span class='bad'>{n}×</span> {esc(m)}" for m, n in failures.most_common(TOP_MESSAGES)
            )
            rows.append(
                [
                    esc(gid),
                    esc(exercise_of[gid] or "–"),
                    f"{passed}/{len(cs)} ({100 * passed / len(cs):.0f} %)",
                    str(restored.get(gid, 0)),
                    common,
                ]
            )
        parts.append(
            _table(
                ["test (grade_id)", "exercise", "passed", "restored", "most common failure messages"],
                rows,
                numeric={2, 3},
            )
        )

    parts.append("<h2>Statuses and flags</h2>")
    statuses = Counter((o.assignment, o.status) for o in outcomes)
    parts.append(
        _table(
            ["assignment", "status", "submissions"],
            [
                [esc(a), esc(s), str(n)]
                for (a, s), n in sorted(statuses.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
            ],
            numeric={2},
        )
    )
    notes = [
        [esc(o.student), esc(o.assignment), esc(o.status), esc("; ".join(x for x in [o.detail, *o.flags] if x)[:600])]
        for o in sorted(outcomes, key=lambda o: (o.student, order.get(o.assignment, 99)))
        if o.status != "graded" or o.flags or o.detail
    ]
    parts.append(
        _table(["student", "assignment", "status", "what happened"], notes)
        if notes
        else "<p>No submission needed a note.</p>"
    )

    parts.append("<h2>Grading time per job</h2>")
    timed = [o for o in outcomes if o.seconds]
    if timed:
        slow = sorted(timed, key=lambda o: -o.seconds)[:10]
        total = sum(o.seconds for o in timed)
        parts.append(
            f"<p>{len(timed)} jobs, {total:.0f} s of job time in all, {total / len(timed):.1f} s on average; the slowest:</p>"
        )
        parts.append(
            _table(
                ["student", "assignment", "seconds", "sandbox"],
                [[esc(o.student), esc(o.assignment), f"{o.seconds:.1f}", esc(o.sandbox)] for o in slow],
                numeric={2},
            )
        )
    parts.append("<h2>Similar answers (for a human look; no grade depends on them)</h2>")
    from .similarity import THRESHOLD

    top = [p for p in sorted(pairs, key=lambda p: -p.score) if p.score > 0][:TOP_PAIRS]
    flagged = sum(1 for p in pairs if p.score >= THRESHOLD)
    parts.append(
        f"<p>{len(pairs)} pairs of answers compared per exercise (copydetect, winnowing); {flagged} at or above "
        f"{THRESHOLD:g}, flagged.{' The top pairs:' if top else ''}</p>"
    )
    parts.append(
        _table(
            ["student A", "student B", "assignment", "exercise", "score", ""],
            [
                [
                    esc(p.student_a),
                    esc(p.student_b),
                    esc(p.assignment),
                    esc(p.exercise),
                    f"{p.score:.2f}",
                    "flagged" if p.score >= THRESHOLD else "",
                ]
                for p in top
            ],
            numeric={4},
        )
        if top
        else "<p>No two answers share code beyond the release's.</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def write_report(outcomes, out: Path, pairs=()) -> Path:
    """Write ``out/report.html`` (whole, or not at all)."""
    path = Path(out) / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(class_report(outcomes, pairs), encoding="utf-8")
    tmp.replace(path)
    return path
