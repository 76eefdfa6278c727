"""A class on one machine, with real local users, real nbgrader exchange and a real JupyterHub.

The test creates an instructor and four students (random suffix), a course directory and an
exchange under /tmp/aelab-class-<suffix>, and runs the whole term of one assignment:
release -> fetch -> submit (one right, one wrong, one twice) -> collect -> autograde (2 parallel
workers) -> feedback -> fetch_feedback; then it tries to break every access rule as the wrong user.
A JupyterHub on 127.0.0.1 (dummy authenticator, local-process spawner) serves a fourth student who
logs in, sees the course's assignment and fetches and submits through the server's REST API.

Needs root (it creates users) and the shared environment of ``aelab class env`` (built once,
cached in $AELAB_CLASS_ENV, default /opt/aelab-class-venv; npm installs the hub's proxy, see the
Makefile's ``system-deps``, which ``make test`` runs). Without them the tests fail, saying what to
run; ``AELAB_SKIP_CLASS=1`` skips them instead.
Everything it made (users, homes, folders, processes) is removed by the fixtures' finalizers.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from aelab.course import classroom

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = Path(os.environ.get("AELAB_CLASS_ENV", str(classroom.DEFAULT_ENV)))
COURSE_ID = "aelab-test"
# The real first assignment when it is in source/, else a tiny one made here (same mechanics:
# nbgrader cells, a grade cell that imports aelab and autograder in the autograding kernel).
ASSIGNMENT = os.environ.get("AELAB_CLASS_TEST_ASSIGNMENT", "01_autoencoder_basics")
if ASSIGNMENT != "dummy" and not (ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file():
    ASSIGNMENT = "dummy"


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "multi-user tests need Linux"
    if os.geteuid() != 0:
        return "the multi-user tests need root to create local users: run them as root (`sudo make test`)"
    for tool in ("useradd", "userdel"):
        if not shutil.which(tool):
            return f"{tool} not found (Debian's package passwd: `apt-get install -y passwd` as root)"
    return None


SKIP_ENV = "AELAB_SKIP_CLASS"
OPTED_OUT = os.environ.get(SKIP_ENV, "").strip().lower() not in ("", "0", "false", "no")
REASON = _why_not()
pytestmark = pytest.mark.skipif(OPTED_OUT, reason=f"{SKIP_ENV} is set")


def _cannot_run(why: str):
    """A missing requirement fails the tests (skipping them takes AELAB_SKIP_CLASS=1)."""
    pytest.fail(f"tests/test_classroom.py cannot run: {why} ({SKIP_ENV}=1 skips them)", pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _requirements():
    if REASON:
        _cannot_run(REASON)


TIMINGS: dict[str, float] = {}


# ==================================================================================== fixtures
@pytest.fixture(scope="module")
def env_prefix():
    t0 = time.perf_counter()
    try:
        prefix = classroom.build_shared_env(ENV_PREFIX)
    except classroom.ClassError as exc:
        _cannot_run(str(exc))
    TIMINGS["shared env (build or reuse)"] = time.perf_counter() - t0
    return prefix


def _kill_user_processes(uid: int) -> None:
    """Terminate the processes still running as a user this test created (by pid)."""
    out = subprocess.run(["ps", "-o", "pid=", "-u", str(uid)], capture_output=True, text=True).stdout
    for pid in (int(p) for p in out.split()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def users():
    suffix = secrets.token_hex(3)
    names = {role: f"ae{role}{suffix}" for role in ("prof", "alice", "bob", "carol", "dave")}
    made = []

    yield_ok = False
    try:
        for name in names.values():
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
            made.append(name)
        yield_ok = True
        yield names
    finally:
        for name in made:
            try:
                _kill_user_processes(pwd.getpwnam(name).pw_uid)
            except KeyError:
                continue
            r = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
            if r.returncode not in (0, 12):  # 12: could not remove the home (already gone)
                print(f"userdel {name}: {r.stderr.strip()}")
        if not yield_ok and not made:
            pass


def _dummy_source(folder: Path) -> Path:
    """A small assignment: one solution cell, one graded cell that uses aelab and autograder."""
    md = lambda grade_id, **kw: {
        "nbgrader": {
            "grade": False,
            "grade_id": grade_id,
            "locked": True,
            "schema_version": 3,
            "solution": False,
            "task": False,
            **kw,
        }
    }
    cells = [
        nbformat.v4.new_markdown_cell("# Dummy\n## Learning objectives\n- add", metadata=md("intro")),
        nbformat.v4.new_code_cell("import aelab\nimport autograder", metadata=md("setup")),
        nbformat.v4.new_code_cell(
            'def add(a, b):\n    """a + b"""\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION',
            metadata=md("add", locked=False, solution=True),
        ),
        nbformat.v4.new_code_cell(
            '"""add: small integers."""\nassert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n'
            "assert add(20, 22) == 42 and callable(autograder.check)\n### END HIDDEN TESTS",
            metadata=md("test_add", grade=True, points=2),
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (folder / "dummy").mkdir(parents=True)
    nbformat.write(nb, folder / "dummy" / "dummy.ipynb")
    return folder


@pytest.fixture(scope="module")
def klass(env_prefix, users):
    """The class: exchange and course dir under a world-traversable /tmp folder, the instructor's
    course initialised, the students prepared, the assignment released."""
    base = Path(f"/tmp/aelab-class-{secrets.token_hex(4)}")
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    try:
        source = _dummy_source(base / "dummy-source") if ASSIGNMENT == "dummy" else ROOT / "source"
        course, exchange = base / "course", base / "exchange"
        classroom.init_class(course, exchange, COURSE_ID, users["prof"], source=source, assignments=[ASSIGNMENT])
        students = [users[r] for r in ("alice", "bob", "carol", "dave")]
        classroom.add_students(students, COURSE_ID, exchange)
        t0 = time.perf_counter()
        instructor(env_prefix, users, "release", ASSIGNMENT, "--course-dir", course)
        TIMINGS["release"] = time.perf_counter() - t0
        yield dict(
            base=base,
            course=course,
            exchange=exchange,
            source=source / ASSIGNMENT,
            outbound=exchange / COURSE_ID / "outbound" / ASSIGNMENT,
            inbound=exchange / COURSE_ID / "inbound",
            feedback=exchange / COURSE_ID / "feedback",
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def instructor(env_prefix, users, *args):
    return classroom.run_as(
        users["prof"], [env_prefix / "bin" / "aelab", "class", *map(str, args)], env_prefix=env_prefix
    )


def student(env_prefix, name, *args, check=True):
    return classroom.run_as(
        name, [env_prefix / "bin" / "nbgrader", *map(str, args)], env_prefix=env_prefix, check=check
    )


def everyone(env_prefix, names, *args):
    """The same nbgrader command for several students at once (each as themselves)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda n: student(env_prefix, n, *args), names))


def attempt(user, *argv) -> subprocess.CompletedProcess:
    """Run a shell command as ``user``; the caller asserts it was refused."""
    return classroom.run_as(user, list(argv), check=False)


def _nb_path(home: str) -> Path:
    return Path(home) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _answer_correctly(name: str, source: Path) -> None:
    """Put the instructor's solutions into the student's fetched notebook (as that student would)."""
    pw = pwd.getpwnam(name)
    path = _nb_path(pw.pw_dir)
    nb = nbformat.read(path, as_version=4)
    ref = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source / f"{ASSIGNMENT}.ipynb", 4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in ref:
            cell.source = "\n".join(ln for ln in ref[gid].splitlines() if "### " not in ln)
    nbformat.write(nb, path)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def _attack(name: str) -> None:
    """bob: no answers, but his notebook tries to harm the class from the grading kernel.

    It edits a test cell to ``pass`` (so a poisoned copy would reach the gradebook), writes into every
    directory it can reach, and leaves detached processes that rewrite every gradebook, grades file
    and notebook they can find after the job (the attacks of tests/test_attacks.py)."""
    from test_attacks import DETACH, WRITE_EVERYWHERE

    pw = pwd.getpwnam(name)
    path = _nb_path(pw.pw_dir)
    nb = nbformat.read(path, as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[0].source = "pass"
    detach = DETACH.replace("'/**/grades.csv'", "'/**/gradebook.db'")
    nb.cells.insert(1, nbformat.v4.new_code_cell("import json\n" + WRITE_EVERYWHERE + detach))
    nbformat.write(nb, path)
    os.chown(path, pw.pw_uid, pw.pw_gid)


@pytest.fixture(scope="module")
def term(env_prefix, users, klass):
    """The round trip of one assignment; returns what the checks need."""
    t0 = time.perf_counter()
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    # due half an hour ago, one point per started hour late; alice has two days more
    due = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=30)).isoformat(timespec="seconds")
    deadlines = klass["base"] / "deadlines.toml"
    deadlines.write_text(
        f'[policy]\nlate_penalty = "per_hour:1"\n\n[due]\n{ASSIGNMENT} = "{due}"\n\n'
        f"[extensions.{alice}]\n{ASSIGNMENT} = 48\n"
    )
    deadlines.chmod(0o644)
    everyone(env_prefix, [alice, bob, carol], "fetch_assignment", ASSIGNMENT)
    _answer_correctly(alice, klass["source"])
    _attack(bob)
    # alice right, bob no answers and an attack, carol's first try untouched
    everyone(env_prefix, [alice, bob, carol], "submit", ASSIGNMENT)
    inbound_before = sorted(p.name for p in klass["inbound"].iterdir())
    time.sleep(1.1)
    _answer_correctly(carol, klass["source"])
    student(env_prefix, carol, "submit", ASSIGNMENT)  # second try: right; the latest counts
    carol_latest = max(p.name for p in klass["inbound"].iterdir() if p.name.startswith(carol + "+"))
    instructor(env_prefix, users, "collect", ASSIGNMENT, "--course-dir", klass["course"])
    t1 = time.perf_counter()
    instructor(
        env_prefix,
        users,
        "autograde",
        ASSIGNMENT,
        "--course-dir",
        klass["course"],
        "--workers",
        "2",
        "--deadlines",
        deadlines,
        "--export",
        "canvas,moodle",
    )
    TIMINGS["autograde 3 submissions, 2 workers"] = time.perf_counter() - t1
    instructor(env_prefix, users, "feedback", ASSIGNMENT, "--course-dir", klass["course"])
    everyone(env_prefix, [alice, bob, carol], "fetch_feedback", ASSIGNMENT)
    TIMINGS["round trip (fetch .. fetch_feedback)"] = time.perf_counter() - t0
    return dict(inbound_before=inbound_before, carol_latest=carol_latest)


# ================================================================================ round trip
def test_gradebook_holds_the_expected_scores(term, klass, users):
    rows = {r["student"]: r for r in classroom.grades(klass["course"], ASSIGNMENT)}
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    assert set(rows) == {alice, bob, carol}, rows
    max_score = rows[alice]["max_score"]
    assert max_score > 0
    assert rows[alice]["score"] == max_score, rows[alice]
    assert rows[bob]["score"] == 0, rows[bob]
    assert rows[carol]["score"] == max_score, f"the latest submission of {carol} was not the one graded: {rows[carol]}"
    # the autograded copies are the instructor's
    prof_uid = pwd.getpwnam(users["prof"]).pw_uid
    graded = klass["course"] / "autograded" / carol / ASSIGNMENT
    assert graded.stat().st_uid == prof_uid


def test_deadlines_and_lms_export_of_the_class(term, klass, users):
    """--deadlines: carol (late, no extension) loses a point in the LMS files; alice (an extension) does not."""
    rows = {r["student"]: r for r in classroom.grades(klass["course"], ASSIGNMENT)}
    alice, carol = users["alice"], users["carol"]
    max_score = rows[alice]["max_score"]
    with open(klass["course"] / "grades-canvas.csv", newline="", encoding="utf-8") as f:
        canvas = list(csv.reader(f))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"], canvas[0]
    column = next(i for i, h in enumerate(canvas[0]) if ASSIGNMENT in h)
    by_login = {row[3]: row[column] for row in canvas[1:] if len(row) > column}
    assert float(by_login[alice]) == max_score, canvas
    assert float(by_login[carol]) == max_score - 1, canvas
    with open(klass["course"] / "grades-moodle.csv", newline="", encoding="utf-8") as f:
        moodle = {row["Username"]: row[ASSIGNMENT] for row in csv.DictReader(f)}
    assert float(moodle[alice]) == max_score and float(moodle[carol]) == max_score - 1, moodle


def test_the_attacker_harmed_nobody(term, klass, users):
    """bob's kernel ran as an unprivileged uid in the sandbox: nothing planted, nothing left running,
    the gradebook's copy of the test cells is the course's, classmates keep their marks."""
    from nbgrader.api import Gradebook
    from test_attacks import _sandbox_processes

    planted = [
        p for top in (klass["course"], Path("/home"), Path("/srv")) if top.exists() for p in top.rglob("aelab_pwned")
    ]
    assert not planted, planted
    assert _sandbox_processes() == []
    source = nbformat.read(klass["source"] / f"{ASSIGNMENT}.ipynb", 4)
    with Gradebook(f"sqlite:///{klass['course'] / 'gradebook.db'}") as gb:
        for cell in source.cells:
            md = cell.metadata.get("nbgrader", {})
            if md.get("grade") and not md.get("solution"):
                stored = gb.find_source_cell(md["grade_id"], ASSIGNMENT, ASSIGNMENT)
                assert stored.source.strip() == cell.source.strip(), md["grade_id"]
    feedback = klass["course"] / "feedback" / users["bob"] / ASSIGNMENT
    import html

    text = html.unescape(re.sub(r"<[^>]+>", "", next(feedback.glob("*.html")).read_text()))
    reports = re.findall(r"(WRITABLE|DETACHED): ([\[\d].*)", text)
    assert ("WRITABLE", "[]") in reports and ("DETACHED", "4") in reports, reports or text[-3000:]


def test_carol_submitted_twice_and_collect_took_the_latest(term, klass, users):
    carol = users["carol"]
    mine = [n for n in sorted(p.name for p in klass["inbound"].iterdir()) if n.startswith(carol + "+")]
    assert len(mine) == 2, mine
    collected = klass["course"] / "submitted" / carol / ASSIGNMENT
    latest = klass["inbound"] / term["carol_latest"]
    nb = f"{ASSIGNMENT}.ipynb"
    assert (collected / nb).read_bytes() == (latest / nb).read_bytes(), "collect took an older submission"
    # the time is the exchange files' change time (not the student-written one), so never earlier
    when = datetime.datetime.strptime((collected / "timestamp.txt").read_text().strip(), "%Y-%m-%d %H:%M:%S.%f UTC")
    claimed = datetime.datetime.strptime(term["carol_latest"].split("+")[2], "%Y-%m-%d %H:%M:%S.%f %Z")
    assert datetime.timedelta(0) <= when - claimed < datetime.timedelta(seconds=60), (when, claimed)


def test_each_student_fetches_only_their_own_feedback(term, klass, users):
    for role in ("alice", "bob", "carol"):
        name = users[role]
        home = Path(pwd.getpwnam(name).pw_dir)
        got = sorted((home / ASSIGNMENT / "feedback").rglob("*.html"))
        assert len(got) == 1, f"{name} fetched {got}"
        own = klass["course"] / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert got[0].read_bytes() == own.read_bytes(), f"{name} got someone else's feedback"
        assert got[0].stat().st_uid == pwd.getpwnam(name).pw_uid
    # a right and a wrong answer get different feedback (alice's and carol's may be identical)
    texts = {
        r: (klass["course"] / "feedback" / users[r] / ASSIGNMENT / f"{ASSIGNMENT}.html").read_bytes()
        for r in ("alice", "bob")
    }
    assert texts["alice"] != texts["bob"]


# ============================================================================ access control
def test_nothing_secret_reaches_the_exchange(term, klass, users):
    """Hidden tests and solutions never reach the outbound folder, nor the released feedback (a
    failed hidden test quotes its line in a traceback), nor what a student fetched."""
    assert (klass["outbound"] / f"{ASSIGNMENT}.ipynb").is_file()
    assert classroom.find_leaks(klass["outbound"], klass["source"]) == []
    assert sorted(klass["feedback"].glob("*.html")), "no feedback released"
    assert classroom.find_leaks(klass["feedback"]) == []
    for role in ("bob", "carol"):
        fetched = Path(pwd.getpwnam(users[role]).pw_dir) / ASSIGNMENT
        assert classroom.find_leaks(fetched) == []
    assert "raise NotImplementedError()" in (klass["outbound"] / f"{ASSIGNMENT}.ipynb").read_text()


def test_release_refuses_a_leaking_student_version(term, klass, users, env_prefix):
    """A grader call left outside the hidden-test markers would reach students: release refuses it
    and nothing reaches the exchange."""
    prof = pwd.getpwnam(users["prof"])
    leaky = klass["course"] / "source" / "leaky"
    _dummy_source(klass["base"] / "leaky-src")
    nb = nbformat.read(klass["base"] / "leaky-src" / "dummy" / "dummy.ipynb", as_version=4)
    nb.cells[-1].source = (
        nb.cells[-1].source.replace("### BEGIN HIDDEN TESTS\n", "").replace("### END HIDDEN TESTS", "")
    )
    nb.cells[-1].source += "\nautograder.check('lab01.reconstruction_error.shape', add)"
    leaky.mkdir()
    nbformat.write(nb, leaky / "leaky.ipynb")
    for p in (leaky, leaky / "leaky.ipynb"):
        os.chown(p, prof.pw_uid, prof.pw_gid)
    with pytest.raises(classroom.ClassError, match="leaks"):
        instructor(env_prefix, users, "release", "leaky", "--course-dir", klass["course"])
    assert not (klass["exchange"] / COURSE_ID / "outbound" / "leaky").exists()


def test_student_homes_are_private(term, users):
    bob, alice_home = users["bob"], pwd.getpwnam(users["alice"]).pw_dir
    assert os.stat(alice_home).st_mode & 0o077 == 0
    assert attempt(bob, "ls", alice_home).returncode != 0
    assert attempt(bob, "cat", str(_nb_path(alice_home))).returncode != 0
    assert attempt(bob, "cp", str(_nb_path(alice_home)), "/tmp/stolen-" + secrets.token_hex(4)).returncode != 0


def test_students_cannot_read_the_instructors_course(term, klass, users):
    course = klass["course"]
    for role in ("alice", "bob"):
        s = users[role]
        for target in (
            course,
            course / "autograded",
            course / "autograded" / users["alice"] / ASSIGNMENT,
            course / "source" / ASSIGNMENT,
            course / "submitted",
        ):
            assert attempt(s, "ls", str(target)).returncode != 0, f"{s} listed {target}"
        for target in (
            course / "gradebook.db",
            course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
            course / "autograded" / users["alice"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        ):
            assert attempt(s, "cat", str(target)).returncode != 0, f"{s} read {target}"
        assert attempt(s, "touch", str(course / "gradebook.db")).returncode != 0


def test_students_cannot_read_other_submissions(term, klass, users, env_prefix):
    bob = users["bob"]
    inbound = klass["inbound"]
    assert attempt(bob, "ls", str(inbound)).returncode != 0, "a student listed the inbound folder"
    # the only way in would be a name: 72 random bits end every submission's name
    for name in term["inbound_before"]:
        assert len(name.split("+")) == 4 and len(name.split("+")[3]) >= 12, name
    # the collected copies are the instructor's only (checked above); and a student cannot fetch
    # another student's submission through nbgrader itself
    r = student(env_prefix, bob, "list", "--inbound", check=False)
    assert users["alice"] not in (r.stdout + r.stderr)


def test_students_cannot_browse_or_tamper_with_feedback_and_outbound(term, klass, users):
    bob = users["bob"]
    assert attempt(bob, "ls", str(klass["feedback"])).returncode != 0, "a student listed the feedback folder"
    assert attempt(bob, "touch", str(klass["outbound"] / "planted.ipynb")).returncode != 0
    assert attempt(bob, "rm", "-f", str(klass["outbound"] / f"{ASSIGNMENT}.ipynb")).returncode != 0
    assert (klass["outbound"] / f"{ASSIGNMENT}.ipynb").is_file()
    # the course's folder in the exchange belongs to the instructor: no student can claim it
    assert (klass["exchange"] / COURSE_ID).stat().st_uid == pwd.getpwnam(users["prof"]).pw_uid
    assert attempt(bob, "rm", "-rf", str(klass["exchange"] / COURSE_ID / "outbound")).returncode != 0
    assert oct(klass["exchange"].stat().st_mode & 0o7777) == oct(0o777)


def test_formgrader_and_create_assignment_are_off_for_students_on_for_the_instructor(term, users, env_prefix):
    jupyter = env_prefix / "bin" / "jupyter"
    s = classroom.run_as(users["bob"], [jupyter, "server", "extension", "list"], env_prefix=env_prefix)
    p = classroom.run_as(users["prof"], [jupyter, "server", "extension", "list"], env_prefix=env_prefix)
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    s_out, p_out = ansi.sub("", s.stdout + s.stderr), ansi.sub("", p.stdout + p.stderr)
    assert re.search(r"nbgrader\.server_extensions\.formgrader\s+disabled", s_out), s_out
    assert re.search(r"nbgrader\.server_extensions\.assignment_list\s+enabled", s_out), s_out
    assert re.search(r"nbgrader\.server_extensions\.formgrader\s+enabled", p_out), p_out
    s = classroom.run_as(users["bob"], [jupyter, "labextension", "list"], env_prefix=env_prefix)
    p = classroom.run_as(users["prof"], [jupyter, "labextension", "list"], env_prefix=env_prefix)
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in s.stdout + s.stderr, s.stdout + s.stderr
        assert plugin not in p.stdout + p.stderr, p.stdout + p.stderr


# ================================================================================= JupyterHub
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def hub(env_prefix, users, klass):
    password = secrets.token_urlsafe(12)
    state = klass["base"] / "hub"
    port = _free_port()
    env = dict(
        os.environ,
        AELAB_CLASS_ENV=str(env_prefix),
        AELAB_HUB_STATE=str(state),
        AELAB_HUB_PORT=str(port),
        AELAB_HUB_API_PORT=str(_free_port()),
        AELAB_PROXY_API_PORT=str(_free_port()),
        AELAB_HUB_AUTH="dummy",
        AELAB_HUB_DUMMY_PASSWORD=password,
        AELAB_HUB_INSTRUCTORS=users["prof"],
        AELAB_HUB_STUDENTS=",".join(users[r] for r in ("alice", "bob", "carol", "dave")),
    )
    env["PATH"] = f"{env_prefix / 'bin'}:{env['PATH']}"
    state.mkdir(mode=0o700)
    log = open(klass["base"] / "hub.log", "w")  # noqa: SIM115 - the hub writes it until the test stops it
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [env_prefix / "bin" / "jupyterhub", "-f", ROOT / "deploy" / "jupyterhub_config.py"],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/hub/api", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the hub did not start:\n" + (klass["base"] / "hub.log").read_text()[-4000:])
            time.sleep(0.5)
        yield dict(url=url, password=password, t0=t0, log=klass["base"] / "hub.log", proc=proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the hub stops the users' servers and the proxy
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_hub_student_logs_in_fetches_and_submits(hub, klass, users):
    import requests

    dave = users["dave"]
    pw = pwd.getpwnam(dave)
    s = requests.Session()
    login = s.get(f"{hub['url']}/hub/login", timeout=10)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text)
    data = {"username": dave, "password": hub["password"]}
    if xsrf:
        data["_xsrf"] = xsrf.group(1)
    r = s.post(f"{hub['url']}/hub/login?next=", data=data, timeout=30)
    assert r.status_code == 200, r.text[:2000]
    # a wrong password is refused
    bad = requests.Session()
    bad_login = bad.get(f"{hub['url']}/hub/login", timeout=10)
    bad_xsrf = re.search(r'name="_xsrf" value="([^"]+)"', bad_login.text)
    r_bad = bad.post(
        f"{hub['url']}/hub/login",
        data={"username": dave, "password": "wrong", "_xsrf": bad_xsrf.group(1) if bad_xsrf else ""},
        timeout=10,
    )
    assert "/user/" not in r_bad.url and r_bad.status_code in (200, 403)
    base = f"{hub['url']}/user/{dave}"
    deadline = time.monotonic() + 180
    while True:
        r = s.get(f"{base}/lab", timeout=30)
        if r.status_code == 200 and r.url.startswith(f"{base}/lab"):
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{dave}'s server did not start ({r.status_code} {r.url}):\n" + hub["log"].read_text()[-4000:]
            )
        time.sleep(1)
    TIMINGS["hub start to a student's running server"] = time.perf_counter() - hub["t0"]
    # the server runs as dave
    procs = subprocess.run(["ps", "-o", "args=", "-u", str(pw.pw_uid)], capture_output=True, text=True).stdout
    assert "jupyterhub-singleuser" in procs, procs
    # the student's JupyterLab has the formgrader and create-assignment plugins disabled
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', r.text, re.S).group(1))
    disabled = config.get("disabledExtensions")
    disabled = disabled if isinstance(disabled, list) else [k for k, v in (disabled or {}).items() if v]
    assert "@jupyter/nbgrader:formgrader" in disabled and "@jupyter/nbgrader:create-assignment" in disabled, disabled
    assert s.get(f"{base}/formgrader", timeout=30).status_code == 404, "a student reached the formgrader"
    headers = {"X-XSRFToken": s.cookies.get("_xsrf", path=f"/user/{dave}/") or s.cookies.get("_xsrf") or ""}
    # the Assignments tab: the released course is listed
    listed = s.get(f"{base}/assignments", params={"course_id": COURSE_ID}, timeout=60).json()
    assert listed["success"], listed
    assert [(a["course_id"], a["assignment_id"], a["status"]) for a in listed["value"]] == [
        (COURSE_ID, ASSIGNMENT, "released")
    ], listed
    assert s.get(f"{base}/formgraders", timeout=30).status_code == 404, "course_list is an instructor's tool"
    # fetch and submit through the server's REST API
    r = s.post(
        f"{base}/assignments/fetch",
        data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT},
        headers=headers,
        timeout=120,
    )
    assert r.status_code == 200 and r.json()["success"], r.text[:2000]
    assert [a["status"] for a in r.json()["value"]] == ["fetched"], r.json()
    fetched = _nb_path(pw.pw_dir)
    assert fetched.is_file() and fetched.stat().st_uid == pw.pw_uid
    before = {p.name for p in klass["inbound"].iterdir()}
    r = s.post(
        f"{base}/assignments/submit",
        data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT},
        headers=headers,
        timeout=120,
    )
    assert r.status_code == 200 and r.json()["success"], r.text[:2000]
    new = [klass["inbound"] / n for n in {p.name for p in klass["inbound"].iterdir()} - before]
    assert len(new) == 1 and new[0].name.startswith(f"{dave}+{ASSIGNMENT}+"), new
    assert (new[0] / f"{ASSIGNMENT}.ipynb").stat().st_uid == pw.pw_uid
    # and the instructor sees it as a submission to collect
    listing = classroom.run_as(
        users["prof"],
        [ENV_PREFIX / "bin" / "nbgrader", "list", "--inbound"],
        env_prefix=ENV_PREFIX,
        cwd=klass["course"],
    )
    assert dave in listing.stdout + listing.stderr


def test_zz_print_timings():
    """Not a check: the measured times, for the README and the closing note (pytest -s shows them)."""
    for k, v in TIMINGS.items():
        print(f"  {k}: {v:.1f} s")
