"""Share a list of independent tasks between forked worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import TypeVar

Result = TypeVar("Result")

# What the forked workers run: set before the pool forks, so they inherit it (with its closures
# and the data they reach) instead of receiving it pickled.
_task: Callable[[int, int], object] | None = None


@contextmanager
def forked_workers(count: int) -> Iterator[Executor]:
    """`count` worker processes forked from this one: they inherit its memory as it is when
    the first task is submitted, so tasks can reach module globals set just before.

    Not multiprocessing.Pool: when a task raised (a template error), leaving its `with`
    terminates the pool, and that deadlocks now and then (a worker blocked reading the task
    queue holds the lock that terminating needs). Here, on any error, the tasks not started
    are cancelled and those running finish.
    """
    import multiprocessing  # only builds large enough to share out need it
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def fork_map(task: Callable[[int, int], Result], total: int, workers: int,
             chunk: int) -> Iterator[Result]:
    """task(start, end) for consecutive ranges covering [0, total), in order.

    Only results cross a pipe; the caller decides whether the work is large enough to pay
    for forking (tens of milliseconds and a copy-on-write share of its memory).
    """
    global _task
    ranges = [(start, min(start + chunk, total)) for start in range(0, total, chunk)]
    if workers <= 1 or len(ranges) <= 1:
        yield from (task(*bounds) for bounds in ranges)
        return
    _task = task
    try:
        with forked_workers(min(workers, len(ranges))) as pool:
            yield from pool.map(_run, ranges)
    finally:
        _task = None


def _run(bounds: tuple[int, int]) -> object:
    assert _task is not None
    return _task(*bounds)
