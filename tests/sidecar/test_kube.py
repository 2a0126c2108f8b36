"""The Kubernetes actuator against a local API server that speaks the real REST wire format."""

import pytest

from immune_common.config import ConfigError
from immune_sidecar.actuate import APPLY_ACTION, QUARANTINE, RELEASE, Command
from immune_sidecar.actuate.kube import KubernetesActuator, KubeTarget, PodApi
from immune_sidecar.app import Sidecar
from immune_sidecar.config import ActuatorConfig, SidecarConfig
from tests.support.agents import SETTLED, Profile, SimAgent
from tests.support.control import wait_for
from tests.support.sidecar import start_sidecar

from .kube_api import FakeKubeApi, pod

TOKEN = "service-account-token"
POD = "research-agent-6d9f-abcde"


@pytest.fixture
def api():
    server = FakeKubeApi(TOKEN, [pod(POD)])
    yield server
    server.shutdown()
    server.server_close()


def actuator(api: FakeKubeApi, token: str = TOKEN, name: str = POD) -> KubernetesActuator:
    return KubernetesActuator(PodApi(KubeTarget(api.url, "agents", name, token)), clock=lambda: 0)


def annotations(api: FakeKubeApi) -> dict:
    return api.pods[("agents", POD)]["metadata"]["annotations"]


def test_quarantine_and_release_annotate_the_pod_with_a_merge_patch(api):
    kube = actuator(api)
    held = kube.apply(Command(QUARANTINE, "research", reason="tool loop", incident_id="inc-1"))
    assert held.ok, held.message
    assert annotations(api)["immune.dev/state"] == "quarantined"
    assert annotations(api)["immune.dev/incident"] == "inc-1"
    assert annotations(api)["team"] == "research"  # merged, not replaced
    method, path, headers, _ = api.requests[-1]
    assert (method, path) == ("PATCH", f"/api/v1/namespaces/agents/pods/{POD}")
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert kube.apply(Command(RELEASE, "research")).ok
    assert annotations(api)["immune.dev/state"] == "released"


def test_reset_agent_deletes_the_pod_for_its_controller_to_restart(api):
    outcome = actuator(api).apply(Command(APPLY_ACTION, "research", "reset_agent"))
    assert outcome.ok and "controller" in outcome.message
    method, _, _, body = api.requests[-1]
    assert method == "DELETE" and body["kind"] == "DeleteOptions"
    assert ("agents", POD) not in api.pods


def test_clone_agent_replaces_the_pod_with_a_clean_copy(api):
    outcome = actuator(api).apply(
        Command(APPLY_ACTION, "research", "clone_agent", incident_id="i9")
    )
    assert outcome.ok, outcome.message
    assert [m for m, *_ in api.requests] == ["GET", "POST", "DELETE"]
    (clone,) = api.pods.values()
    meta = clone["metadata"]
    assert meta["name"].startswith(f"{POD}-clone-")
    assert meta["annotations"]["immune.dev/clone-of"] == POD
    assert meta["labels"]["app"] == "research-agent"
    assert not {"uid", "resourceVersion", "ownerReferences"} & set(meta)
    assert "nodeName" not in clone["spec"]


def test_refusals_are_failed_outcomes_that_quote_the_api_server(api):
    denied = actuator(api, token="stolen").apply(Command(QUARANTINE, "research"))
    assert not denied.ok and "401" in denied.message and "Unauthorized" in denied.message
    missing = actuator(api, name="gone").apply(Command(APPLY_ACTION, "research", "reset_agent"))
    assert not missing.ok and 'pods "gone" not found' in missing.message
    api.shutdown()
    api.server_close()
    down = actuator(api).apply(Command(QUARANTINE, "research"))
    assert not down.ok and "unreachable" in down.message


def test_actions_it_does_not_carry_out_are_left_to_other_actuators(api):
    assert actuator(api).actions == {"reset_agent", "clone_agent"}


def test_outside_kubernetes_without_a_url_is_a_config_error():
    config = SidecarConfig(actuators=(ActuatorConfig(kind="kubernetes"),))
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST"):
        Sidecar(config, environ={})


def test_a_sidecar_annotates_its_pod_when_the_agent_is_quarantined(api, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    kube = ActuatorConfig(
        kind="kubernetes", url=api.url, pod=POD, namespace="agents", token_file=str(token)
    )
    sidecar = start_sidecar(actuators=(ActuatorConfig(), kube))
    try:
        agent = SimAgent("research", "http", sidecar.ports["otlp_http"], seed=5)
        for _ in range(SETTLED):
            agent.interval(Profile())
        agent.interval(Profile(tool_calls=12))
        assert wait_for(lambda: annotations(api).get("immune.dev/state") == "quarantined")
        assert "tool_explosion" in annotations(api)["immune.dev/reason"]
        agent.close()
    finally:
        sidecar.stop()
