"""deploy/: kustomize renders that validate against the Kubernetes schemas, the sidecar
wired into agent pods, the Collector config and the Grafana dashboard."""

import functools
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from immune_control.telemetry import ControlMetrics
from immune_sidecar.telemetry import SidecarMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.30"


@functools.cache
def _rendered(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl must be installed (make test does it)"
    path = DEPLOY / "kustomize" / "overlays" / overlay
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def render(overlay: str) -> list[dict]:
    """`kubectl kustomize` of an overlay, as a fresh list of objects."""
    return [doc for doc in yaml.safe_load_all(_rendered(overlay)) if doc]


def find(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container(workload: dict, name: str) -> dict:
    (found,) = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay):
    objects = render(overlay)
    assert len(objects) >= 8
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_control_is_one_replica_with_its_own_volume_and_config(overlay):
    objects = render(overlay)
    control = find(objects, "StatefulSet", "immune-control")
    assert control["spec"]["replicas"] == 1
    (claim,) = control["spec"]["volumeClaimTemplates"]
    args = container(control, "control")["args"]
    assert "--db=/var/lib/immune/control.duckdb" in args
    assert "--token-file=/etc/immune-tokens/tokens" in args  # the link needs a credential
    mounts = {m["name"]: m["mountPath"] for m in container(control, "control")["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/immune"
    (config,) = [o for o in objects if o["metadata"]["name"].startswith("immune-control-")]
    settings = yaml.safe_load(config["data"]["control.yaml"])
    assert {"approval", "healing", "fleet"} <= set(settings)
    assert find(objects, "Service", "immune-console")["spec"]["ports"][0]["port"] == 8090


def test_agents_get_a_sidecar_whose_readiness_follows_quarantine():
    objects = render("dev")
    agent = find(objects, "Deployment", "research-agent")
    pod = agent["spec"]["template"]["spec"]
    sidecar = container(agent, "immune-sidecar")
    assert "--otlp-grpc=127.0.0.1:4317" in sidecar["args"]
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("valueFrom", {}) for e in sidecar["env"]}
    assert env["POD_NAME"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert pod["serviceAccountName"] == "immune-sidecar"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["immune-sidecar-state"]
    config = volumes["immune-sidecar-config"]["configMap"]["name"]
    actuators = yaml.safe_load(find(objects, "ConfigMap", config)["data"]["sidecar.yaml"])
    assert [a["kind"] for a in actuators["actuators"]] == ["readiness", "kubernetes"]
    assert "--control-token-file=/etc/immune-link/token" in sidecar["args"]
    assert volumes["immune-link-token"]["secret"]["secretName"] == "immune-sidecar-token"
    link_mounts = [m for c in pod["containers"] for m in c.get("volumeMounts", [])
                   if m["name"] == "immune-link-token"]  # fmt: skip
    assert link_mounts == [m for m in sidecar["volumeMounts"] if m["name"] == "immune-link-token"]
    assert container(agent, "agent")  # the agent's own container is untouched
    assert find(objects, "Deployment", "immune-console")  # other workloads get no sidecar
    assert all(c["name"] != "immune-sidecar" for c in _containers(objects, "immune-console"))


def test_the_sidecar_role_allows_exactly_what_the_kubernetes_actuator_calls():
    objects = render("dev")
    (rule,) = find(objects, "Role", "immune-sidecar")["rules"]
    assert rule["resources"] == ["pods"]
    assert set(rule["verbs"]) == {"get", "patch", "delete", "create"}
    binding = find(objects, "RoleBinding", "immune-sidecar")
    assert binding["subjects"][0]["namespace"] == "immune-dev"


def test_the_image_installs_the_project_and_its_commands_exist():
    containerfile = (DEPLOY / "Containerfile").read_text()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for objects in map(render, OVERLAYS):
        for obj in objects:
            for c in _containers(objects, obj["metadata"]["name"]):
                if "immune" in c["image"]:
                    assert c["command"][0] in scripts, c
    for copied in re.findall(r"^COPY (?!--)(\S+) ", containerfile, re.M):
        assert (ROOT / copied).exists(), copied


def test_the_collector_config_keeps_the_pipeline_and_adds_the_sidecar():
    config = yaml.safe_load((DEPLOY / "collector" / "otel-collector.yaml").read_text())
    pipelines = config["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            declared = {key for key in config.get(section) or {}}
            assert set(pipeline.get(section, [])) <= declared, (name, section)
        assert "otlphttp/backend" in pipeline["exporters"]
    assert "otlp/immune" in pipelines["metrics"]["exporters"]
    assert config["exporters"]["otlp/immune"]["endpoint"].startswith("127.0.0.1:")


def test_the_dashboard_queries_only_metrics_that_exist():
    dashboard = json.loads((DEPLOY / "grafana" / "immune-dashboard.json").read_text())
    exposed = _exposed_metric_names()
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\b(immune_[a-z_]+)", target["expr"]))
    assert queried and queried <= exposed, queried - exposed
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def _containers(objects: list[dict], name: str) -> list[dict]:
    found = [
        o for o in objects if o["metadata"]["name"] == name and "template" in o.get("spec", {})
    ]
    return [c for o in found for c in o["spec"]["template"]["spec"]["containers"]]


def _exposed_metric_names() -> set[str]:
    registry = CollectorRegistry()
    SidecarMetrics(registry)
    ControlMetrics(registry)
    text = generate_latest(registry).decode()
    names = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    names |= {n + suffix for n in names for suffix in ("_total", "_bucket", "_count", "_sum")}
    # Read from the store at scrape time (immune_control.telemetry.StoreCollector).
    return names | {"immune_incidents", "immune_healing_actions"}
