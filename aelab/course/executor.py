"""Runs inside the sandbox: execute a notebook cell by cell and send each cell's outputs to the engine.

``python -m aelab.course.executor NOTEBOOK SOCKET CELL_TIMEOUT``. The outputs are the learner's
(untrusted, shown in feedback only); the engine takes the grades from its own checks. Outputs are
cut to a size a feedback page can hold. If the kernel dies, the cells after it are reported as not
run and the executor ends; if the executor itself is killed, the engine keeps what it already got.
"""

from __future__ import annotations

import json
import socket
import sys
import time

MAX_TEXT = 200_000  # characters of one text output
MAX_DATA = 2_000_000  # characters of one rich output (an image as base64)
MAX_CELL = 4_000_000  # bytes of one cell's outputs as JSON (the engine reads at most 16 MiB per message)


def _trim(outputs: list) -> list:
    out, total = [], 0
    for o in outputs:
        o = dict(o)
        if o.get("output_type") == "stream":
            text = o.get("text", "")
            if len(text) > MAX_TEXT:
                o["text"] = text[:MAX_TEXT] + f"\n... [{len(text) - MAX_TEXT:,} more characters cut]\n"
        elif "data" in o:
            data = {}
            for mime, value in (o.get("data") or {}).items():
                text = value if isinstance(value, str) else str(value)
                if len(text) <= MAX_DATA:
                    data[mime] = value
            if not data:
                data = {"text/plain": "[an output too large for the feedback was left out]"}
            o["data"] = data
        elif o.get("output_type") == "error":
            o["traceback"] = [str(t)[:MAX_TEXT] for t in o.get("traceback", [])[:50]]
            o["evalue"] = str(o.get("evalue", ""))[:MAX_TEXT]
        size = len(json.dumps(o))  # as it travels: escapes of non-ASCII text count
        if total + size > MAX_CELL:
            out.append({"output_type": "stream", "name": "stdout", "text": "[further output of this cell cut]\n"})
            break
        total += size
        out.append(o)
    return out


STOP_SECONDS = 10  # how long a cell past its time limit has to stop once interrupted


def _interrupted(client, index: int) -> bool:
    """Interrupt the kernel after a cell's time limit; True once it answers again, else kill it.

    A cell that ignores the interrupt (a handler for SIGINT, a long call in C) would keep the kernel
    busy for good: it is killed, and the cells after it do not run."""
    import nbformat
    from jupyter_core.utils import run_sync

    try:
        run_sync(client.km.interrupt_kernel)()
        timeout, client.timeout = client.timeout, STOP_SECONDS
        try:
            client.execute_cell(nbformat.v4.new_code_cell("pass"), index)
        finally:
            client.timeout = timeout
        return True
    except Exception:  # noqa: BLE001 - it did not stop (or died): it is killed
        try:
            run_sync(client.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001
            pass
        return False


def main(argv: list[str] | None = None) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from . import frames as wire

    notebook, sock_path, timeout = (argv or sys.argv[1:])[:3]
    nb = nbformat.read(notebook, as_version=4)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    wire.send(sock, {"op": "hello", "role": "executor"})
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        allow_errors=True,
        kernel_name="python3",
        interrupt_on_timeout=False,
        resources={"metadata": {"path": "/tmp"}},
    )
    status = "done"
    started = time.perf_counter()
    with client.setup_kernel():
        wire.send(sock, {"op": "kernel", "seconds": round(time.perf_counter() - started, 3)})
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            note = ""
            started = time.perf_counter()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                note = "timeout"
                if not _interrupted(client, index):
                    status = "kernel stuck"
            except DeadKernelError:
                note = "kernel died"
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                note = f"{type(exc).__name__}: {exc}"[:500]
            message = {
                "op": "cell",
                "index": index,
                "execution_count": cell.get("execution_count"),
                "outputs": _trim(cell.get("outputs", [])),
                "note": note,
                "seconds": round(time.perf_counter() - started, 3),
            }
            wire.send(sock, message)
            if note == "kernel died":
                status = "kernel died"
                break
            if status == "kernel stuck":
                break
    wire.send(sock, {"op": "done", "status": status})
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
