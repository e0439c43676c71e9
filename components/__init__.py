"""One module per pipeline step; each exports one KFP component."""

from components.check_probe import check_probe
from components.check_quota import check_quota
from components.check_verdict import check_verdict
from components.cleanup_on_exit import cleanup_on_exit
from components.place_and_deploy import place_and_deploy
from components.preflight import preflight
from components.probe import probe
from components.read_endpoint import read_endpoint
from components.smoke_test import smoke_test
from components.stage_weights import stage_weights
from components.teardown import teardown
from components.validate_config import validate_config

__all__ = [
    "check_probe",
    "check_quota",
    "check_verdict",
    "cleanup_on_exit",
    "place_and_deploy",
    "preflight",
    "probe",
    "read_endpoint",
    "smoke_test",
    "stage_weights",
    "teardown",
    "validate_config",
]
