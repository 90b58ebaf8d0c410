"""``batch --engine ray``: one Ray task per input, on a local Ray instance or an existing cluster.

Imported only for this engine (Ray is the optional extra ``cluster``). The model file travels once
through Ray's object store and is written once per worker process; inputs and the output folder are
paths that every node must reach (shared storage), and each task writes its input's outputs there
atomically with analyze's own sink, as the local engine does. Tasks whose worker dies are retried by
Ray; an input's own failure is an outcome, not an exception, so it is never retried.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ray

from app.batch_work import SINGLE_THREAD_ENV, Outcome, Task, run_task, single_threaded
from app.errors import InputError

TASK_RETRIES = 2  # new tries for a task whose worker process or node died
IN_FLIGHT_PER_CPU = 2


def run_ray(tasks: list[Task], workers: int | None, address: str | None, model: Path | None) -> Iterator[Outcome]:
    """Outcomes as tasks finish; at most ``IN_FLIGHT_PER_CPU`` tasks per CPU are submitted at a time."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**SINGLE_THREAD_ENV, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        if address:  # an existing cluster: the project is installed on its nodes (README)
            ray.init(address=address, runtime_env={"env_vars": SINGLE_THREAD_ENV}, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    except Exception as exc:  # no cluster at that address, a Ray version mismatch, no room for a local one
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        what = "join the Ray cluster" if address else "start a local Ray instance"
        raise InputError(f"--address {address}" if address else "--engine ray", f"cannot {what}: {first}") from None
    try:
        slots = IN_FLIGHT_PER_CPU * (workers or max(1, int(ray.cluster_resources().get("CPU", 1))))
        model_ref = ray.put((model.name, model.read_bytes())) if model else None  # shipped once
        analyse = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(_ray_task)
        waiting = list(tasks)[::-1]
        running: dict = {}
        try:
            while waiting or running:
                while waiting and len(running) < slots:
                    task = waiting.pop()
                    running[analyse.remote(task, model_ref)] = task
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    task = running.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # its worker died TASK_RETRIES + 1 times
                        yield Outcome(task.index, "failed", error=f"Ray task failed: {type(exc).__name__}: "
                                      f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
    finally:
        ray.shutdown()


def check_address(address: str, seconds: float = 10.0) -> None:
    """InputError when a host:port address accepts no connection (Ray itself would wait for minutes)."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():  # "auto", or a form Ray resolves itself
        return
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise InputError(f"--address {address}", f"no Ray cluster answers there ({exc.strerror or exc})") from None


_model_files: dict[str, Path] = {}  # in a worker process: the shipped model's file, by content
_ready = False  # in a worker process: set up for tasks


def _ray_task(task: Task, model: tuple[str, bytes] | None) -> Outcome:
    global _ready
    if not _ready:  # this worker process's first task: its share of the node, its log file
        from app.logs import setup_logging

        single_threaded()
        setup_logging()
        _ready = True
    return run_task(task, _model_file(model) if model else None)


def _model_file(model: tuple[str, bytes]) -> Path:
    """The shipped model as a file on this node (once per content), under its own name."""
    name, data = model
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _model_files:
        folder = Path(tempfile.gettempdir()) / f"epir-ray-model-{digest[:16]}"
        folder.mkdir(exist_ok=True)
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            tmp = folder / f"{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)
        _model_files[digest] = path
    return _model_files[digest]
