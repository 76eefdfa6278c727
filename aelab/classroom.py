"""``aelab class``: set up and run a class on one machine with nbgrader's exchange.

Roles and where things live (see deploy/README.md):

- root builds a shared environment every user can run (``aelab class env``), creates the exchange
  and the instructor's course directory (``aelab class init``) and prepares students
  (``aelab class add-students``: private home, student nbgrader config, formgrader and
  create-assignment disabled for them);
- the instructor, in their course directory, runs ``release``, ``collect``, ``autograde``
  (optionally with parallel workers), ``feedback`` and ``grades``;
- students fetch and submit with nbgrader (the Assignments tab of JupyterLab or the CLI).

Parallel autograde keeps nbgrader's SQLite gradebook correct by never letting two processes write
it: each worker autogrades its share of the students in a scratch course directory with its own
copy of the gradebook (the expensive part: executing notebooks); then one process re-runs
nbgrader's autograde on the executed notebooks with execution disabled, which writes every grade
into the course's gradebook with nbgrader's own code (see ``autograde``).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from string import Template

DEFAULT_ENV = Path("/opt/aelab-class-venv")
HUB_VERSION = "6.1.1"  # also pyproject.toml's [project.optional-dependencies] class
PROXY_VERSION = "5.3.0"  # configurable-http-proxy, from the npm registry

# What students do not get (instructors keep everything nbgrader ships enabled).
STUDENT_DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
STUDENT_DISABLED_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
)
LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "autograder.check")


class ClassError(RuntimeError):
    """A step of the class workflow failed; the message says what to do."""


def deploy_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "deploy"
    if not (here / "nbgrader_config.student.py").is_file():
        raise ClassError(f"cannot find the deploy/ templates next to the aelab package ({here})")
    return here


def render(template: str, **values: str) -> str:
    return Template((deploy_dir() / template).read_text()).substitute(values)


# =================================================================================== shared env
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
    exe = Path(sys._base_executable).resolve()  # noqa: SLF001 - the venv's base interpreter
    if _world_readable(exe) is None and _world_readable(base_prefix / "lib") is None:
        return str(exe)
    target = prefix / "base-python"
    log(f"copying the base interpreter {base_prefix} to {target} (it is not readable by other users)")
    site = base_prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    shutil.copytree(base_prefix, target, symlinks=True,
                    ignore=lambda d, names: [n for n in names if Path(d, n) == site
                                             or (n == "test" and Path(d) == site.parent)])
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


def build_shared_env(prefix: Path = DEFAULT_ENV, *, base_python: str | None = None,
                     hub: bool = True, proxy: bool = True, log=print) -> Path:
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
            "into an environment under a world-readable folder (e.g. /opt or /srv) and run this again")
    hub_version = _hub_pin()
    stamp = {"site": str(site_dir), "base_python": base_python or f"auto:{sys.version}", "hub": hub_version if hub else None,
             "proxy": PROXY_VERSION if proxy else None, "main_prefix": str(main_prefix)}
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
        purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
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
        (kernel / "kernel.json").write_text(json.dumps({
            "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (aelab)", "language": "python",
            "metadata": {"debugger": True}}, indent=1))
        if (main_prefix / "etc" / "jupyter").is_dir():
            (prefix / "etc").mkdir(exist_ok=True)
            (prefix / "etc" / "jupyter").symlink_to(main_prefix / "etc" / "jupyter")
        if hub:
            log(f"installing jupyterhub=={hub_version} into {prefix}")
            subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            f"jupyterhub=={hub_version}"], check=True, cwd="/")
        if proxy:
            npm = shutil.which("npm")
            if not npm:
                raise ClassError("npm not found: the hub needs configurable-http-proxy (apt-get install npm)")
            log(f"installing configurable-http-proxy@{PROXY_VERSION} into {prefix / 'proxy'}")
            subprocess.run([npm, "install", "--prefix", str(prefix / "proxy"), "--no-audit", "--no-fund",
                            "--loglevel=error", f"configurable-http-proxy@{PROXY_VERSION}"],
                           check=True, cwd="/", stdout=subprocess.DEVNULL)
        subprocess.run(["chmod", "-R", "a+rX", str(prefix)], check=True)
        stamp_file.write_text(json.dumps(stamp))
        log(f"built shared environment {prefix} in {time.perf_counter() - t0:.0f} s")
    return prefix


# ======================================================================================== users
def _chown_tree(path: Path, pw) -> None:
    os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for p in path.rglob("*"):
            os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def _write_owned(path: Path, text: str, pw, mode: int = 0o644) -> None:
    """Write ``path`` (and any missing parent under the home) owned by the user ``pw``."""
    home = Path(pw.pw_dir)
    missing = [p for p in [path.parent, *path.parent.parents] if not p.exists() and home in [p, *p.parents]]
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chown(p, pw.pw_uid, pw.pw_gid)
    path.write_text(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(mode)


def _merge_json(path: Path, update: dict, pw) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}

    def merge(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = merge(a.get(k, {}) if isinstance(a.get(k), dict) else {}, v) if isinstance(v, dict) else v
        return a

    _write_owned(path, json.dumps(merge(data, update), indent=2) + "\n", pw)


def user_env(pw, env_prefix: Path | None = None) -> dict[str, str]:
    path = "/usr/local/bin:/usr/bin:/bin"
    if env_prefix:
        path = f"{Path(env_prefix) / 'bin'}:{path}"
    env = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name, "SHELL": pw.pw_shell or "/bin/sh",
           "PATH": path, "LANG": "C.UTF-8", "AELAB_OFFLINE": "1"}
    return env


def run_as(user: str, argv, *, env_prefix: Path | None = None, cwd=None, extra_env=None,
           check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``argv`` as the local ``user`` (root only): their uid, gid, groups, HOME and a clean env."""
    pw = pwd.getpwnam(user)
    env = user_env(pw, env_prefix)
    env.update(extra_env or {})

    # user/group/extra_groups switch in the child without preexec_fn, so threads may call this
    proc = subprocess.run([str(a) for a in argv], cwd=str(cwd or pw.pw_dir), env=env, user=pw.pw_uid,
                          group=pw.pw_gid, extra_groups=os.getgrouplist(pw.pw_name, pw.pw_gid),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise ClassError(f"as {user}: {' '.join(map(str, argv))} exited {proc.returncode}:\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise ClassError(f"{what} needs root (it creates folders for, and owned by, other users)")


def init_class(course_dir: Path, exchange: Path, course_id: str, instructor: str,
               source: Path | None = None, assignments=None, log=print) -> None:
    """Create the exchange (0777, as nbgrader wants), the course's folder in it (the instructor's,
    so no student can claim the course id first) and the instructor's private course directory
    with source/ and nbgrader_config.py; write the instructor's ~/.jupyter config."""
    from aelab.build import ASSIGNMENTS, repo_root

    _require_root("aelab class init")
    pw = pwd.getpwnam(instructor)
    course_dir, exchange = Path(course_dir).resolve(), Path(exchange).resolve()
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o777)
    course_in_exchange = exchange / course_id
    course_in_exchange.mkdir(exist_ok=True)
    os.chown(course_in_exchange, pw.pw_uid, pw.pw_gid)
    course_in_exchange.chmod(0o755)
    course_dir.mkdir(parents=True, exist_ok=True)
    source = Path(source) if source else repo_root() / "source"
    names = list(assignments or [a for a in ASSIGNMENTS if (source / a).is_dir()])
    for a in names:
        if not (source / a).is_dir():
            raise ClassError(f"no assignment {a} under {source}")
        shutil.copytree(source / a, course_dir / "source" / a, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    values = dict(course_id=course_id, course_dir=str(course_dir), exchange_root=str(exchange))
    (course_dir / "nbgrader_config.py").write_text(render("nbgrader_config.instructor.py", **values))
    _chown_tree(course_dir, pw)
    course_dir.chmod(0o700)
    Path(pw.pw_dir).chmod(0o700)
    _write_owned(Path(pw.pw_dir, ".jupyter", "nbgrader_config.py"),
                 render("nbgrader_config.instructor.py", **values), pw)
    _merge_json(Path(pw.pw_dir, ".jupyter", "jupyter_server_config.json"),
                {"ServerApp": {"jpserver_extensions": {e: True for e in INSTRUCTOR_SERVER_EXTENSIONS}}}, pw)
    log(f"class {course_id}: exchange {exchange} (0777), course directory {course_dir} "
        f"(owned by {instructor}, 0700), assignments {', '.join(names)}")


def add_students(names, course_id: str, exchange: Path, log=print) -> None:
    """Prepare local users as students: home 0700, ~/.jupyter/nbgrader_config.py (course id,
    exchange), the formgrader, course list and create-assignment off for them, nbgrader cache
    cleared. Writes the same JSON files as ``jupyter server extension disable --user`` and
    ``jupyter labextension disable --level=user`` (the tests check them with those tools)."""
    _require_root("aelab class add-students")
    text = render("nbgrader_config.student.py", course_id=course_id, exchange_root=str(Path(exchange).resolve()))
    for name in names:
        pw = pwd.getpwnam(name)
        home = Path(pw.pw_dir)
        home.chmod(0o700)
        _write_owned(home / ".jupyter" / "nbgrader_config.py", text, pw)
        _merge_json(home / ".jupyter" / "jupyter_server_config.json",
                    {"ServerApp": {"jpserver_extensions": {e: False for e in STUDENT_DISABLED_SERVER_EXTENSIONS}}}, pw)
        _merge_json(home / ".jupyter" / "labconfig" / "page_config.json",
                    {"disabledExtensions": {p: True for p in STUDENT_DISABLED_LAB_PLUGINS}}, pw)
        shutil.rmtree(home / ".local" / "share" / "jupyter" / "nbgrader_cache", ignore_errors=True)
    log(f"students ready: {', '.join(names)}")


# ============================================================================ feedback filter
# The feedback pipeline of every config of the course (laptop, `aelab grade`, a shared class):
# hidden tests stay out of what students get back.
FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "aelab.classroom.FeedbackWithoutHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def _feedback_preprocessor():
    """nbgrader's ClearHiddenTests, plus: the traceback of a grade cell whose hidden tests failed
    becomes one line (error and message), since a traceback quotes the failing hidden line."""
    from nbgrader import utils
    from nbgrader.preprocessors import ClearHiddenTests

    class FeedbackWithoutHiddenTests(ClearHiddenTests):
        def preprocess_cell(self, cell, resources, cell_index):
            hidden = self.begin_test_delimeter in cell.source
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if cell.cell_type == "code" and (hidden or utils.is_grade(cell)):
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            return cell, resources

    FeedbackWithoutHiddenTests.__module__ = __name__
    return FeedbackWithoutHiddenTests


def __getattr__(name: str):
    # imported lazily (nbgrader is slow to import), by name from the instructor's nbgrader config:
    # c.GenerateFeedback.preprocessors = [..., "aelab.classroom.FeedbackWithoutHiddenTests", ...]
    if name == "FeedbackWithoutHiddenTests":
        cls = globals()[name] = _feedback_preprocessor()
        return cls
    raise AttributeError(name)


# ================================================================================= instructor
def resolve_course_dir(course_dir=None) -> Path:
    d = Path(course_dir or os.environ.get("AELAB_CLASS_COURSE_DIR") or os.getcwd()).resolve()
    if not (d / "nbgrader_config.py").is_file():
        raise ClassError(f"{d} is not a course directory (no nbgrader_config.py): pass --course-dir")
    return d


def load_config(course_dir: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()


def _api(course_dir: Path, config=None):
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=config if config is not None else load_config(course_dir))


def _ok(result: dict, what: str) -> dict:
    if not result or not result.get("success"):
        raise ClassError(f"{what} failed:\n{(result or {}).get('error') or ''}\n{(result or {}).get('log') or ''}")
    return result


def find_leaks(folder: Path, source_folder: Path | None = None) -> list[str]:
    """Files under ``folder`` holding a solution or hidden-test marker, an autograder call, or a
    line of a source notebook's solution/hidden-test block."""
    import nbformat

    secret_lines: set[str] = set()
    for nb_path in sorted(Path(source_folder).glob("*.ipynb")) if source_folder else []:
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            for _, block in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, flags=re.S):
                secret_lines |= {ln.strip() for ln in block.splitlines()
                                 if len(ln.strip()) >= 12 and not ln.strip().startswith("#")}
    problems = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits = [m for m in LEAK_MARKERS if m in text]
        if path.suffix == ".ipynb" and secret_lines:
            body = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            hits += [f"solution line {ln!r}" for ln in sorted(secret_lines) if ln in body][:3]
        if hits:
            problems.append(f"{path}: {', '.join(hits)}")
    return problems


def release(course_dir: Path, assignment: str, *, force: bool = False, log=print) -> Path:
    """generate_assignment, check the student version for leaks, release it to the exchange and
    check the exchange's copy again. Returns the outbound folder."""
    config = load_config(course_dir)
    if force:
        config.ExchangeReleaseAssignment.force = True
    api = _api(course_dir, config)
    _ok(api.generate_assignment(assignment, force=True, create=True), f"generate_assignment {assignment}")
    source = course_dir / "source" / assignment
    leaks = find_leaks(course_dir / "release" / assignment, source)
    if leaks:
        raise ClassError("the student version leaks solutions or hidden tests; not released:\n" + "\n".join(leaks))
    _ok(api.release_assignment(assignment), f"release_assignment {assignment}")
    outbound = Path(config.Exchange.root) / config.CourseDirectory.course_id / "outbound" / assignment
    leaks = find_leaks(outbound, source)
    if leaks:
        shutil.rmtree(outbound, ignore_errors=True)
        raise ClassError("the released copy leaks solutions or hidden tests; withdrawn:\n" + "\n".join(leaks))
    log(f"released {assignment} to {outbound}")
    return outbound


def collect(course_dir: Path, assignment: str, log=print) -> list[str]:
    """nbgrader collect (each student's latest submission; newer ones replace older). Returns students."""
    _ok(_api(course_dir).collect(assignment, update=True), f"collect {assignment}")
    students = submitted_students(course_dir, assignment)
    log(f"collected {assignment}: {len(students)} students")
    return students


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course_dir / "submitted").glob(f"*/{assignment}") if p.is_dir())


def _autograde_serial(course_dir: Path, assignment: str, students, config=None, log=print) -> dict[str, str]:
    api = _api(course_dir, config)
    failures = {}
    for s in students:
        t0 = time.perf_counter()
        r = api.autograde(assignment, s, force=True, create=True)
        if not r.get("success"):
            failures[s] = (r.get("error") or r.get("log") or "")[-2000:]
        log(f"autograded {assignment}/{s} in {time.perf_counter() - t0:.1f} s{'' if r.get('success') else ' (FAILED)'}")
    return failures


def autograde(course_dir: Path, assignment: str, *, workers: int = 1, students=None, log=print) -> None:
    """Autograde every collected submission of ``assignment`` into the course's gradebook.

    ``workers > 1``: phase 1 splits the students over ``workers`` processes, each in a scratch
    course directory (a copy of source/, gradebook.db and its students' submissions) that only it
    writes, executing the notebooks with nbgrader autograde; phase 2, in this one process, runs
    nbgrader autograde again on the executed notebooks with Execute and ClearOutput disabled (as
    ``--no-execute``), which overwrites the locked cells again and saves every grade into the
    course's gradebook. Only phase 2 writes the real gradebook, and it is a single writer.
    """
    course_dir = Path(course_dir)
    students = list(students or submitted_students(course_dir, assignment))
    if not students:
        raise ClassError(f"no collected submissions of {assignment} under {course_dir / 'submitted'}")
    t0 = time.perf_counter()
    workers = max(1, min(int(workers), len(students)))
    if workers == 1:
        failures = _autograde_serial(course_dir, assignment, students, log=log)
    else:
        failures = _autograde_parallel(course_dir, assignment, students, workers, log=log)
    if failures:
        raise ClassError("autograde failed for " + ", ".join(sorted(failures)) + ":\n"
                         + "\n".join(f"--- {s}\n{e}" for s, e in sorted(failures.items())))
    log(f"autograded {len(students)} submissions of {assignment} with {workers} worker(s) "
        f"in {time.perf_counter() - t0:.1f} s")


def _autograde_parallel(course_dir: Path, assignment: str, students, workers: int, log=print) -> dict[str, str]:
    config_text = (course_dir / "nbgrader_config.py").read_text()
    scratch = course_dir / ".aelab-parallel" / assignment
    shutil.rmtree(scratch, ignore_errors=True)
    # the gradebook must already hold the assignment (generate_assignment ran at release)
    _api(course_dir).gradebook.find_assignment(assignment)
    procs = []
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for i in range(workers):
        chunk = students[i::workers]
        wdir = scratch / f"worker{i}"
        (wdir / "submitted").mkdir(parents=True)
        shutil.copytree(course_dir / "source" / assignment, wdir / "source" / assignment)
        if (course_dir / "release" / assignment).is_dir():
            shutil.copytree(course_dir / "release" / assignment, wdir / "release" / assignment)
        shutil.copy(course_dir / "gradebook.db", wdir / "gradebook.db")
        for s in chunk:
            shutil.copytree(course_dir / "submitted" / s / assignment, wdir / "submitted" / s / assignment)
        (wdir / "nbgrader_config.py").write_text(
            config_text + "\n# scratch course of one parallel autograde worker\n"
            f"c.CourseDirectory.root = {str(wdir)!r}\n"
            f"c.CourseDirectory.db_url = {'sqlite:///' + str(wdir / 'gradebook.db')!r}\n")
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        log_file = open(wdir / "worker.log", "w")
        procs.append((wdir, chunk, log_file, subprocess.Popen(
            [sys.executable, "-m", "aelab.cli", "class", "autograde", assignment, "--course-dir", str(wdir),
             "--workers", "1"], stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=str(wdir))))
    failures: dict[str, str] = {}
    executed = scratch / "executed"
    for wdir, chunk, log_file, proc in procs:
        rc = proc.wait()
        log_file.close()
        for s in chunk:
            done = wdir / "autograded" / s / assignment
            if done.is_dir():
                shutil.copytree(done, executed / s / assignment)
            else:
                failures[s] = f"worker exited {rc}; see {wdir / 'worker.log'}:\n" + (wdir / "worker.log").read_text()[-2000:]
    log(f"phase 1 (execute, {workers} workers) done; phase 2: saving grades into {course_dir / 'gradebook.db'}")
    config = load_config(course_dir)
    config.CourseDirectory.submitted_directory = str(executed.relative_to(course_dir))
    config.Execute.enabled = False
    config.ClearOutput.enabled = False
    graded = [s for s in students if s not in failures]
    failures.update(_autograde_serial(course_dir, assignment, graded, config=config, log=log))
    if not failures:
        shutil.rmtree(course_dir / ".aelab-parallel", ignore_errors=True)
    return failures


def feedback(course_dir: Path, assignment: str, log=print) -> None:
    """generate_feedback, then release_feedback to the exchange (each student fetches their own)."""
    api = _api(course_dir)
    _ok(api.generate_feedback(assignment, force=True), f"generate_feedback {assignment}")
    _ok(api.release_feedback(assignment), f"release_feedback {assignment}")
    log(f"feedback of {assignment} released")


def grades(course_dir: Path, assignment: str | None = None) -> list[dict]:
    """One row per (assignment, student) in the gradebook: score, max_score, submission timestamp."""
    from nbgrader.api import Gradebook, MissingEntry

    config = load_config(course_dir)
    db_url = config.CourseDirectory.get("db_url") or f"sqlite:///{course_dir / 'gradebook.db'}"
    rows = []
    with Gradebook(db_url) as gb:
        for a in gb.assignments:
            if assignment and a.name != assignment:
                continue
            for st in gb.students:
                try:
                    sub = gb.find_submission(a.name, st.id)
                except MissingEntry:
                    continue
                rows.append(dict(assignment=a.name, student=st.id, score=sub.score, max_score=sub.max_score,
                                 timestamp=str(sub.timestamp or "")))
    return rows


# ========================================================================================= CLI
def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="class_command", metavar="STEP")
    p = sub.add_parser("env", help="build an environment every local user can run (root)")
    p.add_argument("--prefix", type=Path, default=DEFAULT_ENV)
    p.add_argument("--python", help="base interpreter (default: this environment's own, copied where "
                   "everyone can run it if it lives in a private folder)")
    p.add_argument("--no-hub", action="store_true", help="skip jupyterhub and configurable-http-proxy")

    p = sub.add_parser("init", help="create the exchange and the instructor's course directory (root)")
    p.add_argument("--course-id", required=True)
    p.add_argument("--course-dir", type=Path, required=True)
    p.add_argument("--exchange", type=Path, required=True)
    p.add_argument("--instructor", required=True, help="local user who owns the course directory")
    p.add_argument("--source", type=Path, help="folder of assignments (default: this checkout's source/)")
    p.add_argument("assignments", nargs="*")

    p = sub.add_parser("add-students", help="prepare local users as students of a course (root)")
    p.add_argument("--course-id", required=True)
    p.add_argument("--exchange", type=Path, required=True)
    p.add_argument("students", nargs="+")

    for name, text in (("release", "generate and release an assignment (checked for leaks)"),
                       ("collect", "collect every student's latest submission"),
                       ("autograde", "autograde the collected submissions"),
                       ("feedback", "generate and release feedback")):
        p = sub.add_parser(name, help=text)
        p.add_argument("assignment")
        p.add_argument("--course-dir", type=Path, help="default: $AELAB_CLASS_COURSE_DIR or the current folder")
        if name == "release":
            p.add_argument("--force", action="store_true", help="replace an assignment already released")
        if name == "autograde":
            p.add_argument("--workers", type=int, default=1, help="parallel execution workers (default 1)")
            p.add_argument("--student", action="append", help="only these students (repeatable)")

    p = sub.add_parser("grades", help="print the gradebook's scores as CSV")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--course-dir", type=Path)


def run(args) -> int:
    step = getattr(args, "class_command", None)
    if step is None:
        print("usage: aelab class {env,init,add-students,release,collect,autograde,feedback,grades} ...",
              file=sys.stderr)
        return 2
    try:
        if step == "env":
            build_shared_env(args.prefix, base_python=args.python, hub=not args.no_hub, proxy=not args.no_hub)
        elif step == "init":
            init_class(args.course_dir, args.exchange, args.course_id, args.instructor, args.source,
                       args.assignments or None)
        elif step == "add-students":
            add_students(args.students, args.course_id, args.exchange)
        elif step == "grades":
            import csv

            writer = csv.DictWriter(sys.stdout, ["assignment", "student", "score", "max_score", "timestamp"])
            writer.writeheader()
            writer.writerows(grades(resolve_course_dir(args.course_dir), args.assignment))
        else:
            course_dir = resolve_course_dir(args.course_dir)
            if step == "release":
                release(course_dir, args.assignment, force=args.force)
            elif step == "collect":
                collect(course_dir, args.assignment)
            elif step == "autograde":
                autograde(course_dir, args.assignment, workers=args.workers, students=args.student)
            elif step == "feedback":
                feedback(course_dir, args.assignment)
    except ClassError as exc:
        print(f"aelab class {step}: {exc}", file=sys.stderr)
        return 1
    return 0
