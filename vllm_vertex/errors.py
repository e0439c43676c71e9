"""Every error vllm-vertex raises on purpose: one base class that carries the exit code and the fix.

Pure (standard library only), so pipeline steps, the planner and the CLI share it. The CLI's
``guarded`` maps an error by its class: a ``VllmVertexError`` prints ``user_message()`` and exits
with its ``exit_code``; anything else that is not a known Google error is a bug (exit 1).

Exit codes (the README's table): 0 success; 1 a run, check or deletion failed (or an API error);
2 bad input or set-up, nothing was sent; 130 interrupted.

Classes that were ``ValueError`` or ``RuntimeError`` before keep that base too, so existing
``except`` clauses and step wrappers still catch them.
"""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "BadInput",
    "CatalogError",
    "ConfigError",
    "CredentialsError",
    "DeployError",
    "EndpointNotFound",
    "PlanError",
    "PlanRefused",
    "PredictionFormatError",
    "ProbeError",
    "ProbeInputError",
    "QuotaError",
    "ResourcesLeft",
    "SecretError",
    "SetupError",
    "SloError",
    "SourceError",
    "StagingError",
    "TeardownError",
    "VllmVertexError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class VllmVertexError(Exception):
    """Base of every error vllm-vertex raises on purpose.

    Attributes:
        exit_code: The CLI's exit code for it (class default; an instance may differ).
        fix: What the user can do about it ("" when the message already says it).
    """

    exit_code: int = EXIT_FAILED
    fix: str = ""

    def __init__(self, message: str = "", *, fix: str = "") -> None:
        super().__init__(message)
        if fix:
            self.fix = fix

    def user_message(self) -> str:
        """The message and, unless the message already has it, the fix on a line of its own."""
        text = str(self).strip()
        if self.fix and self.fix not in text:
            text = f"{text}\nFix: {self.fix}"
        return text


# -- bad input: exit 2, nothing was sent --------------------------------------------------------------------------


class BadInput(VllmVertexError):
    """Bad input (a flag, a run file, a name); nothing was sent. The message names the fix."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInput, ValueError):
    """An invalid deployment configuration. ``problems`` lists every (field, message) found, each with its fix."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        from vllm_vertex.redact import mask

        # Messages may quote a refused value: anything credential-shaped is masked, on every path.
        self.problems = [(mask(name), mask(msg)) for name, msg in problems]
        lines = [f"- {name}: {msg}" for name, msg in self.problems]
        super().__init__("invalid deployment configuration:\n" + "\n".join(lines))


class PlanError(BadInput, ValueError):
    """Bad planner input; the message names the field and the fix."""


class PlanRefused(BadInput):
    """The offline capacity plan says the deployment cannot fit; nothing was submitted."""

    fix = "nothing was submitted: change what the plan names, or --no-plan skips this check"


class SloError(BadInput, ValueError):
    """A malformed SLO: the message names the bad part and the fix."""


class ProbeInputError(BadInput, ValueError):
    """A probe setting is out of range; ``field`` names it (the CLI maps it to its flag)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class EndpointNotFound(BadInput, RuntimeError):
    """The endpoint to check does not exist or serves no model."""


# -- set-up: exit 2, credentials, permissions, APIs ----------------------------------------------------------------


class SetupError(VllmVertexError):
    """Credentials or cloud set-up are missing (permission, API disabled); nothing was sent."""

    exit_code = EXIT_BAD_INPUT


class CredentialsError(SetupError):
    """Application Default Credentials are missing or unusable. ``str()`` is one line with the fix."""


# -- a run, check or deletion failed: exit 1 ------------------------------------------------------------------------


class DeployError(VllmVertexError, RuntimeError):
    """The deploy operation failed or did not finish in time; the message names the cause.

    Attributes:
        cause: The recognised root cause's key (``diagnosis.Diagnosis.key``), "" when none was.
    """

    def __init__(self, message: str, cause: str = "", *, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.cause = cause


class SecretError(VllmVertexError, RuntimeError):
    """The secret cannot be read or holds nothing; the message names the version and the fix (never the value)."""


class QuotaError(VllmVertexError, RuntimeError):
    """A quota does not cover the deployment, or the Cloud Quotas API refused; the message says the fix."""


class SourceError(VllmVertexError, RuntimeError):
    """The model's source refuses or lacks what the deployment needs.

    Attributes:
        key: What is wrong, for reports (``gated_no_access``, ``missing_config`` ...).
        cause: What is wrong, in words.
    """

    def __init__(self, key: str, cause: str, fix: str) -> None:
        self.key, self.cause = key, cause
        super().__init__(f"{cause} Fix: {fix}", fix=fix)


class StagingError(VllmVertexError, RuntimeError):
    """Staging the weights in Cloud Storage failed (Hub error, bucket refused, checksum); files already staged are
    kept, and the next run copies only what is missing."""


class CatalogError(VllmVertexError, RuntimeError):
    """The Billing catalogue could not be read (``setup``: API disabled, no permission) or holds no price.

    Attributes:
        setup: True when the fix is on the user's side (enable the API, credentials): exit code 2.
    """

    def __init__(self, message: str, setup: bool = False, *, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.setup = setup
        self.exit_code = EXIT_BAD_INPUT if setup else EXIT_FAILED


class TeardownError(VllmVertexError, RuntimeError):
    """Cleanup could not even look for the run's resources (permission, wrong project or region)."""


class ResourcesLeft(TeardownError):
    """Teardown could not remove everything; the message lists what is left, why, and the fix."""


class ProbeError(VllmVertexError, RuntimeError):
    """The probe could not start: the warm-up request failed (the message says why)."""

    fix = "check that the endpoint answers a request first (vllm-vertex smoke), then probe it again"


class PredictionFormatError(VllmVertexError, ValueError):
    """The endpoint answered, but not in the serving container's format (a failed check, not bad input)."""
