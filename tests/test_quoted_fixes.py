"""Every value in a printed gcloud command is shell-quoted: pasting a fix runs no command hidden in a value
(issue 17, item 8)."""

import shlex

import pytest

from vllm_vertex import doctor
from vllm_vertex.cloud import quotas, secrets

HOSTILE = ["gs://x;id;x", "s$(id)", "a$(id)", "b`id`", "c d"]


@pytest.mark.parametrize("value", HOSTILE)
def test_doctor_fixes_quote_every_value(value):
    inputs = doctor.Inputs(value, value)
    commands = [
        doctor.fixes("enable", inputs, apis=[value]),
        doctor.fixes("create-bucket", inputs, bucket=value),
        doctor.fixes("create-account", inputs, email=f"{value}@p.iam.gserviceaccount.com"),
        doctor.fixes("project-role", inputs, member=value, role=value),
        doctor.fixes("account-role", inputs, email=value, member=value, role=value),
        doctor.fixes("bucket-role", inputs, bucket=value, member=value, role=value),
        doctor.fixes("secret-role", inputs, secret=value, member=value, role=value),
        doctor.fixes("create-secret", inputs, secret=value),
        doctor.fixes("enable-version", inputs, version=value, secret=value),
    ]
    quoted = [shlex.quote(v) for v in (f"gs://{value}", f"{value}@p.iam.gserviceaccount.com", value)]
    assert all(q != v for q, v in zip(quoted, (f"gs://{value}", "", value), strict=True))
    for command in commands:
        assert any(q in command for q in quoted), command
        rest = command
        for q in quoted:
            rest = rest.replace(q, "")
        assert value not in rest, command  # every occurrence is inside quotes


@pytest.mark.parametrize("value", HOSTILE)
def test_secret_and_quota_messages_quote_every_value(value):
    texts = [
        secrets._state_message(f"projects/{value}/secrets/{value}/versions/1",
                               "Secret Version [v/1] is in DISABLED state", value, value),  # fmt: skip
        secrets._state_message("v", "Secret Version [v/1] is in DESTROYED state", value, value),
        quotas.forbidden_message(type("E", (), {"reason": "SERVICE_DISABLED", "metadata": {}})(), value),
        quotas.forbidden_message(Exception("denied"), value),
    ]
    quoted = shlex.quote(value)
    assert quoted != value
    for text in texts:
        command = text[text.index("gcloud ") :]
        assert f"--project={quoted}" in command or f"binding {quoted} " in command, text
        for flag in ("--project=", "--secret=", "binding ", "versions add ", "enable "):
            assert f"{flag}{value}" not in command, text
