"""An injected clock for the tests that wait for merges: ``sleep`` advances
it and runs the next step (what CI, a reviewer or a human does meanwhile),
so waiting takes no real time."""

from __future__ import annotations

from collections.abc import Callable

from prplan.run.waiting import Waiter


class FakeTime:
    def __init__(self, *steps: Callable[[], None]) -> None:
        self.now = 0.0
        self.steps = list(steps)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.steps:
            self.steps.pop(0)()

    def waiter(self) -> Waiter:
        return Waiter(sleep=self.sleep, clock=lambda: self.now)
