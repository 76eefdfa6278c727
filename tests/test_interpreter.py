"""The interpreter check of ``aelab doctor`` and the Makefile's install (aelab/course/interpreter.py):
Python 3.11.0-3.11.4 (Debian 12's 3.11.2) mis-match possessive quantifiers, which breaks soupsieve
and so nbgrader's feedback HTML; the check refuses them and names the interpreter to use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aelab.course import cli, interpreter

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "aelab" / "course" / "interpreter.py"


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 11, 2), (3, 11, 4)])
def test_3_11_before_3_11_5_is_refused_with_the_reason(version):
    reason = interpreter.version_problem(version)
    assert reason and "3.11.5" in reason and "possessive" in reason and "soupsieve" in reason


@pytest.mark.parametrize("version", [(3, 11, 5), (3, 11, 7), (3, 11, 14)])
def test_3_11_5_and_later_are_accepted(version):
    assert interpreter.version_problem(version) is None


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 12, 1), (3, 13, 0)])
def test_other_series_are_refused(version):
    assert "Python 3.11" in interpreter.version_problem(version)


def test_the_message_names_the_interpreter_its_version_and_what_is_needed():
    message = interpreter.problem(version=(3, 11, 2), executable="/usr/bin/python3.11")
    assert message.startswith("/usr/bin/python3.11 is Python 3.11.2, which cannot run the course")
    assert "3.11.5 or newer" in message and "feedback" in message


def test_a_3_11_whose_re_is_broken_is_refused_whatever_its_version():
    message = interpreter.problem(version=(3, 11, 7), executable="/opt/py/bin/python3.11", regex_works=False)
    assert message and "/opt/py/bin/python3.11 is Python 3.11.7" in message and "possessive" in message


def test_this_interpreter_runs_the_course():
    assert interpreter.possessive_quantifiers_work()
    assert interpreter.problem() is None


def test_advice_names_the_interpreter_to_use():
    good = [("/root/.pyenv/versions/3.11.7/bin/python3.11", "3.11.7")]
    assert interpreter.advice(good) == (
        "Use Python 3.11.7 at /root/.pyenv/versions/3.11.7/bin/python3.11: "
        "`make install PYTHON=/root/.pyenv/versions/3.11.7/bin/python3.11`."
    )
    assert "`rm -rf .venv && make install PYTHON=" in interpreter.advice(good, rebuild=".venv")
    none = interpreter.advice([])
    assert "Install Python 3.11.5 or newer 3.11" in none and "make install PYTHON=/path/to/python3.11" in none


def test_doctor_fails_on_a_broken_interpreter_and_says_which_to_use(monkeypatch, capsys):
    message = interpreter.problem(version=(3, 11, 2), executable="/usr/bin/python3.11")
    monkeypatch.setattr(interpreter, "problem", lambda: message)
    monkeypatch.setattr(interpreter, "good_interpreters", lambda: [("/opt/good/bin/python3.11", "3.11.9")])
    assert cli.main(["doctor", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "/usr/bin/python3.11 is Python 3.11.2, which cannot run the course" in out
    assert (
        "Use Python 3.11.9 at /opt/good/bin/python3.11" in out and "make install PYTHON=/opt/good/bin/python3.11" in out
    )


def test_the_script_accepts_this_interpreter_silently():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_the_script_refuses_exactly_the_broken_3_11s_on_this_machine():
    """Every Python 3.11 found here: the script's verdict, the version rule and ``re`` itself agree
    (Debian 12's /usr/bin/python3.11, 3.11.2, where it is installed)."""
    probe = "import re, sys; print(sys.version_info[:3] >= (3, 11, 5), re.match(r'(?:ab*+c)?+a', 'a') is not None)"
    for path in interpreter.candidates():
        version = subprocess.run(
            [path, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if version.stdout.strip() != "(3, 11)":
            continue
        new_enough, regex_works = subprocess.run([path, "-c", probe], capture_output=True, text=True).stdout.split()
        assert new_enough == regex_works, f"{path}: the 3.11.5 rule does not match what its `re` does"
        proc = subprocess.run([path, str(SCRIPT)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == (0 if regex_works == "True" else 1), proc.stderr
        if proc.returncode:
            assert proc.stderr.startswith(f"{path} is Python 3.11.") and "3.11.5 or newer" in proc.stderr
