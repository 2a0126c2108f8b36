"""The contracts in proto/ lint clean, the committed stubs match them, and
every console script starts."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
SCRIPTS = ["immune-sidecar", "immune-control", "immune-console", "immunectl", "immune-demo"]


def run_buf(*args: str) -> subprocess.CompletedProcess:
    assert BUF.exists(), f"{BUF} is missing: run `make tools`"
    return subprocess.run([str(BUF), *args], cwd=ROOT, capture_output=True, text=True)


def test_buf_lint_passes():
    result = run_buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_stubs_match_a_fresh_generation(tmp_path):
    result = run_buf("generate", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fresh, committed = tmp_path / "sdk" / "immune", ROOT / "sdk" / "immune"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(
        p.relative_to(committed) for p in committed.rglob("*") if p.is_file() and _generated(p)
    )
    assert fresh_files == committed_files, "run `make proto` and commit the result"
    _, mismatch, errors = filecmp.cmpfiles(fresh, committed, [str(f) for f in fresh_files], False)
    assert not mismatch and not errors, f"stale stubs {mismatch + errors}: run `make proto`"


def _generated(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix in {".py", ".pyi"}


def test_stubs_import_as_immune_v1():
    from immune.v1 import common_pb2, control_pb2_grpc, link_pb2_grpc

    assert hasattr(control_pb2_grpc, "ControlServiceStub")
    assert hasattr(link_pb2_grpc, "SidecarLinkServiceStub")
    assert common_pb2.IncidentState.Name(3) == "INCIDENT_STATE_PENDING_APPROVAL"


@pytest.mark.parametrize("script", SCRIPTS)
def test_console_script_starts(script):
    path = shutil.which(script, path=str(Path(sys.executable).parent))
    assert path, f"{script} is not installed: run `make install`"
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert script in result.stdout
