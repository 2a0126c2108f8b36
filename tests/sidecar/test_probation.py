"""Probation watches on the sidecar: one pass rule for samples and for the deadline."""

from immune_sidecar.link.probation import Probation, Watch


def _watch(agent: str, needed: int = 3, deadline: float = 100.0) -> Watch:
    return Watch("cmd-" + agent, "inc-" + agent, agent, needed, deadline)


def test_enough_clean_samples_pass_and_end_the_watch():
    probation = Probation()
    probation.start(_watch("a"))
    assert probation.clean("a") is None and probation.clean("a") is None
    ended = probation.clean("a")
    assert ended is not None and ended.seen == 3
    assert probation.clean("a") is None and probation.overdue(1e9) == []


def test_at_the_deadline_one_clean_sample_passes_and_none_fails():
    probation = Probation()
    probation.start(_watch("quiet"))
    probation.start(_watch("one"))
    probation.clean("one")
    assert probation.overdue(99.0) == []
    verdicts = {watch.agent_id: passed for watch, passed in probation.overdue(100.0)}
    assert verdicts == {"quiet": False, "one": True}


def test_a_reinfection_ends_the_watch():
    probation = Probation()
    probation.start(_watch("a"))
    assert probation.infected("a").agent_id == "a"
    assert probation.infected("a") is None and probation.overdue(1e9) == []
