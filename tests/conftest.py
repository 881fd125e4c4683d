"""Shared test machinery: which targets to run on, how to run programs, hypothesis profiles.

In:  pytest's command line (``--targets``) and the environment
     (``APPLC_TEST_KVM``, ``APPLC_HYPOTHESIS_PROFILE``).
Out: * a ``target`` parameter for every test that asks for one, one value per
       selected target; ``kvm`` is skipped (with the reason) when it cannot run
       here, unless ``APPLC_TEST_KVM=1`` demands it;
     * the ``apy`` fixture: a harness that runs a program under CPython, builds
       it with applc (Python API or CLI) and runs the result, each returning an
       `Outcome` (stdout bytes, exit status, name of the uncaught exception);
     * hypothesis profiles ``ci`` and ``thorough``, loaded when
       ``APPLC_HYPOTHESIS_PROFILE`` names one.

The compiler is imported lazily (inside the harness), so the tests that only
exercise the CPython side run even before applc is installed, and the ones
that need applc fail loudly instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, settings

ALL_TARGETS = ("hosted", "kvm")
QEMU = "qemu-system-x86_64"

# Bounds for every child process the tests start: a hung program must fail the
# test, not the CI job. Booting under TCG is much slower than a Linux process.
CPYTHON_TIMEOUT = 60.0
HOSTED_TIMEOUT = 60.0
KVM_TIMEOUT = 240.0
CLI_TIMEOUT = 300.0


# --------------------------------------------------------------------------- targets


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--targets",
        default="hosted,kvm",
        help="comma-separated applc targets to run compiled programs on "
        "(default: hosted,kvm; kvm is skipped when QEMU or the kvm target is missing)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames or _parametrized_by_test(metafunc, "target"):
        return
    wanted = _parse_targets(metafunc.config.getoption("--targets"))
    params = [pytest.param(t, marks=_target_marks(t), id=t) for t in wanted]
    metafunc.parametrize("target", params)


def _parametrized_by_test(metafunc: pytest.Metafunc, name: str) -> bool:
    """A test that lists its own `target` values keeps them."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return True
    return False


def _parse_targets(option: str) -> list[str]:
    names = [t.strip() for t in option.split(",") if t.strip()]
    unknown = [t for t in names if t not in ALL_TARGETS]
    if unknown:
        raise pytest.UsageError(f"--targets: unknown target(s) {unknown}; known: {ALL_TARGETS}")
    return names


def _target_marks(target: str) -> list[pytest.MarkDecorator]:
    reason = kvm_unavailable_reason() if target == "kvm" else None
    return [pytest.mark.skip(reason=reason)] if reason else []


def kvm_unavailable_reason() -> str | None:
    """Why the kvm target cannot be tested here, or None if it can.

    APPLC_TEST_KVM=1 forces the kvm tests to run (and fail loudly if the
    machine cannot run them): CI machines that are meant to test kvm set it.
    """
    if os.environ.get("APPLC_TEST_KVM") == "1":
        return None
    if shutil.which(QEMU) is None:
        return f"{QEMU} not found on PATH (set APPLC_TEST_KVM=1 to force kvm tests)"
    try:
        import applc.targets.kvm  # noqa: F401
    except ImportError as e:
        return f"applc.targets.kvm does not import: {e}"
    return None


# --------------------------------------------------------------------------- running programs


@attrs.frozen
class Outcome:
    """What the differential contract compares: stdout bytes and exit status.

    ``exc_type`` is the exception type name that starts the last stderr line
    when the program died of an uncaught exception (``None`` otherwise); the
    rest of stderr is diagnostic text that may legitimately differ.
    """

    stdout: bytes
    status: int
    stderr: bytes = attrs.field(repr=False)

    @property
    def exc_type(self) -> str | None:
        if self.status == 0:
            return None
        return last_line_exception(self.stderr)

    def describe(self) -> str:
        out = self.stdout.decode(errors="replace")
        err = self.stderr.decode(errors="replace")
        return f"status {self.status}, exception {self.exc_type}\n--- stdout ---\n{out}--- stderr ---\n{err}"


def last_stderr_line(stderr: bytes) -> str:
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def names_exception(line: str, exc_type: str) -> bool:
    """Whether `line` starts with the exception name `exc_type` (as a whole word)."""
    rest = line[len(exc_type):] if line.startswith(exc_type) else None
    return rest is not None and not (rest[:1].isalnum() or rest[:1] == "_")

def last_line_exception(stderr: bytes) -> str | None:
    """`ZeroDivisionError` from a traceback ending `ZeroDivisionError: division by zero`."""
    line = last_stderr_line(stderr)
    return line.split(":", 1)[0].strip() or None


def run_bounded(cmd: list[str], timeout: float, cwd: str | Path | None = None) -> Outcome:
    """Run a command to completion or kill it after `timeout` seconds (then fail)."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"timed out after {timeout:.0f}s: {' '.join(map(str, cmd))}")
    return Outcome(out, proc.returncode, err)


def applc_command() -> list[str]:
    """The `applc` command line entry point: the installed script if it sits
    beside this interpreter, else the same entry point through `python -c`."""
    script = Path(sys.executable).with_name("applc")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from applc.driver.cli import main; sys.exit(main())"]


class ApyHarness:
    """Runs a program the three ways the tests compare: CPython, applc API, applc CLI."""

    def cpython(self, source: Path) -> Outcome:
        return run_bounded([sys.executable, str(source)], CPYTHON_TIMEOUT, cwd=source.parent)

    def build(self, source: Path, out: Path, target: str = "hosted", cache: bool = True) -> Path:
        """Compile in-process (no interpreter start-up per program); raises CompileError.
        One-off programs pass cache=False, so as not to fill the build cache."""
        from applc.driver.build import build_file

        build_file(str(source), target=target, out=str(out), use_cache=cache)
        return out

    def run_executable(self, exe: Path) -> Outcome:
        return run_bounded([str(exe)], HOSTED_TIMEOUT)

    def compiled(self, source: Path, target: str, workdir: Path) -> Outcome:
        """Build and run `source` on `target`: hosted through the API, kvm through `applc run`."""
        if target == "hosted":
            return self.run_executable(self.build(source, workdir / (source.stem + ".exe")))
        return self.cli("run", "-t", target, str(source), timeout=KVM_TIMEOUT)

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> Outcome:
        return run_bounded(applc_command() + list(args), timeout)

    def assert_same(self, expected: Outcome, actual: Outcome, what: str) -> None:
        """The differential contract: same stdout bytes, same exit status, and the
        last stderr line names the exception CPython died of (if it did)."""
        detail = (f"{what}\n=== expected (CPython) ===\n{expected.describe()}"
                  f"\n=== actual (applc) ===\n{actual.describe()}")
        assert actual.stdout == expected.stdout, "stdout differs: " + detail
        assert actual.status == expected.status, "exit status differs: " + detail
        if expected.exc_type is not None:
            assert names_exception(last_stderr_line(actual.stderr), expected.exc_type), (
                "the last stderr line does not name the same uncaught exception: " + detail
            )


@pytest.fixture(scope="session")
def apy() -> ApyHarness:
    return ApyHarness()



# --------------------------------------------------------------------------- hypothesis profiles

# Compiling a program is slow next to running it, so deadlines are meaningless
# for the compiler tests; `ci` is also reproducible run to run.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=1000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
HYPOTHESIS_PROFILE = os.environ.get("APPLC_HYPOTHESIS_PROFILE", "default")
if HYPOTHESIS_PROFILE not in ("default", "ci", "thorough"):
    raise pytest.UsageError(f"APPLC_HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r}: use default, ci or thorough")
settings.load_profile(HYPOTHESIS_PROFILE)
