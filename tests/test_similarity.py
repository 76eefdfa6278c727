"""Similar answers flagged for a human look: copies survive renaming, reformatting, dropped comments
and reordering; independent answers and the release's own code do not count."""

from __future__ import annotations

import json

from aelab.course import similarity
from aelab.course.report import class_report

A = "01_autoencoder_basics"
STUB = 'def reconstruction_error(x, x_hat, kind="mse"):\n    """Per-sample error, shape (N,)."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
ORIGINAL = '''def reconstruction_error(x, x_hat, kind="mse"):
    """Per-sample error, shape (N,)."""
    diff = (x - x_hat).reshape(len(x), -1)  # flatten every sample
    if kind == "mse":
        return (diff ** 2).mean(dim=1)
    if kind == "l1":
        return diff.abs().mean(dim=1)
    if kind == "bce":
        return F.binary_cross_entropy(x_hat.reshape(len(x), -1), x.reshape(len(x), -1), reduction="none").mean(1)
    raise ValueError(f"unknown kind {kind!r}")
'''
DISGUISED = """def helper(t):
    return t * 2


def reconstruction_error(inp, out, kind='mse'):
    '''Per-sample error, shape (N,).'''
    delta = (inp - out).reshape(len(inp), -1)
    if kind == 'mse':
        return (delta**2).mean(dim=1)
    if kind == 'l1':
        return delta.abs().mean(dim=1)
    if kind == 'bce':
        return F.binary_cross_entropy(out.reshape(len(inp), -1), inp.reshape(len(inp), -1), reduction='none').mean(1)
    raise ValueError(f'unknown kind {kind!r}')
"""  # renamed, requoted, reformatted, comment dropped, another function put first
INDEPENDENT = '''def reconstruction_error(x, x_hat, kind="mse"):
    """Per-sample error, shape (N,)."""
    n = x.shape[0]
    a, b = x.view(n, -1), x_hat.view(n, -1)
    table = {"mse": lambda: torch.mean((a - b) ** 2, 1), "l1": lambda: torch.mean(torch.abs(a - b), 1)}
    if kind == "bce":
        return -(a * torch.log(b) + (1 - a) * torch.log(1 - b)).mean(1)
    if kind not in table:
        raise ValueError(kind)
    return table[kind]()
'''


def _nb(*codes: str) -> bytes:
    return json.dumps({"cells": [{"cell_type": "code", "source": c} for c in codes]}).encode()


def _scores(pairs):
    return {(p.student_a, p.student_b): p.score for p in pairs}


def test_a_disguised_copy_is_flagged_and_independent_answers_are_not():
    subs = {"ann": _nb(ORIGINAL), "bo": _nb("x = 1", DISGUISED), "cy": _nb(INDEPENDENT), "dee": _nb(STUB)}
    scores = _scores(similarity.compare(subs, _nb(STUB), A, ["reconstruction_error"]))
    assert scores[("ann", "bo")] >= similarity.THRESHOLD, scores
    assert scores[("ann", "cy")] < 0.5 and scores[("bo", "cy")] < 0.5, scores
    assert not any("dee" in k for k in scores), "an untouched release stub is no answer to compare"


def test_the_release_code_is_not_evidence():
    long_stub = STUB.replace("# YOUR CODE HERE", "x = x.reshape(len(x), -1)  # given: flatten every sample first")
    own_a = long_stub.replace("raise NotImplementedError()", "return (x - x_hat.reshape(len(x), -1)).abs().mean(1)")
    own_b = long_stub.replace("raise NotImplementedError()", "return ((x_hat.reshape(len(x), -1) - x) ** 2).sum(1)")
    pairs = similarity.compare({"ann": _nb(own_a), "bo": _nb(own_b)}, _nb(long_stub), A, ["reconstruction_error"])
    assert pairs[0].score < similarity.THRESHOLD, pairs


def test_broken_and_empty_notebooks_are_skipped():
    subs = {"ann": b"not json", "bo": _nb("def reconstruction_error(:\n  ("), "cy": _nb(ORIGINAL)}
    pairs = similarity.compare(subs, _nb(STUB), A, ["reconstruction_error"])
    assert all(p.score == 0.0 for p in pairs)


def test_csv_round_trip_and_report_section(tmp_path):
    pairs = similarity.compare({"ann": _nb(ORIGINAL), "bo": _nb(DISGUISED)}, _nb(STUB), A, ["reconstruction_error"])
    path = similarity.write_similarity(pairs, tmp_path)
    assert path.read_text().splitlines()[0] == "student_a,student_b,exercise,score"
    assert similarity.read_similarity(tmp_path) == pairs
    page = class_report(_outcomes(), pairs)
    assert "flagged" in page and "ann" in page and "Similar answers" in page


def _outcomes():
    from aelab.course.grading import Outcome

    return [Outcome("ann", A, 1, 7), Outcome("bo", A, 1, 7)]


def test_hostile_text_costs_nothing_but_its_own_comparison():
    """The grader parses submissions as text: parser bombs and huge answers are skipped, never raised."""
    nested = _nb("def reconstruction_error(x):\n    return " + "-" * 40_000 + "1\n")
    padding = "".join(f"    # {i}\n" for i in range(20_000))  # inside the function, before its code
    huge = _nb(ORIGINAL.replace("    diff = ", padding + "    diff = ", 1))
    json_bomb = b"[" * 200_000 + b"]" * 200_000
    subs = {"ann": _nb(ORIGINAL), "bo": _nb(DISGUISED), "eve": nested, "fay": huge, "gus": json_bomb}
    scores = _scores(similarity.compare(subs, _nb(STUB), A, ["reconstruction_error"]))
    assert scores[("ann", "bo")] >= similarity.THRESHOLD
    assert not any("fay" in k or "gus" in k for k in scores), "unreadable or oversized answers are not compared"
