"""One error hierarchy for the whole tool.

Every error says what failed, where (host or file), and what to do next (the hint). Each class
carries the process exit code the headless front end uses, so the code tells a script which kind
of failure happened without parsing text. The table is in the README.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: a failure the user can act on (never a bug)."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, hint: str | None = None, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.host = host

    def __str__(self) -> str:
        where = f"{self.host}: " if self.host else ""
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "host": self.host,
            "exit_code": self.exit_code,
        }


class ConfigError(WorkbenchError):
    """A profile or command line that cannot be used as written."""

    exit_code = 2
    kind = "config"


class ProfileError(ConfigError):
    """A profile file with one or more problems, all reported at once."""

    def __init__(self, path: str, problems: list[str], hint: str | None = None) -> None:
        self.path = path
        self.problems = problems
        count = len(problems)
        head = f"{path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(problems), hint)


class ConnectError(WorkbenchError):
    """The host could not be reached or authenticated (network, host key, credentials)."""

    exit_code = 3
    kind = "connect"


class RemoteCommandError(WorkbenchError):
    """A command on the remote host failed."""

    exit_code = 4
    kind = "remote"


class RemoteTimeout(WorkbenchError):
    """A remote operation did not finish within its deadline."""

    exit_code = 5
    kind = "timeout"


class BuildError(WorkbenchError):
    """The unikernel build (mirage configure / make depend / make build) failed."""

    exit_code = 6
    kind = "build"


class ArtifactError(WorkbenchError):
    """The unikernel or tender binary is unusable for this target."""

    exit_code = 7
    kind = "artifact"


class HealthError(WorkbenchError):
    """The unikernel started but did not become healthy."""

    exit_code = 8
    kind = "health"


class LabError(WorkbenchError):
    """The local lab could not be brought up, inspected or torn down."""

    exit_code = 9
    kind = "lab"


INTERRUPTED_EXIT = 130
INTERNAL_ERROR_EXIT = 70
