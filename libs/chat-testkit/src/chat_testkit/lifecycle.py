"""`with Server() as server:` for the throw-away servers: started on entry, and removed again
on exit or when starting fails half-way (a data directory or process left behind)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class Lifecycle(ABC):
    @abstractmethod
    def start(self) -> object:
        """Bring the server up; may raise half-way, after which cleanup() still runs."""

    @abstractmethod
    def cleanup(self) -> None:
        """Stop it and remove what it left behind; safe to call on a half-started one."""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
