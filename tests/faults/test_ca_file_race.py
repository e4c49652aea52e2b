"""Clusters' CA certificates are handed to the TLS stack as files, shared by every thread and process of an instance
(and by the CLI beside it). A reader must never load one half-written: an empty CA file fails the handshake with
NO_CERTIFICATE_OR_CRL_FOUND, which a run reports as a failed read of a healthy cluster."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.adapters.kube import client


def test_a_ca_file_is_never_seen_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "_CA_DIR", tmp_path)
    pems = [(f"-----BEGIN CERTIFICATE-----\n{i:04d}" + "A" * 60_000 + "\n-----END CERTIFICATE-----\n").encode()
            for i in range(40)]  # fmt: skip
    seen_partial: list[int] = []
    start = threading.Barrier(8)

    def writer_and_reader() -> None:
        start.wait()
        for pem in pems:
            path = client._write_ca(pem)
            if path.read_bytes() != pem:
                seen_partial.append(len(path.read_bytes()))

    threads = [threading.Thread(target=writer_and_reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen_partial == []
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pem"] * len(pems)  # no temporary file left behind
