"""pyproject.toml and environment.yml name the same exact pins."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_pins() -> dict[str, str]:
    """The library's pins and the course extra's (what environment.yml installs)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["course"]
    return dict(_parse(d) for d in deps)


def _environment_pins() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    pins = re.findall(r"^\s*-\s+([A-Za-z0-9_.\-\[\]]+==[^\s#]+)", text, flags=re.M)
    return dict(_parse(p) for p in pins)


def _parse(req: str) -> tuple[str, str]:
    name, _, version = req.partition("==")
    assert version, f"{req!r} is not an exact pin"
    return name.lower().strip(), version.strip()


def test_same_pins_in_both_files():
    assert _pyproject_pins() == _environment_pins()


@pytest.mark.parametrize(
    "name, version",
    [("torch", "2.14.1"), ("torchvision", "0.29.1"), ("alibi-detect", "0.13.0"), ("nbgrader", "0.9.6")],
)
def test_heavy_parts_are_pinned_exactly(name, version):
    assert _pyproject_pins()[name] == version


def test_numpy_below_2_for_alibi_detect():
    assert int(_pyproject_pins()["numpy"].split(".")[0]) < 2


def test_environment_uses_python_311():
    assert re.search(r"^\s*-\s+python=3\.11\s*$", (ROOT / "environment.yml").read_text(), flags=re.M)


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in _pyproject_pins().items():
        installed = version(name).split("+")[0]
        assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}"
