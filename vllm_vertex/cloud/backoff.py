"""api_core's ``Retry``, waiting by ``vllm_vertex.clock`` so that tests run backoff and polling in virtual time.

api_core's ``retry_target`` sleeps with ``time.sleep`` and measures its deadline with ``time.monotonic``; this
``Retry`` keeps api_core's schedule (``exponential_sleep_generator``) and errors (``build_retry_error``) and
waits by the process's clock instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

from google.api_core import retry as api_retry
from google.api_core.future import polling as api_polling

from vllm_vertex import clock

__all__ = ["Retry", "polling"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Retry(api_retry.Retry):
    """``google.api_core.retry.Retry`` whose waits and deadline go through ``vllm_vertex.clock``.

    Used wherever api_core takes a retry or a polling policy (GAPIC calls, operation futures); ``with_timeout``
    and the other ``with_*`` copies keep the class.
    """

    def __call__(self, func: Callable[_P, _R], on_error: Callable[[Exception], Any] | None = None) -> Callable[_P, _R]:
        on_error = self._on_error or on_error

        @functools.wraps(func)
        def retried(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            deadline = None if self._timeout is None else clock.monotonic() + self._timeout
            delays = api_retry.exponential_sleep_generator(self._initial, self._maximum, self._multiplier)
            errors: list[Exception] = []
            while True:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the predicate decides, as in api_core
                    errors.append(exc)
                    if not self._predicate(exc):
                        _give_up(errors, api_retry.RetryFailureReason.NON_RETRYABLE_ERROR, self._timeout)
                    if on_error is not None:
                        on_error(exc)
                    delay = next(delays)
                    if deadline is not None and clock.monotonic() + delay > deadline:
                        _give_up(errors, api_retry.RetryFailureReason.TIMEOUT, self._timeout)
                clock.sleep(delay)

        return retried



def polling() -> Retry:
    """An operation future's polling policy: api_core's ``DEFAULT_POLLING`` (1 s, ×1.5, up to 20 s; 900 s)."""
    return Retry(predicate=api_polling.POLLING_PREDICATE, initial=1.0, maximum=20.0, multiplier=1.5, timeout=900)

def _give_up(errors: list[Exception], reason: api_retry.RetryFailureReason, timeout: float | None) -> NoReturn:
    """Raises what api_core raises: the last error when it is not retryable, ``RetryError`` at the deadline."""
    final, source = api_retry.build_retry_error(errors, reason, timeout)
    raise final from source
