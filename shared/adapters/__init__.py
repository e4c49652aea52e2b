"""Adapters: I/O only. They return core types or raise typed failures, never a partial result."""
