"""CPython 3.11's AST builder is not re-entrant: an `ast.parse` run by a garbage-collector
finalizer inside another `ast.parse` raises SystemError "AST constructor recursion depth
mismatch" in the outer one. pytest's unraisable-exception hook formats tracebacks, and 3.11's
traceback formatting calls `ast.parse`; so a leaked object whose `__del__` fails, collected
while Hypothesis reads a test's source, failed tests/faults/test_state_machine.py (CI run of
6796d6d). The suite runs without that hook (`-p no:unraisableexception` in pyproject.toml):
Python's default hook prints in C, without building Python AST objects."""

from __future__ import annotations

import ast
import gc
import inspect


class _FailsWhenCollected:
    def __init__(self) -> None:
        self.cycle = self  # only the cyclic collector frees it, at an arbitrary allocation

    def __del__(self) -> None:
        raise RuntimeError("Event loop is closed")  # what leaked asyncio objects raise


def test_unraisable_exceptions_during_ast_parse_do_not_break_it() -> None:
    """Finalizers that fail while ast.parse runs leave it working (50 parses, GC forced often)."""
    source = inspect.getsource(ast)
    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        for _ in range(50):
            for _ in range(100):
                _FailsWhenCollected()
            ast.parse(source)
    finally:
        gc.set_threshold(*threshold)
        gc.collect()
