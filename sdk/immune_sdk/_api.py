"""Every ControlService call once, as request and result; the sync and asyncio clients run them.

Each public method builds its request and hands it to ``_invoke`` with the
part of the response to return; the sync client's ``_invoke`` returns that
value, the asyncio client's returns an awaitable of it.
"""

from collections.abc import Callable, Iterable
from typing import Any

from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api

from . import names

Extract = Callable[[Any], Any]


class Calls:
    """The calls of ControlService with Python arguments; subclasses supply ``_invoke``."""

    def _invoke(self, method: str, request: Any, extract: Extract, read: bool = False) -> Any:
        raise NotImplementedError

    # reads

    def agents(self, status: str = "", query: str = "", page_size: int = 1000):
        """ListAgents: one page of agents, optionally by status or a substring query."""
        request = api.ListAgentsRequest(
            status=names.number(names.STATUS, status) if status else 0,
            query=query,
            page_size=page_size,
        )
        return self._invoke("ListAgents", request, lambda r: list(r.agents), read=True)

    def agents_page(self, page_token: str = "", page_size: int = 1000):
        """ListAgents: one page as the response, with next_page_token and total_size."""
        request = api.ListAgentsRequest(page_size=page_size, page_token=page_token)
        return self._invoke("ListAgents", request, lambda r: r, read=True)

    def agent(self, agent_id: str, sample_limit: int = 120):
        """GetAgent: an agent with its recent samples, baselines, incidents and memory."""
        request = api.GetAgentRequest(agent_id=agent_id, sample_limit=sample_limit)
        return self._invoke("GetAgent", request, lambda r: r, read=True)

    def incidents(self, states: Iterable[str] = (), agent_id: str = "", page_size: int = 100):
        """ListIncidents: newest first, optionally by state names and agent."""
        request = api.ListIncidentsRequest(
            states=[names.number(names.STATE, s) for s in states],
            agent_id=agent_id,
            page_size=page_size,
        )
        return self._invoke("ListIncidents", request, lambda r: list(r.incidents), read=True)

    def incident(self, incident_id: str):
        """GetIncident: one incident with its hypotheses, actions and timeline."""
        request = api.GetIncidentRequest(incident_id=incident_id)
        return self._invoke("GetIncident", request, lambda r: r.incident, read=True)

    def healing_log(self, agent_id: str = "", incident_id: str = "", page_size: int = 100):
        """GetHealingLog: healing actions, newest first."""
        request = api.GetHealingLogRequest(
            agent_id=agent_id, incident_id=incident_id, page_size=page_size
        )
        return self._invoke("GetHealingLog", request, lambda r: list(r.actions), read=True)

    def memory(self, agent_id: str = "", diagnosis: str = ""):
        """GetImmuneMemory: the fleet's entries, and an agent's own when named."""
        request = api.GetImmuneMemoryRequest(
            agent_id=agent_id,
            diagnosis=names.number(names.DIAGNOSIS, diagnosis) if diagnosis else 0,
        )
        return self._invoke("GetImmuneMemory", request, lambda r: r, read=True)

    def policies(self):
        """ListPolicies: the healing ladder of every diagnosis."""
        request = api.ListPoliciesRequest()
        return self._invoke("ListPolicies", request, lambda r: list(r.policies), read=True)

    def stats(self):
        """GetStats: fleet totals, pending approvals, success rate, uptime."""
        return self._invoke("GetStats", api.GetStatsRequest(), lambda r: r, read=True)

    def audit(self, actor: str = "", page_size: int = 100):
        """ListAuditEntries: who did what, newest first."""
        request = api.ListAuditEntriesRequest(actor=actor, page_size=page_size)
        return self._invoke("ListAuditEntries", request, lambda r: list(r.entries), read=True)

    def caller(self):
        """GetCaller: who control takes this client to be, and its role."""
        return self._invoke("GetCaller", api.GetCallerRequest(), lambda r: r, read=True)

    # decisions

    def approve(self, incident_id: str = "", *, agent_id: str = "", reason: str = ""):
        """ApproveHealing: heal a pending incident (by id, or the agent's open one)."""
        request = api.ApproveHealingRequest(target=_target(incident_id, agent_id), reason=reason)
        return self._invoke("ApproveHealing", request, lambda r: r.incident)

    def reject(self, incident_id: str = "", *, agent_id: str = "", reason: str = ""):
        """RejectHealing: keep the agent quarantined and do not heal."""
        request = api.RejectHealingRequest(target=_target(incident_id, agent_id), reason=reason)
        return self._invoke("RejectHealing", request, lambda r: r.incident)

    def heal_now(
        self, incident_id: str = "", *, agent_id: str = "", reason: str = "", action: str = ""
    ):
        """HealNow: heal a rejected or expired incident now, optionally with a chosen action."""
        request = api.HealNowRequest(
            target=_target(incident_id, agent_id),
            reason=reason,
            action=names.number(names.ACTION, action) if action else 0,
        )
        return self._invoke("HealNow", request, lambda r: r.incident)

    def approve_all(self, reason: str = "", agent_ids: Iterable[str] = ()):
        """ApproveAll: every pending incident (of these agents); a result per incident."""
        request = api.ApproveAllRequest(reason=reason, agent_ids=list(agent_ids))
        return self._invoke("ApproveAll", request, lambda r: list(r.results))

    def reject_all(self, reason: str = "", agent_ids: Iterable[str] = ()):
        """RejectAll: every pending incident (of these agents); a result per incident."""
        request = api.RejectAllRequest(reason=reason, agent_ids=list(agent_ids))
        return self._invoke("RejectAll", request, lambda r: list(r.results))

    def heal_all(self, reason: str = "", agent_ids: Iterable[str] = ()):
        """HealAll: every rejected or expired incident (of these agents)."""
        request = api.HealAllRequest(reason=reason, agent_ids=list(agent_ids))
        return self._invoke("HealAll", request, lambda r: list(r.results))

    def upsert_policy(self, diagnosis: str, actions: Iterable[str], reason: str = ""):
        """UpsertPolicy: replace the healing ladder of one diagnosis."""
        policy = pb.Policy(
            diagnosis=names.number(names.DIAGNOSIS, diagnosis),
            actions=[names.number(names.ACTION, a) for a in actions],
        )
        request = api.UpsertPolicyRequest(policy=policy, reason=reason)
        return self._invoke("UpsertPolicy", request, lambda r: r.policy)

    def feedback(
        self, incident_id: str, *, false_positive: bool = False, true_cause: str = "", reason=""
    ):
        """RecordFeedback: a false positive, or the true cause of an incident."""
        request = api.RecordFeedbackRequest(
            incident_id=incident_id,
            false_positive=false_positive,
            true_cause=names.number(names.DIAGNOSIS, true_cause) if true_cause else 0,
            reason=reason,
        )
        return self._invoke("RecordFeedback", request, lambda r: r.feedback)


def _target(incident_id: str, agent_id: str) -> api.Target:
    if bool(incident_id) == bool(agent_id):
        raise ValueError("name exactly one of incident_id or agent_id")
    return api.Target(incident_id=incident_id) if incident_id else api.Target(agent_id=agent_id)
