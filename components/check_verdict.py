"""Final gate: the run fails when a smoke check failed, so CI and schedules see it."""

from components._runtime import vllm_component


@vllm_component()
def check_verdict(verdict: str, passed: int, failed: int):
    """Raises unless the smoke tests passed.

    Args:
        verdict: ``passed`` or ``failed`` from the smoke-test step.
        passed: Checks that passed.
        failed: Checks that failed.
    """
    if verdict != "passed":
        raise RuntimeError(f"smoke tests failed: {failed} of {passed + failed} checks; see the smoke-test report")
    print(f"smoke tests passed: {passed} checks")
