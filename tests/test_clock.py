"""Product code waits by ``vllm_vertex.clock``: api_core's retry and polling included, in virtual time here."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from vllm_vertex import clock
from vllm_vertex.cloud import backoff, clients


def _failing(*errors: Exception):
    calls = []

    def call():
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return call, calls


def test_the_virtual_clock_is_the_process_clock_during_a_test(virtual_clock):
    assert clock.current() is virtual_clock
    before = clock.monotonic()
    clock.sleep(90)
    assert clock.monotonic() - before == 90 and virtual_clock.slept == [90]


def test_use_puts_the_previous_clock_back():
    outer = clock.current()
    with clock.use(clock.SystemClock()) as inner:
        assert clock.current() is inner
    assert clock.current() is outer


def test_transient_errors_are_retried_with_growing_waits_in_virtual_time(virtual_clock):
    call, calls = _failing(exceptions.ServiceUnavailable("busy"), exceptions.TooManyRequests("slow down"))
    assert clients.retry(initial=4.0)(call)() == "ok"
    assert len(calls) == 3 and len(virtual_clock.slept) == 2
    assert 0 <= virtual_clock.slept[0] <= 4.0 and 0 <= virtual_clock.slept[1] <= 8.0  # api_core's full jitter


def test_an_error_that_is_not_retried_is_raised_at_once(virtual_clock):
    call, calls = _failing(exceptions.InternalServerError("boom"))
    with pytest.raises(exceptions.InternalServerError, match="boom"):
        clients.retry(idempotent=False)(call)()
    assert len(calls) == 1 and virtual_clock.slept == []


def test_the_budget_is_virtual_time_and_ends_in_api_cores_retry_error(virtual_clock):
    call, calls = _failing(*[exceptions.ServiceUnavailable("down")] * 1000)
    start = clock.monotonic()
    with pytest.raises(exceptions.RetryError, match="Timeout of 60.0s exceeded") as info:
        clients.retry(timeout=60)(call)()
    assert isinstance(info.value.cause, exceptions.ServiceUnavailable)
    assert clock.monotonic() - start <= 60 and len(calls) == len(virtual_clock.slept) + 1 > 2


def test_copies_with_another_timeout_keep_the_clock():
    polling = backoff.polling()
    assert isinstance(polling.with_timeout(30), backoff.Retry) and polling.with_timeout(30).timeout == 30
