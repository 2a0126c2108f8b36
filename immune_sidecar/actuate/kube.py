"""Kubernetes actuator: annotates the agent's pod with its quarantine state, restarts or
replaces the pod, all through the Kubernetes REST API with the pod's service account.

The sidecar runs in the agent's pod, so "the pod" is its own (the downward API
gives its name and namespace). ``reset_agent`` deletes the pod so that its
controller starts a fresh one; ``clone_agent`` creates a copy of the pod first,
then deletes the original.
"""

import dataclasses
import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from .base import APPLY_ACTION, QUARANTINE, RELEASE, Command, Outcome

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ANNOTATION = "immune.dev"
MERGE_PATCH = "application/merge-patch+json"
# Set by the API server or owned by the original pod; a copy must not carry them.
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences")


@dataclasses.dataclass(frozen=True)
class KubeTarget:
    """Where the API server is, how to authenticate, and which pod is the agent's."""

    server: str
    namespace: str
    pod: str
    token: str = ""
    ca_file: str = ""
    timeout_seconds: float = 5.0


def in_cluster(env: dict, pod: str = "", namespace: str = "") -> KubeTarget:
    """The target inside a pod: the service account's token and CA, the downward API's names."""
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ValueError("not inside Kubernetes: KUBERNETES_SERVICE_HOST is not set")
    token = (SERVICE_ACCOUNT / "token").read_text().strip()
    namespace = namespace or (SERVICE_ACCOUNT / "namespace").read_text().strip()
    return KubeTarget(
        f"https://{host}:{port}",
        namespace,
        pod or env.get("POD_NAME") or env.get("HOSTNAME", ""),
        token,
        str(SERVICE_ACCOUNT / "ca.crt"),
    )


class KubeError(Exception):
    """The API server refused a request, or could not be reached."""


class PodApi:
    """The few pod calls the actuator needs, as plain JSON over HTTPS."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target
        self._context = ssl.create_default_context(cafile=target.ca_file or None)
        base = f"{target.server.rstrip('/')}/api/v1/namespaces/{target.namespace}/pods"
        self._pods, self._pod = base, f"{base}/{target.pod}"

    def get(self) -> dict:
        """The agent's pod."""
        return self._call("GET", self._pod)

    def annotate(self, annotations: dict[str, str]) -> dict:
        """Merge these annotations into the pod's."""
        patch = {"metadata": {"annotations": annotations}}
        return self._call("PATCH", self._pod, patch, MERGE_PATCH)

    def delete(self, grace_seconds: int = 30) -> dict:
        """Delete the pod (its controller replaces it)."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace_seconds}
        return self._call("DELETE", self._pod, options)

    def create(self, pod: dict) -> dict:
        """Create a pod in the agent's namespace."""
        return self._call("POST", self._pods, pod)

    def _call(self, method: str, url: str, body=None, content_type="application/json") -> dict:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.target.token:
            headers["Authorization"] = f"Bearer {self.target.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data, headers, method=method)
        try:
            with urllib.request.urlopen(
                request, timeout=self.target.timeout_seconds, context=self._context
            ) as reply:
                return json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise KubeError(_status_message(exc)) from None
        except (OSError, ValueError) as exc:
            raise KubeError(f"Kubernetes API unreachable: {exc}") from None


class KubernetesActuator:
    """Quarantine state as pod annotations; restart and replace the pod as healing actions."""

    actions = frozenset({"reset_agent", "clone_agent"})

    def __init__(self, api: PodApi, clock=time.time) -> None:
        self.name = f"kubernetes pod {api.target.namespace}/{api.target.pod}"
        self._api, self._clock = api, clock

    def apply(self, command: Command) -> Outcome:
        """Carry out ``command`` on the pod; API refusals become a failed outcome."""
        try:
            return Outcome(self.name, True, self._apply(command))
        except KubeError as exc:
            return Outcome(self.name, False, str(exc))

    def _apply(self, command: Command) -> str:
        if command.kind in (QUARANTINE, RELEASE):
            self._api.annotate(self._state(command))
            return f"pod annotated {command.kind}d"
        if command.kind == APPLY_ACTION and command.action == "reset_agent":
            self._api.delete()
            return "pod deleted; its controller starts a fresh one"
        if command.kind == APPLY_ACTION and command.action == "clone_agent":
            clone = self._api.create(_copy(self._api.get(), command))
            self._api.delete()
            return f"pod replaced by {clone.get('metadata', {}).get('name', 'a copy')}"
        return f"{command.action or command.kind} is not a pod-level action"

    def _state(self, command: Command) -> dict[str, str]:
        state = "quarantined" if command.kind == QUARANTINE else "released"
        return {
            f"{ANNOTATION}/state": state,
            f"{ANNOTATION}/reason": command.reason[:256],
            f"{ANNOTATION}/incident": command.incident_id,
            f"{ANNOTATION}/since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock())),
        }


def _copy(pod: dict, command: Command) -> dict:
    """A new pod with the original's spec, labels and annotations, named after it."""
    meta = {k: v for k, v in pod.get("metadata", {}).items() if k not in SERVER_FIELDS}
    original = meta.pop("name", "agent")
    meta["generateName"] = f"{original}-clone-"
    meta["annotations"] = {
        **meta.get("annotations", {}),
        f"{ANNOTATION}/clone-of": original,
        f"{ANNOTATION}/incident": command.incident_id,
    }
    spec = {k: v for k, v in pod.get("spec", {}).items() if k != "nodeName"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _status_message(exc: urllib.error.HTTPError) -> str:
    """The API server's Status message, or the HTTP reason."""
    try:
        status = json.loads(exc.read() or b"{}")
    except ValueError:
        status = {}
    message = status.get("message") or exc.reason
    return f"Kubernetes API answered {exc.code} ({status.get('reason', 'error')}): {message}"
