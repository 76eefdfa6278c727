"""``aelab class env``: an environment every local user can run, layered on this one."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from .common import ClassError

DEFAULT_ENV = Path("/opt/aelab-class-venv")
HUB_VERSION = "6.1.1"  # also pyproject.toml's [project.optional-dependencies] class
PROXY_VERSION = "5.3.0"  # configurable-http-proxy, from the npm registry


def _world_readable(path: Path) -> str | None:
    """None when every user can reach and read ``path``; else the first folder that blocks them."""
    path = path.resolve()
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return str(parent)
    mode = os.stat(path).st_mode
    if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
        return str(path)
    return None


def _hub_pin() -> str:
    try:
        from importlib.metadata import requires

        for req in requires("aelab") or []:
            m = re.match(r"jupyterhub\s*==\s*([\w.]+)", req)
            if m:
                return m.group(1)
    except Exception:  # noqa: BLE001 - not installed as a distribution: the constant
        pass
    return HUB_VERSION


def _portable_base_python(prefix: Path, log=print) -> str:
    """This environment's own base interpreter, where every user can run it.

    The base interpreter must be the very one the main environment was built with: another 3.11
    (Debian's 3.11.2) runs most of it but not all (its ``re`` rejects the possessive patterns of
    soupsieve, so nbgrader's feedback fails). When it lives under a private folder (pyenv under
    /root), its prefix (stdlib, ~160 MB, without site-packages) is copied into ``prefix/base-python``
    and the executable's RUNPATH, which names the old libpython folder, becomes ``$ORIGIN/../lib``
    (rewritten in place: the new string is shorter, padded with NULs)."""
    base_prefix = Path(sys.base_prefix)
    exe = Path(sys._base_executable).resolve()
    if _world_readable(exe) is None and _world_readable(base_prefix / "lib") is None:
        return str(exe)
    target = prefix / "base-python"
    log(f"copying the base interpreter {base_prefix} to {target} (it is not readable by other users)")
    site = base_prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    shutil.copytree(
        base_prefix,
        target,
        symlinks=True,
        ignore=lambda d, names: [n for n in names if Path(d, n) == site or (n == "test" and Path(d) == site.parent)],
    )
    (target / site.relative_to(base_prefix)).mkdir(exist_ok=True)
    new_exe = target / exe.relative_to(base_prefix)
    data = new_exe.read_bytes()
    old = str(base_prefix / "lib").encode() + b"\0"
    if data.count(old) == 1:
        repl = b"$ORIGIN/../lib"
        new_exe.write_bytes(data.replace(old, repl + b"\0" * (len(old) - len(repl))))
    elif data.count(old) > 1:
        raise ClassError(f"cannot relocate {exe}: its library path appears more than once")
    return str(new_exe)


def build_shared_env(
    prefix: Path = DEFAULT_ENV, *, base_python: str | None = None, hub: bool = True, proxy: bool = True, log=print
) -> Path:
    """An environment every local user can run, layered on this (private-interpreter) one.

    A virtual environment made with this environment's base interpreter (made runnable by every
    user, see ``_portable_base_python``) whose
    site-packages holds one ``.pth`` line: ``site.addsitedir(<this environment's site-packages>)``,
    so torch, nbgrader and the editable ``aelab``/``autograder`` are shared, not copied (seconds,
    no 5 GB install). Console scripts are re-written with the new interpreter, the Jupyter data
    and config folders are linked, the ``python3`` kernel points at the new interpreter, and
    jupyterhub (pinned) and configurable-http-proxy (npm, pinned) are installed into the prefix
    itself. Rebuilt only when its stamp differs. Returns the prefix.
    """
    prefix = Path(prefix)
    main_prefix = Path(sys.prefix)
    site_dir = Path(sysconfig.get_paths()["purelib"])
    blocked = _world_readable(site_dir)
    if blocked:
        raise ClassError(
            f"{site_dir} is not readable by other users ({blocked} blocks them): install the course "
            "into an environment under a world-readable folder (e.g. /opt or /srv) and run this again"
        )
    hub_version = _hub_pin()
    stamp = {
        "site": str(site_dir),
        "base_python": base_python or f"auto:{sys.version}",
        "hub": hub_version if hub else None,
        "proxy": PROXY_VERSION if proxy else None,
        "main_prefix": str(main_prefix),
    }
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f".{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = prefix / ".aelab-class-env.json"
        if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
            log(f"shared environment {prefix} is up to date")
            return prefix
        t0 = time.perf_counter()
        if prefix.exists():
            shutil.rmtree(prefix)
        prefix.mkdir()
        base_python = base_python or _portable_base_python(prefix, log=log)
        subprocess.run([base_python, "-m", "venv", "--without-pip", str(prefix)], check=True)
        py = prefix / "bin" / "python"
        purelib = subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(purelib, "_aelab_shared.pth").write_text(f"import site; site.addsitedir({str(site_dir)!r})\n")
        # console scripts of this environment, with the shared interpreter in their shebang
        for script in sorted((main_prefix / "bin").iterdir()):
            target = prefix / "bin" / script.name
            if target.exists() or script.name.startswith(("python", "activate", "Activate", "pip")):
                continue
            try:
                first, rest = script.read_text().split("\n", 1)
            except (UnicodeDecodeError, ValueError, IsADirectoryError):
                continue
            if first.startswith("#!") and first[2:].strip().startswith(str(main_prefix / "bin" / "python")):
                target.write_text(f"#!{py}\n{rest}")
                target.chmod(0o755)
        # Jupyter data (lab, labextensions, templates) and config (server extensions) are shared;
        # the kernel is our own, since the original one may name a private interpreter.
        share = prefix / "share" / "jupyter"
        share.mkdir(parents=True)
        for entry in (main_prefix / "share" / "jupyter").iterdir():
            if entry.name != "kernels":
                (share / entry.name).symlink_to(entry)
        kernel = share / "kernels" / "python3"
        kernel.mkdir(parents=True)
        for logo in (main_prefix / "share" / "jupyter" / "kernels" / "python3").glob("logo*"):
            shutil.copy(logo, kernel / logo.name)
        (kernel / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3 (aelab)",
                    "language": "python",
                    "metadata": {"debugger": True},
                },
                indent=1,
            )
        )
        if (main_prefix / "etc" / "jupyter").is_dir():
            (prefix / "etc").mkdir(exist_ok=True)
            (prefix / "etc" / "jupyter").symlink_to(main_prefix / "etc" / "jupyter")
        if hub:
            log(f"installing jupyterhub=={hub_version} into {prefix}")
            subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    f"jupyterhub=={hub_version}",
                ],
                check=True,
                cwd="/",
            )
        if proxy:
            npm = shutil.which("npm")
            if not npm:
                raise ClassError(
                    "npm not found: the hub needs configurable-http-proxy (as root: "
                    "`apt-get update && apt-get install -y npm`, which `make system-deps` runs)"
                )
            log(f"installing configurable-http-proxy@{PROXY_VERSION} into {prefix / 'proxy'}")
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix / "proxy"),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"configurable-http-proxy@{PROXY_VERSION}",
                ],
                check=True,
                cwd="/",
                stdout=subprocess.DEVNULL,
            )
        subprocess.run(["chmod", "-R", "a+rX", str(prefix)], check=True)
        stamp_file.write_text(json.dumps(stamp))
        log(f"built shared environment {prefix} in {time.perf_counter() - t0:.0f} s")
    return prefix
