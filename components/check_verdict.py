"""Final gate: the run fails when a smoke check failed, so CI and schedules see it."""

from components._runtime import vllm_component


@vllm_component()
def check_verdict(verdict: str, passed: int, failed: int, failures: str = ""):
    """Raises unless the smoke tests passed.

    Args:
        verdict: ``passed`` or ``failed`` from the smoke-test step.
        passed: Checks that passed.
        failed: Checks that failed.
        failures: The failing checks by name and the first error, from the smoke-test step.
    """
    from vllm_vertex.numbers import whole_number

    passed, failed = whole_number("passed", passed), whole_number("failed", failed)
    if verdict != "passed":
        what = failures or f"{failed} of {passed + failed} checks"
        raise RuntimeError(f"smoke tests failed: {what}. The smoke-test report has every answer and error.")
    print(f"smoke tests passed: {passed} checks")
