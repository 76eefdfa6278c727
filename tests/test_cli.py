"""The aelab command: doctor, and the plumbing of subcommands."""

import subprocess
import sys

import pytest

from aelab.course import cli


def test_doctor_reports_versions_device_and_data(capsys):
    assert cli.main(["doctor", "--quick"]) == 0
    out = capsys.readouterr().out
    for word in ("torch", "torchvision", "nbgrader", "device", "MNIST", "mlxtend"):
        assert word in out


def test_doctor_fails_clearly_when_a_package_is_missing(monkeypatch, capsys):
    from aelab.course import doctor

    monkeypatch.setattr(doctor, "REQUIRED", doctor.REQUIRED + [("not-a-package", "not_a_package_aelab")])
    assert cli.main(["doctor", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "not-a-package does not import" in out and "make install" in out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "doctor" in capsys.readouterr().out


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "aelab.course.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "build" in result.stdout


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2  # argparse's usage error, not a clean exit (0 or None)
    assert "frobnicate" in capsys.readouterr().err
