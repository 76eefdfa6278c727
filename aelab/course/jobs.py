"""Where grading jobs run: a pool of local worker processes, or a Dask distributed cluster.

Both take :class:`aelab.course.engine.JobSpec` objects (plain data: the submission's bytes, the
assignment, its source notebook) and give back :class:`aelab.course.engine.JobResult` objects; no
state is shared. A job whose worker dies is rerun once elsewhere, then recorded as failed, and the
others go on. Each local worker has a slot of its own, so two jobs never share a sandbox uid.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .engine import JobResult, JobSpec, run_job

__all__ = ["run_local", "run_dask", "run_jobs", "failed_result"]

_SLOT: int | None = None


def _init_worker(slots) -> None:
    global _SLOT
    _SLOT = slots.get()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def _run_in_worker(spec: JobSpec) -> dict:
    from dataclasses import replace

    if _SLOT is not None:
        spec = replace(spec, slot=_SLOT)
    return run_job(spec).to_dict()


def failed_result(spec: JobSpec, reason: str) -> JobResult:
    """The record of a job that could not run at all: every graded cell at 0, with the reason."""
    import nbformat

    from .engine import CellResult, _meta

    source = nbformat.reads(spec.source.decode("utf-8"), as_version=4)
    cells = [
        CellResult(_meta(c)["grade_id"], "", float(_meta(c).get("points", 0)), 0.0, False)
        for c in source.cells
        if _meta(c).get("grade") and not _meta(c).get("solution")
    ]
    return JobResult(
        spec.assignment, "engine error", [reason], cells, "", 0.0, sum(c.points for c in cells), 0.0, spec.sandbox
    )


def run_local(specs: Iterable[tuple[object, JobSpec]], workers: int = 2) -> Iterator[tuple[object, JobResult]]:
    """Run ``(key, spec)`` jobs on ``workers`` local processes; yield ``(key, result)`` as they finish.

    When a worker process dies, the pool is rebuilt and the jobs that had not finished run again;
    a job that was running when workers died twice is recorded as failed.
    """
    pending = [(key, spec, 0) for key, spec in specs]
    ctx = multiprocessing.get_context("spawn")
    while pending:
        slots = ctx.Manager().Queue()
        for i in range(workers):
            slots.put(i)
        unfinished = []
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(slots,)) as pool:
            futures = {pool.submit(_run_in_worker, spec): (key, spec, tries) for key, spec, tries in pending}
            while futures:
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    key, spec, tries = futures.pop(fut)
                    try:
                        result = JobResult.from_dict(fut.result())
                    except BrokenProcessPool:
                        unfinished.append((key, spec, tries + 1))
                        continue
                    except Exception as exc:  # noqa: BLE001 - one job's failure is recorded, not raised
                        result = failed_result(spec, f"{type(exc).__name__}: {exc}")
                    yield key, result
        pending = []
        for key, spec, tries in unfinished:
            if tries >= 2:
                yield key, failed_result(spec, "its grading worker died twice while it ran")
            else:
                pending.append((key, spec, tries))


def run_dask(specs: Iterable[tuple[object, JobSpec]], scheduler: str) -> Iterator[tuple[object, JobResult]]:
    """Run the jobs on a Dask distributed cluster at ``scheduler`` (``tcp://HOST:PORT``).

    Jobs go out as plain data; results come back as plain data. Dask reruns the task of a worker
    that dies (``allowed_failures``); each job is yielded exactly once.
    """
    from distributed import Client, as_completed

    client = Client(scheduler, timeout="30s")
    try:
        futures = {}
        for i, (key, spec) in enumerate(specs):
            fut = client.submit(_run_on_dask, spec, key=f"aelab-job-{i}-{os.getpid()}", retries=2, pure=False)
            futures[fut] = (key, spec)
        for fut in as_completed(list(futures)):
            key, spec = futures[fut]
            try:
                yield key, JobResult.from_dict(fut.result())
            except Exception as exc:  # noqa: BLE001
                yield key, failed_result(spec, f"{type(exc).__name__}: {exc}")
    finally:
        client.close()


def _run_on_dask(spec: JobSpec) -> dict:
    """One job on a Dask worker (the engine claims a sandbox uid no other job of the machine holds)."""
    from dataclasses import replace

    return run_job(replace(spec, slot=100)).to_dict()


def run_jobs(
    specs: list[tuple[object, JobSpec]],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    on_result: Callable[[object, JobResult], None] | None = None,
) -> dict:
    """Every job's result by key, locally or on Dask; ``on_result`` sees each as it comes."""
    results = {}
    stream = run_dask(specs, scheduler) if scheduler else run_local(specs, workers)
    for key, result in stream:
        results[key] = result
        if on_result:
            on_result(key, result)
    return results
