"""Work done in forked processes: a list of independent tasks shared between workers, or one
task run beside the caller."""

from __future__ import annotations

import os
import pickle
import select
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # the pool is imported when workers are made: a rebuild may make none
    from concurrent.futures import Executor

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


class ChildFailed(Exception):
    """The forked child gave no answer: no fork here, or it failed."""


class InChild(Generic[Result]):
    """task() run in a forked child while this process goes on; `result()` waits for it.

    For work that overlaps other work of the caller on a two-core machine: a thread would
    not do, the two would queue for the GIL. The child sees the caller's memory as it is at
    the fork; only the answer crosses a pipe. The caller decides what a failure means
    (ChildFailed from result()): run the task itself, or do without the answer.
    """

    def __init__(self, task: Callable[[], Result]) -> None:
        self._pid = 0
        self._pipe = -1
        read, write = os.pipe()
        try:
            pid = os.fork()
        except (AttributeError, OSError):
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: answers through the pipe, then leaves without clean-up
            code = 1
            try:
                os.close(read)
                answer = pickle.dumps(task(), pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(answer)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self._pid, self._pipe = pid, read

    @property
    def forked(self) -> bool:
        """Whether the task runs in a child (not if the fork failed, or once answered)."""
        return self._pid != 0

    def done(self) -> bool:
        """Whether the child has answered or died (result() then does not wait)."""
        if not self._pid:
            return True
        readable, _, _ = select.select([self._pipe], [], [], 0)
        return bool(readable)

    def stop(self) -> None:
        """End the child without its answer (no longer wanted: the caller failed)."""
        if not self._pid:
            return
        pid, self._pid = self._pid, 0
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(self._pipe)

    def result(self) -> Result:
        if not self._pid:
            raise ChildFailed
        pid, self._pid = self._pid, 0
        with os.fdopen(self._pipe, "rb") as pipe:
            data = pipe.read()  # all of it before waiting: a full pipe would block the child
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise ChildFailed
        try:
            return pickle.loads(data)  # type: ignore[no-any-return]
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ChildFailed from exc


class Followed(Generic[Result]):
    """What a task run by InChildFollowed gives: its answer, and the function that makes, in
    the child once the answer is sent, the bytes that follow it (None: none follow)."""

    def __init__(self, answer: Result, then: Callable[[], bytes] | None = None) -> None:
        self.answer, self.then = answer, then


class InChildFollowed(Generic[Result]):
    """InChild for a task whose answer is followed by bytes that take long to make: the
    child sends the answer first, then makes the bytes and sends them through a pipe of
    their own. The caller goes on once it has the answer (`answer()`); the bytes are read
    where they are needed (`following()`), here or in a process forked after (which this
    one then lets go of them for: `hand_over()`). `reap()` waits for the child."""

    def __init__(self, task: Callable[[], Followed[Result]]) -> None:
        self._pid, self._answer_pipe, self._then_pipe = 0, -1, -1
        pipes = [*os.pipe(), *os.pipe()]  # answer: read, write; then: read, write
        try:
            pid = os.fork()
        except (AttributeError, OSError):
            for end in pipes:
                os.close(end)
            return
        if pid == 0:  # the child: answers, then makes what follows; leaves without clean-up
            code = 1
            try:
                os.close(pipes[0])
                os.close(pipes[2])
                followed = task()
                with os.fdopen(pipes[1], "wb") as pipe:
                    pipe.write(pickle.dumps(followed.answer, pickle.HIGHEST_PROTOCOL))
                data = followed.then() if followed.then is not None else b""
                with os.fdopen(pipes[3], "wb") as pipe:  # its length first: a child that
                    pipe.write(len(data).to_bytes(8, "little"))  # died midway sends less
                    pipe.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(pipes[1])
        os.close(pipes[3])
        self._pid, self._answer_pipe, self._then_pipe = pid, pipes[0], pipes[2]

    def answer(self) -> Result:
        """The task's answer (ChildFailed: no fork, or the child failed before it)."""
        if self._answer_pipe < 0:
            raise ChildFailed
        pipe, self._answer_pipe = self._answer_pipe, -1
        data = _read_all(pipe)
        try:
            return pickle.loads(data)  # type: ignore[no-any-return]
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ChildFailed from exc

    def following(self) -> bytes:
        """The bytes that follow the answer, all of them (ChildFailed: not all came)."""
        if self._then_pipe < 0:
            raise ChildFailed
        pipe, self._then_pipe = self._then_pipe, -1
        data = _read_all(pipe)
        if len(data) < 8 or int.from_bytes(data[:8], "little") != len(data) - 8:
            raise ChildFailed
        return data[8:]

    def hand_over(self) -> None:
        """Let go of the bytes that follow: a process forked since reads them (following())."""
        if self._then_pipe >= 0:
            os.close(self._then_pipe)
            self._then_pipe = -1

    def stop(self) -> None:
        """End the child without what it has not sent (no longer wanted)."""
        if self._pid:
            with suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self.reap()

    def reap(self) -> None:
        """Wait for the child, once what it sends is read or let go of (a child still
        sending what no process reads is told so by its pipe, and leaves)."""
        for name in ("_answer_pipe", "_then_pipe"):
            if getattr(self, name) >= 0:
                os.close(getattr(self, name))
                setattr(self, name, -1)
        if self._pid:
            pid, self._pid = self._pid, 0
            os.waitpid(pid, 0)


def _read_all(pipe: int) -> bytes:
    """What a pipe holds until its writer closes it; the pipe closed after."""
    with os.fdopen(pipe, "rb") as reader:
        return reader.read()
