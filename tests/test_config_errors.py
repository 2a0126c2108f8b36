"""Every bad setting of sidecar, control and console: exit 2 and one line naming the key.

The table is built from each settings class's documented ranges (a value just
outside each) plus the cases found by hand; each runs the real entry point
(``main``), and a few run as processes to prove the exit code end to end."""

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from immune_control import __main__ as control_main
from immune_control.config import ApprovalSettings, ControlConfig, HealingSettings, Limits
from immune_control.fleet import FleetSettings
from immune_sidecar import __main__ as sidecar_main
from immune_sidecar.config import ActuatorConfig, SidecarConfig
from immune_sidecar.detect import BaselineSettings
from immune_sidecar.quarantine import EjectionPolicy
from tests.support.sidecar import free_port


def outside(low, high):
    """A value just below a range (or above it when its low end is 0 and it is a share)."""
    return low - 1 if isinstance(low, int) and not isinstance(low, bool) else low - abs(low) - 0.5


def ranged(cls, path):
    """(yaml document, key named) for every ranged setting of ``cls`` at ``path``."""
    for key, (low, high) in cls.RANGES.items():
        yield path(key, outside(low, high)), key
        yield path(key, high * 2 + 1), key


SIDECAR_CASES = [
    *ranged(SidecarConfig, lambda k, v: {k: v}),
    *ranged(BaselineSettings, lambda k, v: {"detection": {k: v}}),
    *ranged(EjectionPolicy, lambda k, v: {"ejection": {k: v}}),
    *ranged(ActuatorConfig, lambda k, v: {"actuators": [{"kind": "readiness", k: v}]}),
    ({"detection": {"alpha": 2}}, "detection.alpha"),
    ({"detection": {"min_samples": 0}}, "detection.min_samples"),
    ({"detection": {"sigma_threshold": -1}}, "detection.sigma_threshold"),
    ({"detection": {"sigma_threshold": 0.3}}, "detection.sigma_threshold"),
    ({"state_flush_seconds": 0}, "state_flush_seconds"),
    ({"link_backoff_seconds": 0}, "link_backoff_seconds"),
    ({"max_requests_per_second": -1}, "max_requests_per_second"),
    ({"max_agents": 1.7}, "max_agents"),
    ({"forward": "ftp://x"}, "forward"),
    ({"log_format": "xml"}, "log_format"),
    ({"log_level": "loud"}, "log_level"),
    ({"control": "127.0.0.1:1", "control_ca_file": "/nonexistent/ca.pem"}, "control_ca_file"),
    ({"control": "127.0.0.1:1", "control_token_file": "/nonexistent/t"}, "control_token_file"),
    ({"actuators": [{"kind": "kubernetes", "url": "https://k", "token_file": "/nope"}]},
     "token_file"),
    ({"otlp_grpc": "127.0.0.1:99999"}, "otlp_grpc"),
]  # fmt: skip

CONTROL_CASES = [
    *ranged(ControlConfig, lambda k, v: {k: v}),
    *ranged(ApprovalSettings, lambda k, v: {"approval": {k: v}}),
    *ranged(HealingSettings, lambda k, v: {"healing": {k: v}}),
    *ranged(Limits, lambda k, v: {"limits": {k: v}}),
    *ranged(FleetSettings, lambda k, v: {"fleet": {k: v}}),
    ({"approval": {"threshold": 12}}, "approval.threshold"),
    ({"limits": {"max_message_bytes": 1e12}}, "limits.max_message_bytes"),
    ({"policies": {"infinite_loop": ["pray"]}}, "policies.infinite_loop"),
    ({"policies": {"boredom": ["restart"]}}, "policies.boredom"),
    ({"policies": {"infinite_loop": []}}, "policies.infinite_loop"),
    ({"policies": {"infinite_loop": ["restart", "restart"]}}, "policies.infinite_loop"),
    ({"log_level": "loud"}, "log_level"),
    ({"log_format": "xml"}, "log_format"),
    ({"tls_cert_file": "/nonexistent.pem", "tls_key_file": "/nonexistent-key.pem"}, "tls"),
    ({"listen": "127.0.0.1:99999"}, "listen"),
    ({"token_file": "/nonexistent/tokens"}, "tokens"),
    ({"listen": "0.0.0.0:0"}, "insecure_open_link"),  # an open link beyond loopback
]  # fmt: skip


def run_main(main, document: dict, tmp_path, capsys, extra=()) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        code = main.main(["--config", str(path), *extra])
    finally:  # main sets logging up on this test's captured stderr; later tests must not use it
        logging.root.handlers[:], logging.root.level = handlers, level
    return code, capsys.readouterr().err


def one_line_naming(err: str, key: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and key in lines[0] and "Traceback" not in err


@pytest.mark.parametrize(("document", "key"), SIDECAR_CASES, ids=lambda v: str(v)[:60])
def test_a_bad_sidecar_setting_is_exit_2_and_one_line(document, key, tmp_path, capsys):
    code, err = run_main(sidecar_main, document, tmp_path, capsys)
    assert code == 2 and one_line_naming(err, key), err


@pytest.mark.parametrize(("document", "key"), CONTROL_CASES, ids=lambda v: str(v)[:60])
def test_a_bad_control_setting_is_exit_2_and_one_line(document, key, tmp_path, capsys):
    extra = ("--metrics", "", "--db", str(tmp_path / "c.duckdb"))
    code, err = run_main(control_main, document, tmp_path, capsys, extra)
    assert code == 2 and one_line_naming(err, key), err


def test_a_state_dir_that_cannot_be_used_is_exit_2(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    code, err = run_main(sidecar_main, {"state_dir": str(tmp_path / "a-file")}, tmp_path, capsys)
    assert code == 2 and one_line_naming(err, "state_dir"), err
    (tmp_path / "read-only").mkdir(mode=0o500)
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        code, err = run_main(
            sidecar_main, {"state_dir": str(tmp_path / "read-only")}, tmp_path, capsys
        )
        assert code == 2 and one_line_naming(err, "state_dir"), err


def test_a_non_pem_certificate_is_exit_2(tmp_path, capsys):
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    document = {
        "tls_cert_file": str(tmp_path / "cert.pem"),
        "tls_key_file": str(tmp_path / "key.pem"),
    }
    code, err = run_main(control_main, document, tmp_path, capsys, ("--metrics", ""))
    assert code == 2 and one_line_naming(err, "not a PEM file"), err


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["--listen", "127.0.0.1:99999"], "--listen"),
        (["--token-file", "/nonexistent/token"], "--token-file"),
        (["--tls-cert-file", "/nope.pem", "--tls-key-file", "/nope-key.pem"], "--tls-cert-file"),
    ],
)
def test_a_bad_console_setting_is_exit_2_and_one_line(argv, key):
    done = subprocess.run([sys.executable, "-m", "immune_console", *argv],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and key in done.stderr.strip().splitlines()[-1], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("program", ["immune_sidecar", "immune_control"])
def test_a_port_in_use_is_exit_2_as_a_process(program):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        flag = "--otlp-grpc" if program == "immune_sidecar" else "--listen"
        argv = [flag, f"127.0.0.1:{port}"]
        if program == "immune_control":
            argv += ["--metrics", "", "--db", ":memory:"]
        done = subprocess.run([sys.executable, "-m", program, *argv],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "in use" in done.stderr and "Traceback" not in done.stderr


def test_a_second_process_cannot_share_a_running_controls_port(tmp_path):
    port = free_port()
    argv = ["--listen", f"127.0.0.1:{port}", "--metrics", ""]
    one = ["--db", str(tmp_path / "one.duckdb")]
    first = subprocess.Popen(
        [sys.executable, "-m", "immune_control", *argv, *one], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "immune_control", *argv, "--db",
                                 str(tmp_path / "two.duckdb")],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert second.returncode == 2 and "in use" in second.stderr, second.stderr
    finally:
        first.terminate()
        first.wait(30)


def test_the_readme_documents_every_range():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    classes = (SidecarConfig, BaselineSettings, EjectionPolicy, ActuatorConfig, ControlConfig,
               ApprovalSettings, HealingSettings, Limits, FleetSettings)  # fmt: skip
    for cls in classes:
        for key, (low, high) in cls.RANGES.items():
            assert f"{key}` | {low:g} – {high:g} |" in readme, key


@pytest.mark.parametrize("price", [-1, "nan", 1e9])
def test_a_price_outside_0_to_a_million_per_million_tokens_is_exit_2(price, tmp_path, capsys):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({"prices": {"my-model": {"input": price, "output": 1}}}))
    code, err = run_main(sidecar_main, {"mapping": str(mapping)}, tmp_path, capsys)
    assert code == 2 and one_line_naming(err, "my-model"), err
