"""`SC_BENCH_PROFILE=<directory>`: a measured phase runs under cProfile and leaves `<name>.prof` there (read it with
`python -m pstats`). Where the CPU goes when a phase is further from its floor than ARM's buckets explain."""

from __future__ import annotations

import contextlib
import cProfile
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def profiled(name: str) -> Iterator[None]:
    directory = os.environ.get("SC_BENCH_PROFILE")
    if not directory:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        Path(directory).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(Path(directory, f"{name}.prof"))
