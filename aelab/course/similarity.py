"""Which submissions look copied: solution code compared per exercise, with copydetect (winnowing).

For every assignment, each student's answer to each exercise (the code of the solution cell that
defines the exercise's function, found by its ``def`` when metadata was lost) is fingerprinted with
copydetect (k-gram winnowing, as in MOSS) after pygments' tokens are filtered: names become one
token and comments and layout vanish, so renamed variables, dropped comments and reformatting do
not hide a copy, and comparing exercise by exercise makes the order of functions irrelevant. Only
the function's statements are compared (its signature and docstring are the release's, and in a
short answer they would weigh as much as the code); the release's stub is boilerplate and ignored.

The score of a pair is the larger of copydetect's two overlap fractions (the share of one answer's
fingerprints found in the other), in [0, 1]. Pairs at or above the threshold are flagged for a human
look; a score never changes a grade. The notebooks are parsed as text only (never run here).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Pair", "answers", "compare", "write_similarity", "THRESHOLD"]

THRESHOLD = 0.8
K = 25  # characters of filtered code per k-gram (copydetect's noise threshold): shorter code scores 0
WINDOW = 5
MAX_NOTEBOOK_BYTES = 20 * 2**20  # larger notebooks (stored outputs) are not read for this
MAX_CODE_CHARS = 50_000  # one exercise's function; longer answers are not compared


@dataclass(frozen=True)
class Pair:
    student_a: str
    student_b: str
    assignment: str
    exercise: str
    score: float


def _source(cell) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def answers(notebook: bytes, exercises: list[str]) -> dict[str, str]:
    """``{exercise: code}``: the function each exercise asks for, from the code cell that defines it.

    Untrusted input, read as text only: a notebook that is not JSON gives nothing, and an answer
    longer than ``MAX_CODE_CHARS`` is not compared (such a submission wants a human look anyway)."""
    try:
        cells = json.loads(notebook).get("cells", [])
    except (ValueError, AttributeError, RecursionError):
        return {}
    found = {}
    for ex in exercises:
        pattern = re.compile(rf"^\s*def\s+{re.escape(ex)}\s*\(", re.M)
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code" and pattern.search(_source(cell)):
                code = _function(_source(cell), ex)
                if len(code) <= MAX_CODE_CHARS:
                    found[ex] = code
                break
    return found


def _function(code: str, name: str) -> str:
    """The source of the last ``def name`` of ``code`` (all of ``code`` when it does not parse)."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    return (ast.get_source_segment(code, defs[-1]) or code) if defs else code


def _body(code: str) -> str:
    """The statements of the function ``code`` defines, without its signature and docstring: what
    the learner wrote. (A signature and docstring count as much as the code in a short answer, and
    a renamed parameter or a dropped docstring then hides a copy; the one obvious line everybody
    writes, shorter than ``K`` filtered characters, scores 0.) All of ``code`` when it does not parse."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        return code
    body = list(defs[-1].body)
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    return "\n".join(ast.get_source_segment(code, stmt) or "" for stmt in body)


def _fingerprint(code: str, boilerplate: str):
    from copydetect import CodeFingerprint

    with io.StringIO(code) as fh:
        return CodeFingerprint("answer.py", K, WINDOW, boilerplate=boilerplate, fp=fh, language="py")


def _boilerplate(release_code: str) -> list:
    if not release_code.strip():
        return []
    return sorted(_fingerprint(release_code, None).hashes)


def compare(submissions: dict[str, bytes], release: bytes, assignment: str, exercises: list[str]) -> list[Pair]:
    """Every pair of ``submissions`` (student -> notebook bytes), per exercise, highest score first."""
    from copydetect import compare_files

    release_answers = answers(release, exercises)
    given = {student: answers(nb, exercises) for student, nb in sorted(submissions.items())}  # each parsed once
    pairs = []
    for ex in exercises:
        boiler = _boilerplate(_body(release_answers.get(ex, "")))
        prints = {}
        for student, theirs in given.items():
            code = theirs.get(ex, "")
            if code.strip() and code.strip() != release_answers.get(ex, "").strip():
                try:
                    prints[student] = _fingerprint(_body(code), boiler)
                except Exception:  # noqa: BLE001 - untrusted code pygments cannot tokenise: nothing to compare
                    continue
        for a, b in itertools.combinations(sorted(prints), 2):
            if not len(prints[a].hashes) or not len(prints[b].hashes):
                score = 0.0
            else:
                _, (sim_a, sim_b), _ = compare_files(prints[a], prints[b])
                score = float(max(sim_a, sim_b))
            pairs.append(Pair(a, b, assignment, ex, round(score, 4)))
    return sorted(pairs, key=lambda p: (-p.score, p.student_a, p.student_b, p.exercise))


def write_similarity(pairs: list[Pair], out: Path) -> Path:
    """``out/similarity.csv``: ``student_a,student_b,exercise,score``, highest first (exercise names are
    unique in the course, so they name the assignment too)."""
    path = Path(out) / "similarity.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_a", "student_b", "exercise", "score"])
    for p in sorted(pairs, key=lambda p: (-p.score, p.assignment, p.student_a, p.student_b, p.exercise)):
        writer.writerow([p.student_a, p.student_b, p.exercise, f"{p.score:.4f}"])
    tmp = path.with_name(".similarity.csv.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    tmp.replace(path)
    return path


def read_similarity(out: Path) -> list[Pair]:
    """The pairs of ``out/similarity.csv`` (none without one)."""
    from . import registry

    path = Path(out) / "similarity.csv"
    if not path.exists():
        return []
    owner = {ex.name: a.name for a in registry.ASSIGNMENTS for ex in a.exercises}
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            Pair(r["student_a"], r["student_b"], owner.get(r["exercise"], ""), r["exercise"], float(r["score"]))
            for r in csv.DictReader(fh)
        ]
