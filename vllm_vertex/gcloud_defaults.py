"""The project and region a command uses when none is given, found as gcloud and the Google SDKs find them.

Project: ``CLOUDSDK_CORE_PROJECT``, then ``GOOGLE_CLOUD_PROJECT``, then the active gcloud configuration's
``[core] project``, then the quota project of Application Default Credentials. Region:
``CLOUDSDK_AI_REGION``, then ``CLOUDSDK_COMPUTE_REGION``, then the configuration's ``[ai] region``, then its
``[compute] region``. (``--project``/``--region`` and a run file's values come first; the caller applies them.)

gcloud keeps its configurations under ``CLOUDSDK_CONFIG`` (default ``~/.config/gcloud``): the active one is
named by ``CLOUDSDK_ACTIVE_CONFIG_NAME``, else by the file ``active_config``, else ``default``, and lives in
``configurations/config_<name>``, an INI file. Application Default Credentials are the file
``GOOGLE_APPLICATION_CREDENTIALS`` names, else ``application_default_credentials.json`` in that folder; their
``quota_project_id`` (a service account key's ``project_id`` otherwise) is the last resort. Only files are
read: no gcloud process, no network, no credentials refreshed.
"""

from __future__ import annotations

import configparser
import json
import os
import pathlib

__all__ = ["Found", "gcloud_config_dir", "project", "region"]

Found = tuple[str, str]  # (value, where it came from); ("", "") when nothing was found


def gcloud_config_dir() -> pathlib.Path:
    """gcloud's configuration folder: ``CLOUDSDK_CONFIG``, else ``~/.config/gcloud``."""
    return pathlib.Path(os.environ.get("CLOUDSDK_CONFIG") or pathlib.Path.home() / ".config" / "gcloud")


def _active_configuration() -> tuple[str, configparser.ConfigParser]:
    """The active configuration's name and contents (empty when it cannot be read)."""
    folder = gcloud_config_dir()
    name = os.environ.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "").strip()
    if not name:
        try:
            name = (folder / "active_config").read_text(encoding="utf-8").strip()
        except OSError:
            name = ""
    name = name or "default"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(folder / "configurations" / f"config_{name}", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        parser = configparser.ConfigParser(interpolation=None)
    return name, parser


def _from_configuration(section: str, key: str) -> Found:
    name, parser = _active_configuration()
    value = parser.get(section, key, fallback="").strip()
    return (value, f"gcloud configuration '{name}' ({section}/{key})") if value else ("", "")


def _adc_quota_project() -> Found:
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or str(
        gcloud_config_dir() / "application_default_credentials.json")
    try:
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    for key in ("quota_project_id", "project_id"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip(), f"Application Default Credentials ({key} in {path})"
    return "", ""


def _from_env(*names: str) -> Found:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    return "", ""


def project() -> Found:
    """The default project and its source, or ``("", "")``."""
    for found in (_from_env("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"), _from_configuration("core", "project")):
        if found[0]:
            return found
    return _adc_quota_project()


def region() -> Found:
    """The default region and its source, or ``("", "")``."""
    for found in (_from_env("CLOUDSDK_AI_REGION", "CLOUDSDK_COMPUTE_REGION"), _from_configuration("ai", "region")):
        if found[0]:
            return found
    return _from_configuration("compute", "region")
