"""Place and deploy: walk the placements in order, upload → endpoint → deploy, until one has GPUs.

A KFP DAG cannot loop, so one step walks the ladder (``vllm_vertex.placements``). Per candidate:

- its quota is read again first: one short since the check-quota step is skipped, saying why;
- the Model is uploaded, the endpoint created and the model deployed in the candidate's region
  (``vllm_vertex.cloud.vertex``);
- a deploy that finds no GPUs (a stockout, RESOURCE_EXHAUSTED, or quota used up since the check) is
  "try the next": what this attempt created in its region (found by the run label there; earlier
  attempts there are already gone) is removed, then the next candidate is tried;
- any other error (403, a bad request, the container's own crash) stops the walk at once, and the
  run's exit handler cleans up as the teardown policy says.

The whole walk is bounded by ``placement_timeout_seconds``; each deploy by ``deploy_timeout_seconds``
and by what is left of that bound.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vllm_vertex import clock, placements, textsafe
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import DeployError, ResourcesLeft

__all__ = ["Attempt", "Placed", "is_no_capacity", "place_and_deploy"]

# Diagnosis keys (``vllm_vertex.diagnosis``) that mean "no GPUs here now": try the next placement.
NO_CAPACITY = ("stockout", "quota_exceeded")


@dataclass
class Attempt:
    """One candidate tried (or skipped): what happened, how long it took, what it cost."""

    candidate: int
    where: str
    region: str
    outcome: str  # deployed | stockout | quota_exceeded | skipped | failed | timeout
    error: str = ""
    minutes: float = 0.0
    cost: str = ""

    def line(self) -> str:
        """One line for logs and reports."""
        why = f": {self.error}" if self.error else ""
        return f"{self.candidate}. {self.where}: {self.outcome} after {self.minutes:.1f} min ({self.cost}){why}"


@dataclass
class Placed:
    """Where the deploy landed: the Model, the endpoint, the candidate, and every attempt."""

    model_name: str
    endpoint: Any  # aiplatform_v1.Endpoint
    candidate: DeploymentConfig
    attempts: list[Attempt] = field(default_factory=list)

    def placement_json(self) -> str:
        """The winning candidate: its position, description and the fields a placement sets."""
        c = self.candidate
        won = next(a for a in self.attempts if a.outcome == "deployed")
        return json.dumps({"candidate": won.candidate, "where": won.where, "region": c.region,
                           "machine_type": c.machine_type, "accelerator_type": c.accelerator_type,
                           "accelerator_count": c.accelerator_count, "spot": c.spot,
                           "reservation_affinity": c.reservation_affinity, "reservation_name": c.reservation_name,
                           "flex_start_hours": c.flex_start_hours}, sort_keys=True)


def attempts_json(attempts: list[Attempt]) -> str:
    """The attempts as a JSON list."""
    return json.dumps([dataclasses.asdict(a) for a in attempts])


def is_no_capacity(err: BaseException) -> str:
    """The diagnosis key when ``err`` means "no GPUs here now" (try the next placement), else ""."""
    from vllm_vertex.diagnosis import diagnose

    if isinstance(err, DeployError):
        return err.cause if err.cause in NO_CAPACITY else ""
    from google.api_core import exceptions

    if isinstance(err, exceptions.ResourceExhausted | exceptions.TooManyRequests):  # refused at the request
        found = diagnose(str(getattr(err, "message", "") or err))  # a stockout or GPU quota, not a request rate
        return found.key if found and found.key in NO_CAPACITY and "per minute" not in str(err) else ""
    return ""


def _quota_skip(c: DeploymentConfig) -> str:
    """Why ``c``'s quota rules it out now, or "" (unreadable quota is not a reason to skip)."""
    from vllm_vertex.cloud.quotas import read_quotas

    checks, _ = read_quotas(c)
    return "; ".join(q.message(c.region) for q in checks if q.blocks)  # an unverified quota never skips


def _cost(c: DeploymentConfig, deployed: bool) -> str:
    from vllm_vertex import pricing

    rate = pricing.rate_for(c.machine_type, max(1, c.min_replica_count), c.spot)
    if not deployed:
        return "no replica served: nothing billed for GPUs"
    return f"from now on {rate.text()}"


def place_and_deploy(
    cfg: DeploymentConfig,
    run_label: str,
    hf_token: str | None,
    log: Callable[[str], None] = print,
) -> Placed:
    """Tries each placement in order until one deploys; raises ``DeployError`` naming every attempt otherwise.

    Args:
        cfg: The validated configuration (its ``placements`` are the ladder).
        run_label: The run's label value; every resource carries it.
        hf_token: The Hugging Face token for the Model's environment (None with staged or public weights).
        log: Where progress goes.
    """
    from vllm_vertex.cloud import vertex
    from vllm_vertex.cloud.teardown import teardown_run

    ladder = placements.candidates(cfg)
    deadline = clock.monotonic() + cfg.placement_timeout_seconds
    attempts: list[Attempt] = []
    for i, c in enumerate(ladder, start=1):
        where = placements.describe(c)
        left = deadline - clock.monotonic()
        if left <= 0:
            attempts.append(Attempt(i, where, c.region, "timeout", "placement_timeout_seconds used up", 0.0,
                                    "nothing created"))
            break
        if len(ladder) > 1:
            log(f"placement {i}/{len(ladder)}: {where}")
            skip = _quota_skip(c)
            if skip:
                attempts.append(Attempt(i, where, c.region, "skipped", f"quota: {skip}", 0.0, "nothing created"))
                log(attempts[-1].line())
                continue
        c = dataclasses.replace(c, deploy_timeout_seconds=max(1, int(min(c.deploy_timeout_seconds, left))))
        start = clock.monotonic()
        try:
            model_name = vertex.upload_model(c, run_label, hf_token)
            log(f"uploaded {model_name}")
            endpoint = vertex.create_endpoint(c, run_label)
            log(f"created {endpoint.name}")
            vertex.deploy_model(c, model_name, endpoint.name, run_label, log)
        except Exception as err:
            if len(ladder) == 1:  # no placements: the error as it is; the exit handler cleans up by policy
                raise
            minutes = (clock.monotonic() - start) / 60
            cause = is_no_capacity(err)
            text = _said(err)
            attempts.append(Attempt(i, where, c.region, cause or "failed", text, minutes, _cost(c, False)))
            log(attempts[-1].line())
            if not cause:  # permanent: the exit handler cleans up as the teardown policy says
                raise _failed(err, attempts, stopped=True) from None
            log(f"no GPUs for placement {i}; removing what it created in {c.region}")
            report = teardown_run(c.project, c.region, run_label, log, wait_seconds=900)
            if not report.clean:
                raise ResourcesLeft(f"placement {i} ({where}) found no GPUs and its resources could not all be "
                                    f"removed, so no other placement is tried:\n{report.summary()}") from None
            if i == len(ladder):
                raise _failed(err, attempts, stopped=False) from None
            continue
        minutes = (clock.monotonic() - start) / 60
        attempts.append(Attempt(i, where, c.region, "deployed", "", minutes, _cost(c, True)))
        log(attempts[-1].line())
        return Placed(model_name, endpoint, c, attempts)
    raise _failed(None, attempts, stopped=False)


def _said(err: BaseException) -> str:
    """The error's first line, with its HTTP code and without api_core's ``POST <url>:`` prefix."""
    from vllm_vertex.cloud.teardown import _clean

    said = _clean(str(getattr(err, "message", None) or err))
    code = getattr(err, "code", None)
    text = textsafe.plain(f"{code} {said}" if isinstance(code, int) else said, 400).split("\n")[0]
    return text or type(err).__name__


def _failed(err: BaseException | None, attempts: list[Attempt], stopped: bool) -> DeployError:
    """The step's error: the last error (whole), then every attempt, one line each."""
    lines = "\n".join(f"- {a.line()}" for a in attempts)
    if err is None:
        return DeployError(f"no placement deployed; every attempt:\n{lines}", "stockout")
    head = str(err) if isinstance(err, DeployError) else f"{type(err).__name__}: {_said(err)}"
    how = ("Stopped at a permanent error: the remaining placements were not tried" if stopped
           else "No placement had GPUs")
    return DeployError(textsafe.plain(f"{head}\n\n{how}. Every attempt:\n{lines}", 8000),
                       getattr(err, "cause", ""))
