"""Grading on a real Dask cluster on 127.0.0.1: the same grades as local workers, a killed worker loses nothing.

The test starts ``dask scheduler`` and two ``dask worker`` processes, grades a small class of
lab-01 submissions through ``grade_class(scheduler=...)``, kills one worker while the class is
graded, and compares with the same class graded by local workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from aelab.course import grading
from aelab.course.sandbox import detect

pytest.importorskip("distributed")

A = "01_autoencoder_basics"
BIN = Path(sys.executable).parent


def _class(folder: Path) -> dict[str, str]:
    from test_attacks import RELEASE, _notebook

    notebooks = {
        "ann_right": _notebook(right=True),
        "ben_wrong": _notebook(),
        "cat_right": _notebook(right=True),
        "dan_blank": nbformat.read(RELEASE, as_version=4),
        "eve_wrong": _notebook(),
        "fay_right": _notebook(right=True),
    }
    for student, nb in notebooks.items():
        (folder / student / A).mkdir(parents=True)
        nbformat.write(nb, folder / student / A / f"{A}.ipynb")
    return notebooks


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "CI": ""}
    )


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    info = tmp / "scheduler.json"
    procs = [
        _start(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            tmp / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 120
        while not (info.exists() and info.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for name in ("w0", "w1"):
            procs.append(
                _start(
                    [
                        str(BIN / "dask"),
                        "worker",
                        address,
                        "--name",
                        name,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--memory-limit",
                        "0",
                    ],
                    tmp / f"{name}.log",
                )
            )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs
    finally:
        for proc in procs:
            _stop(proc)


def test_dask_grades_like_local_workers_and_survives_a_killed_worker(cluster, tmp_path):
    mode, why = detect()
    if mode == "none":
        pytest.skip(f"no sandbox here: {why}")
    address, procs = cluster
    submitted = tmp_path / "submitted"
    students = _class(submitted)
    killed = []

    def kill_one_worker(line: str) -> None:
        if not killed and line.strip():  # after the first result: both workers hold a job
            killed.append(line)
            _stop(procs[1])

    remote = grading.grade_class(
        submitted, tmp_path / "dask", assignments=[A], scheduler=address, timeout=20, log=kill_one_worker
    )
    local = grading.grade_class(
        submitted, tmp_path / "local", assignments=[A], workers=2, timeout=20, log=lambda *_: None
    )
    assert killed, "the worker was never killed"
    assert sorted(o.student for o in remote) == sorted(students), "a job was lost or counted twice"
    by_remote = {o.student: (o.score, o.status, [(c.grade_id, c.score) for c in o.cells]) for o in remote}
    by_local = {o.student: (o.score, o.status, [(c.grade_id, c.score) for c in o.cells]) for o in local}
    assert by_remote == by_local
    assert {o.student for o in remote if o.score == o.max_score} == {"ann_right", "cat_right", "fay_right"}
    assert all(o.status == "graded" for o in remote), [(o.student, o.status, o.detail) for o in remote]
    rows = (tmp_path / "dask" / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(students)
