"""The sandbox a learner's notebook runs in while it is graded: bubblewrap, an unprivileged uid, limits.

What the kernel sees (``bwrap``): the system's /usr, the Python installation and the course's
environment, read-only; the aelab library; its own notebook and the engine's socket under /job; a
fresh /tmp of bounded size (its only writable place, gone with the job); its own /proc. Not the
course directory (source notebooks, solutions, hidden tests), not the graders, the gradebook, the
output folder, other submissions or the grader's home. No network (a new network namespace), no
other processes (a new PID namespace: when the job ends, every process it started is killed).

Who it runs as: with root, bubblewrap sets up the mounts and the kernel then runs as a uid of its
own (``UID_BASE + slot``: no two jobs share one, no file outside belongs to it). Without root,
bubblewrap runs in a user namespace as the calling user ("user" mode, for self-study).

Limits (:class:`Limits`): memory (a memory cgroup when one can be made, and RLIMIT_DATA per process),
processes (RLIMIT_NPROC of the job's uid, and a pids cgroup), file size (RLIMIT_FSIZE), CPU seconds
(RLIMIT_CPU), the size of /tmp; the engine adds the wall-clock limit.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "Sandbox", "detect", "claim_slot", "MODES"]

MODES = ("root", "user", "none")
UID_BASE = 61000
GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Resource limits of one grading job (defaults keep a 2-core, 24 GiB class machine alive)."""

    memory: int = 3 * GiB  # bytes: the job's total (cgroup) and each process's data segment
    processes: int = 64
    file_size: int = 64 * MiB  # bytes of any one file
    tmp_size: int = 512 * MiB  # bytes of /tmp
    cpu_seconds: int = 900  # per process
    wall_seconds: int = 600  # the whole job (the engine enforces it)

    @classmethod
    def from_env(cls, **overrides) -> Limits:
        """Defaults, then ``$AELAB_JOB_MEMORY_MB``, ``$AELAB_JOB_PROCESSES``, then ``overrides``."""
        values = {}
        if os.environ.get("AELAB_JOB_MEMORY_MB"):
            values["memory"] = int(os.environ["AELAB_JOB_MEMORY_MB"]) * MiB
        if os.environ.get("AELAB_JOB_PROCESSES"):
            values["processes"] = int(os.environ["AELAB_JOB_PROCESSES"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def claim_slot(preferred: int = 0, count: int = 1000):
    """``(slot, lock)``: a sandbox slot (uid ``UID_BASE + slot``) that no other job on this machine holds.

    Jobs of several ``aelab grade`` runs, local workers and Dask workers share a machine's uids: a
    slot is held with an exclusive lock on a file of the grader's private temporary folder until
    ``lock`` is closed (or its process ends)."""
    import fcntl
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"aelab-slots-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for n in dict.fromkeys([preferred % count, *range(count)]):
        lock = open(folder / f"{n}.lock", "a")  # noqa: SIM115 - held for the job's duration
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return n, lock
        except BlockingIOError:
            lock.close()
    raise RuntimeError(f"all {count} sandbox slots of this machine are in use")


def _bwrap() -> str | None:
    return shutil.which("bwrap") or (str(Path("/usr/bin/bwrap")) if Path("/usr/bin/bwrap").exists() else None)


def detect() -> tuple[str, str]:
    """(mode, reason): the strongest sandbox this machine allows, and why not a stronger one."""
    bwrap = _bwrap()
    if bwrap is None:
        return "none", "bubblewrap is not installed (Debian: apt-get install bubblewrap)"
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            return "none", "setpriv (util-linux) is missing"
        probe = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--dev", "/dev", "true"]
        ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
        return ("root", "bubblewrap as root, kernel as an unprivileged uid") if ok else ("none", "bwrap failed")
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-user", "--unshare-pid", "--unshare-net", "--dev", "/dev", "true"]
    proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        return "user", "bubblewrap in a user namespace (not root: no uid of its own)"
    return "none", f"bubblewrap cannot make namespaces here: {proc.stderr.strip()[:200]}"


def _hidden_package_dirs() -> list[str]:
    """Folders of packages the kernel must not see even if they are installed (the graders)."""
    out = []
    spec = importlib.util.find_spec("autograder")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        out.append(str(Path(loc).resolve()))
    return out


class _Cgroup:
    """A memory + pids cgroup for one job (cgroup v2, or v1 controllers), when this process may make one."""

    def __init__(self, name: str, limits: Limits):
        self.dirs: list[Path] = []
        self.procs_files: list[Path] = []
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "cgroup.controllers").exists():  # v2
                d = root / name
                d.mkdir()
                self.dirs.append(d)
                (d / "memory.max").write_text(str(limits.memory))
                (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
                (d / "pids.max").write_text(str(limits.processes))
                self.procs_files.append(d / "cgroup.procs")
            else:
                for controller, settings in (
                    ("memory", {"memory.limit_in_bytes": str(limits.memory)}),
                    ("pids", {"pids.max": str(limits.processes)}),
                ):
                    base = root / controller
                    if not (base / "cgroup.procs").exists():
                        continue
                    d = base / name
                    d.mkdir()
                    self.dirs.append(d)
                    for key, value in settings.items():
                        if (d / key).exists():
                            (d / key).write_text(value)
                    self.procs_files.append(d / "cgroup.procs")
        except OSError:
            self.remove()
            self.dirs, self.procs_files = [], []

    @property
    def active(self) -> bool:
        return bool(self.procs_files)

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for name in ("memory.events", "memory.oom_control"):
                f = d / name
                if f.exists():
                    text = f.read_text()
                    for line in text.splitlines():
                        key, _, value = line.partition(" ")
                        if key in ("oom_kill", "oom") and value.strip().isdigit() and int(value) > 0:
                            return True
        return False

    def kill_all(self) -> None:
        for d in self.dirs:
            kill = d / "cgroup.kill"
            try:
                if kill.exists():
                    kill.write_text("1")
                else:
                    for pid in (d / "cgroup.procs").read_text().split():
                        try:
                            os.kill(int(pid), 9)
                        except (ProcessLookupError, ValueError):
                            pass
            except OSError:
                pass

    def remove(self) -> None:
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


@dataclass
class Sandbox:
    """How to start one job's process in the sandbox (:meth:`popen`)."""

    mode: str
    limits: Limits
    slot: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"sandbox mode must be one of {MODES}, got {self.mode!r}")
        self.cgroup: _Cgroup | None = None

    @property
    def uid(self) -> int | None:
        return UID_BASE + self.slot if self.mode == "root" else None

    def _binds(self, job_files: dict[str, str]) -> list[str]:
        ro: list[str] = []
        for d in ("/usr", "/etc/alternatives", "/etc/fonts", "/etc/ssl", "/etc/ld.so.cache", "/etc/localtime"):
            if Path(d).exists():
                ro += ["--ro-bind", d, d]
        for link, target in (("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/bin", "usr/bin"), ("/sbin", "usr/sbin")):
            if Path(link).is_symlink():
                ro += ["--symlink", target, link]
            elif Path(link).is_dir():
                ro += ["--ro-bind", link, link]
        dirs: list[str] = []
        prefixes = {sys.base_prefix, sys.prefix, str(Path(__file__).resolve().parents[1])}
        for entry in sys.path:  # environments layered on this one (a shared class env's .pth)
            if entry and "site-packages" in entry and Path(entry).is_dir():
                prefixes.add(str(Path(entry).resolve()).split("/lib/python")[0])
        for prefix in sorted(prefixes):
            p = Path(prefix).resolve()
            for parent in reversed(p.parents):
                if str(parent) not in ("/", "/tmp") and str(parent) not in dirs:
                    dirs.append(str(parent))
            ro += ["--ro-bind", str(p), str(p)]
        made = []
        for d in dirs:
            made += ["--perms", "0755", "--dir", d]
        hide = []
        for d in _hidden_package_dirs():  # an empty, read-only folder over the graders
            hide += ["--size", "4096", "--tmpfs", d, "--remount-ro", d]
        files = ["--perms", "0755", "--dir", "/job"]
        for inside, outside in job_files.items():
            files += ["--bind" if inside.endswith(".sock") else "--ro-bind", outside, inside]
        return made + ro + hide + files

    def job_path(self, name: str, job_dir: Path) -> str:
        """Where the job's file ``name`` is seen from inside the sandbox."""
        return str(Path(job_dir) / name) if self.mode == "none" else f"/job/{name}"

    def argv(self, command: list[str], env: dict[str, str], job_files: dict[str, str]) -> list[str]:
        """The full command line: limits, bubblewrap, then ``command`` as the job's user."""
        lim = self.limits
        limits = [
            "prlimit",
            f"--nproc={lim.processes}",
            f"--data={lim.memory}",
            f"--fsize={lim.file_size}",
            f"--cpu={lim.cpu_seconds}",
            "--core=0",
            "--",
        ]
        if self.mode == "none":
            return limits + command
        bwrap = [
            _bwrap(),
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--hostname",
            "sandbox",
        ]
        if self.mode == "user":
            bwrap += ["--unshare-user", "--disable-userns"]
        for key, value in env.items():
            bwrap += ["--setenv", key, value]
        # /tmp first: the binds that follow may lie below it (a course checked out under /tmp keeps
        # its environment visible), and bubblewrap mounts in the order given
        bwrap += ["--perms", "01777", "--size", str(lim.tmp_size), "--tmpfs", "/tmp"]
        bwrap += self._binds(job_files)
        bwrap += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "01777",
            "--size",
            str(lim.tmp_size),
            "--tmpfs",
            "/dev/shm",
        ]
        bwrap += ["--chdir", "/tmp"]
        # the sandbox's own root (the folders bubblewrap made, /job, the tmpfs over the graders) is
        # read-only: /tmp and /dev/shm, bounded, are the only places it writes (in the user
        # mode the job owns those folders, and an unbounded root would be memory without a limit)
        bwrap += ["--remount-ro", "/"]
        inner = command
        if self.mode == "root":
            uid = str(self.uid)
            inner = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", *command]
        return limits + bwrap + ["--", *inner]

    def popen(self, command: list[str], env: dict[str, str], job_files: dict[str, str], **kwargs) -> subprocess.Popen:
        """Start ``command`` in the sandbox (its own process group), inside a cgroup when one can be made."""
        argv = self.argv(command, env, job_files)
        proc_env = None if self.mode != "none" else env
        if os.geteuid() == 0 and self.mode == "root":
            self.cgroup = _Cgroup(f"aelab-job-{uuid.uuid4().hex[:12]}", self.limits)
        if self.cgroup is not None and self.cgroup.active:
            joins = " && ".join(f"echo $$ > {f}" for f in self.cgroup.procs_files)
            argv = ["sh", "-c", f'{joins} && exec "$@"', "sh", *argv]
        return subprocess.Popen(argv, env=proc_env, start_new_session=True, **kwargs)

    def cleanup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all()
            self.cgroup.remove()
