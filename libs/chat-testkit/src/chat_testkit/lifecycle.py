"""`with Server() as server:` for the throw-away servers: started on entry, and removed again
on exit or when starting fails half-way (a data directory or process left behind)."""

from __future__ import annotations

from typing import Self


class Lifecycle:
    def start(self) -> object:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
