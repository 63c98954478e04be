"""The per-address failure throttle, on a fake clock."""

from __future__ import annotations

from app.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_failure_past_the_limit_waits_until_the_window_ends() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=20, window=10.0, clock=clock)
    assert [throttle.failed("10.0.0.1") for _ in range(20)] == [0] * 20
    clock.now += 2.5
    assert throttle.failed("10.0.0.1") == 8  # the window opened 2.5 s ago: 7.5 s left, rounded up
    assert throttle.failed("10.0.0.2") == 0  # other addresses are not affected
    clock.now += 7.4
    assert throttle.failed("10.0.0.1") == 1
    clock.now += 0.1
    assert throttle.failed("10.0.0.1") == 0  # a new window


def test_memory_is_bounded_by_the_number_of_addresses() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=2, window=10.0, max_addresses=100, clock=clock)
    for i in range(10_000):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) == 100
    # The most recent addresses are the ones remembered.
    last = "10.0.39.15"  # i = 9999
    assert throttle.failed(last) == 0 and throttle.failed(last) == 10
