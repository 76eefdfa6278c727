"""OUT/report.html: one self-contained page of what the class got and got wrong (also in Chromium)."""

from __future__ import annotations

import re

import pytest

from aelab.course.grading import CellOutcome, Outcome
from aelab.course.report import class_report, write_report

A, B = "01_autoencoder_basics", "03_mnist_outlier_lab"
SHAPE = "reconstruction_error returned shape (4, 3); expected one value per sample, shape (4,)"


def _class() -> list[Outcome]:
    def cells(shape_ok: bool, mse_ok: bool, message=SHAPE):
        return [
            CellOutcome(
                "test_reconstruction_error_shape",
                "reconstruction_error",
                1.0 if shape_ok else 0.0,
                1.0,
                "" if shape_ok else message,
            ),
            CellOutcome(
                "test_reconstruction_error_mse",
                "reconstruction_error",
                2.0 if mse_ok else 0.0,
                2.0,
                "" if mse_ok else "mse off by 3x",
            ),
        ]

    return [
        Outcome("ann", A, 3, 3, cells=cells(True, True), seconds=5.0, sandbox="root"),
        Outcome("bo", A, 2, 3, cells=cells(False, True), seconds=6.0, sandbox="root"),
        Outcome("<script>alert(1)</script>", A, 0, 3, cells=cells(False, False), seconds=4.0, sandbox="root"),
        Outcome("dee", A, 0, 3, "missing", f"no {A}/{A}.ipynb submitted"),
        Outcome(
            "ann",
            B,
            18,
            18,
            "kernel died",
            "the kernel died in cell 30 (out of memory)",
            flags=["cell setup was edited: restored from the course"],
            seconds=40.0,
        ),
    ]


def test_the_page_says_what_the_class_got_wrong():
    page = class_report(_class())
    text = re.sub(r"<[^>]+>", " ", page)
    assert "4 students, 2 assignments, 5 submissions" in text
    one = re.sub(r"<[^>]+>", " ", class_report(_class()[:1]))
    assert "1 student, 1 assignment, 1 submission." in one
    assert re.search(r"test_reconstruction_error_shape\s+reconstruction_error\s+1/3 \(33 %\)", text), text
    assert re.search(r"2×\s+" + re.escape(SHAPE), text), "the most common failure message is counted"
    assert "reconstruction_error" in text and "9 / 9" not in text
    assert re.search(r"reconstruction_error\s+5 / 9 \(56 %\)", text), "points per exercise over all students"
    assert re.search(rf"{A}\s+missing\s+1", text) and re.search(rf"{B}\s+kernel died\s+1", text)
    assert "restored from the course" in text and "out of memory" in text
    assert re.search(rf"ann\s+{B}\s+40\.0", text), "the slowest job is listed"
    assert page.count("<img") == 2 and page.count("data:image/png;base64,") == 2


def test_the_page_counts_per_test_the_notebooks_that_had_it_restored():
    outcomes = _class()
    outcomes[1].detail = "cell test_reconstruction_error_shape was edited: restored from the course"
    outcomes[2].flags.append(
        "cell test_reconstruction_error_shape was missing: put back from the course; "
        "cell reconstruction_error's nbgrader metadata was changed: restored from the course"
    )
    text = re.sub(r"<[^>]+>", " ", class_report(outcomes))
    assert re.search(r"test_reconstruction_error_shape\s+reconstruction_error\s+1/3 \(33 %\)\s+2\s", text), text
    assert re.search(r"test_reconstruction_error_mse\s+reconstruction_error\s+\d/3 \(\d+ %\)\s+0\s", text), text


def test_the_page_is_self_contained_and_escapes_what_students_chose():
    page = class_report(_class())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=['\"](?!data:)", page), "every resource is embedded"
    assert "http://" not in page and "https://" not in page


def test_an_empty_class_gives_a_page_that_says_so(tmp_path):
    path = write_report([], tmp_path)
    assert "No submissions were graded" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


@pytest.mark.browser
def test_the_page_renders_in_chromium(tmp_path):
    import browser_helpers as bh

    with bh.local_page(write_report(_class(), tmp_path), tmp_path / "profile") as (page, shots):
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) == 2 and all(w > 100 for w in widths), widths
        assert page.locator("h2").all_inner_texts()[:2] == ["Scores", "Pass rates per exercise and per test"]
        assert page.evaluate("() => document.querySelectorAll('script').length") == 0
        page.screenshot(path=str(shots / "class-report.png"), full_page=True)
