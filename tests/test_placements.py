"""Placements (issue 21): validation named by placements[i].key, candidates, regions and the ladder. Pure."""

import pytest

from vllm_vertex import ladder, placements
from vllm_vertex.config import from_preset, validate
from vllm_vertex.errors import ConfigError
from vllm_vertex.quota import QuotaCheck, QuotaNeed

RESERVATION = "projects/my-project-123/zones/us-central1-a/reservations/gpus"
LADDER = [{"region": "us-central1"}, {"region": "us-east4"}, {"region": "us-central1", "spot": True},
          {"machine_type": "a2-ultragpu-1g"}, {"reservation": RESERVATION}, {"flex_start_hours": 4}]


def _cfg(**over):
    return from_preset("llama-3.1-8b-instruct", project="my-project-123", **over)


def _problems(placements_):
    with pytest.raises(ConfigError) as err:
        validate(_cfg(placements=placements_))
    return dict(err.value.problems)


def test_the_issue_example_is_valid_and_each_candidate_overrides_only_what_it_names():
    cfg = validate(_cfg(placements=LADDER))
    found = placements.candidates(cfg)
    assert [c.region for c in found] == ["us-central1", "us-east4", "us-central1", "us-central1", "us-central1",
                                         "us-central1"]
    assert [c.spot for c in found] == [False, False, True, False, False, False]
    a100 = found[3]
    assert (a100.machine_type, a100.accelerator_type, a100.accelerator_count) == ("a2-ultragpu-1g",
                                                                                  "NVIDIA_A100_80GB", 1)
    assert (found[4].reservation_affinity, found[4].reservation_name) == ("specific", RESERVATION)
    assert found[5].flex_start_hours == 4 and found[5].machine_type == cfg.machine_type
    assert all(c.placements == [] and c.model_id == cfg.model_id for c in found)


def test_no_placements_is_one_candidate_the_config_itself():
    cfg = _cfg(region="europe-west4")
    assert placements.candidates(cfg) == [cfg]
    assert placements.regions("europe-west4", []) == ["europe-west4"]


def test_every_problem_is_named_by_its_placement_and_key_with_a_hint():
    found = _problems([{"regoin": "us-east4"}, {"region": "us-eats4"}, "us-east4", {"spot": "yes"},
                       {"machine_type": "a2-ultragpu-1g", "accelerator_count": 3}, {"accelerator_count": 1.5},
                       {"region": "us-east4", "reservation": RESERVATION}, {"reservation": "bad"}])
    assert "Did you mean 'region'?" in found["placements[0].regoin"]
    assert "Did you mean 'us-east4'?" in found["placements[1].region"]
    assert "must be a mapping" in found["placements[2]"]
    assert "true or false" in found["placements[3].spot"]
    assert "takes 1 GPU(s), not 3" in found["placements[4].accelerator_count"]
    assert "whole number" in found["placements[5].accelerator_count"]
    assert "outside the placement's region us-east4" in found["placements[6].reservation"]
    assert "projects/P/zones/Z/reservations/R" in found["placements[7].reservation"]
    assert len(found) == 8


def test_a_gpu_that_the_machine_does_not_carry_is_named_under_the_placement():
    found = _problems([{"accelerator_type": "NVIDIA_H100_80GB"}, {"flex_start_hours": 500},
                       {"reservation_affinity": "some"}])
    assert "g2-standard-12 carries NVIDIA_L4" in found["placements[0].accelerator_type"]
    assert "0 (off) to 168" in found["placements[1].flex_start_hours"]
    assert "unknown" in found["placements[2].reservation_affinity"]


def test_a_repeated_placement_is_refused_and_a_base_problem_is_reported_once():
    found = _problems([{}, {"region": "us-central1"}])
    assert found == {"placements[1]": "deploys exactly as placements[0] does: remove one."}
    with pytest.raises(ConfigError) as err:
        validate(_cfg(max_replica_count=0, placements=[{"region": "us-east4"}]))
    assert [name for name, _ in err.value.problems] == ["max_replica_count"]


def test_regions_list_every_region_once_in_order_and_tolerate_junk():
    assert placements.regions("us-central1", LADDER) == ["us-central1", "us-east4"]
    assert placements.regions("us-west1", ["x", {"region": 3}, {"region": "europe-west4"}]) == ["us-west1",
                                                                                                  "europe-west4"]


def _quota(amount_limit):
    def read(c):
        if c.region == "us-east4":
            return "the Cloud Quotas API was not reached"
        limit = 0 if c.spot else amount_limit
        return [QuotaCheck(QuotaNeed("CustomModelServingL4GPUsPerProjectPerRegion", 1, "1 × NVIDIA_L4"), limit)]
    return read


def test_the_ladder_skips_what_cannot_deploy_saying_why_and_prices_the_rest():
    cfg = validate(_cfg(placements=LADDER))
    plan = lambda c: ("does_not_fit", "weights do not fit") if c.flex_start_hours else ("fits", "")  # noqa: E731
    rungs = ladder.ladder(cfg, plan, _quota(4))
    assert [r.viable for r in rungs] == [True, True, False, True, True, False]
    assert rungs[1].quota == "unread" and "not reached" in rungs[1].quota_text
    assert rungs[2].skip.startswith("quota: CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1")
    assert rungs[5].skip == "plan: weights do not fit"
    assert rungs[0].usd_per_hour == pytest.approx(1.1505) and rungs[2].usd_per_hour is None
    assert [r.index for r in ladder.viable(rungs)] == [0, 1, 3, 4]
    lines = ladder.ladder_lines(rungs)
    assert lines[0] == "1. [try] us-central1 g2-standard-12 1× NVIDIA_L4: plan fits, quota ok, $1.15/h"
    assert "3. [SKIP] us-central1 g2-standard-12 1× NVIDIA_L4 spot: plan fits, quota short, price unknown" in lines
    table = ladder.ladder_markdown(rungs)
    assert "| 6 | us-central1 g2-standard-12 1× NVIDIA_L4 flex-start 4 h | does_not_fit |" in table
    assert rungs[4].to_dict()["where"] == "us-central1 g2-standard-12 1× NVIDIA_L4 reservation gpus"


def test_only_no_gpus_walks_on():
    from google.api_core import exceptions

    from vllm_vertex.cloud.placing import is_no_capacity
    from vllm_vertex.errors import DeployError

    assert is_no_capacity(DeployError("deploy failed: Machine type temporarily unavailable", "stockout")) == "stockout"
    assert is_no_capacity(DeployError("quota", "quota_exceeded")) == "quota_exceeded"
    assert is_no_capacity(DeployError("deploy failed: CUDA out of memory", "cuda_oom")) == ""
    assert is_no_capacity(exceptions.TooManyRequests("The following quota metrics exceed quota limits: "
                                                     "aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus"))
    assert is_no_capacity(exceptions.TooManyRequests("Quota exceeded for online prediction requests per minute")) == ""
    assert is_no_capacity(exceptions.Forbidden("Permission denied")) == ""
    assert is_no_capacity(exceptions.BadRequest("Reservation not found")) == ""
