"""The adapters' one failure type for reads: a read returns its complete result or raises ReadError, never a
partial or empty stand-in. Each transport's classifier says what its errors mean (azure/errors, kube/errors)."""

from __future__ import annotations

from shared.core.codes import ReadFailure


class ReadError(Exception):
    """One or more reads failed after every retry; `failures` say which, so the caller can hold what depends on
    them and report each as READ_FAILED."""

    def __init__(self, failures: tuple[ReadFailure, ...] | ReadFailure):
        self.failures = failures if isinstance(failures, tuple) else (failures,)
        super().__init__("; ".join(f"{f.read} of {f.resource_id}: {f.status} {f.error}" for f in self.failures))
