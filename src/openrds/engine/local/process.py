"""Running PostgreSQL's programs: argv lists only, a timeout on every call, secrets masked.

No shell is ever involved, so no quoting bug can turn a value into a command. Passwords never
appear in an argv (they travel in 0600 files named by ``--pwfile`` or ``PGPASSFILE``); the output
kept for error messages is still masked, because a tool may echo what it was given.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from openrds.engine.driver import EngineError
from openrds.engine.local.osuser import OsUser

TAIL_LINES = 20
TAIL_CHARS = 4000

# Values after these words are masked even when the secret itself was never registered.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(password\s*[=:]\s*)('[^']*'|\S+)"),
    re.compile(r"(?i)(\bpassword\s+)('[^']*')"),  # SQL: PASSWORD '...'; not "password authentication"
    re.compile(r"(SCRAM-SHA-256\$)\S+"),
)
_MASK = "********"

# Inherited PG* variables (PGPASSWORD, PGHOST, ...) would silently change what a tool connects to.
_DROPPED_ENV_PREFIXES = ("PG",)


class Masker:
    """Replaces known secret values and password-looking fragments in text. Thread-safe."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        """Remember values that must never be shown (empty strings are ignored)."""
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, _MASK)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + _MASK, text)
        return text


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text``, at most `TAIL_CHARS` characters."""
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept)[-TAIL_CHARS:]


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished command. ``stdout``/``stderr`` are masked."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output_tail(self) -> str:
        return tail(f"{self.stdout}\n{self.stderr}")


class Runner:
    """Runs commands as the servers' OS user (through ``runuser`` when the service is root)."""

    def __init__(self, os_user: OsUser, masker: Masker) -> None:
        self.os_user = os_user
        self.masker = masker
        self._prefix: tuple[str, ...] = ()
        if os_user.switch:
            runuser = shutil.which("runuser") or next(
                (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
            )
            if runuser is None:
                raise EngineError("configure", "running as root but runuser (util-linux) is not installed")
            self._prefix = (runuser, "-u", os_user.name, "--")

    def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        as_server_user: bool = True,
        ok_codes: Iterable[int] = (0,),
    ) -> Completed:
        """Run ``argv`` and wait for it, at most ``timeout`` seconds.

        :param step: names the step in the `EngineError` raised on failure.
        :param env: extra environment (e.g. ``PGPASSFILE``) on top of a scrubbed copy of ours.
        :param check: raise when the exit code is not in ``ok_codes``.
        :param as_server_user: run as the servers' OS user (False: as the service itself).
        :raises EngineError: the program is missing, timed out (transient; the whole process group
            is killed) or failed; the message carries the masked tail of its output.
        """
        full = (*(self._prefix if as_server_user else ()), *argv)
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
        child_env.update({"LC_ALL": "C", "LANG": "C"})  # English messages: error tails must be readable
        child_env.update(env or {})
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_env,
                cwd="/",  # the server user may not be allowed into our working directory
                start_new_session=True,  # its own process group, so a timeout kills the whole tree
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise EngineError(step, f"cannot run {argv[0]}: {exc.strerror}") from exc
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            stdout, stderr = proc.communicate()
            done = Completed(tuple(argv), -9, self.masker(stdout), self.masker(stderr))
            raise EngineError(
                step, f"{os.path.basename(argv[0])} timed out after {timeout:g}s", done.output_tail, transient=True
            ) from None
        done = Completed(tuple(argv), proc.returncode, self.masker(stdout), self.masker(stderr))
        if check and done.returncode not in tuple(ok_codes):
            raise EngineError(step, f"{os.path.basename(argv[0])} exited with code {done.returncode}", done.output_tail)
        return done


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
