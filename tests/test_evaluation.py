"""The evaluation harness on tiny scenarios: its scores, its policies, its real pipeline."""

import dataclasses
import itertools
import math
import random
import statistics

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.evaluation import __main__ as evaluation_main
from bench.evaluation import creeps, days, detection, fleet, healing, scoring
from bench.evaluation.detection import Alarm
from bench.evaluation.scenario import (
    SCALED,
    WARMUP,
    WIDER,
    Episode,
    generate,
    healthy_spread,
    interval_vitals,
)
from bench.evaluation.spans import SdkSpanRecorder, SpanRecorder
from bench.evaluation.workload import HEALTHY, Effect, Recorder, SdkRecorder, draw
from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig
from immune_sidecar.detect import BaselineSettings


def test_scenarios_are_reproducible_by_seed_and_label_every_fault():
    one, again, other = generate(3, 6, 12), generate(3, 6, 12), generate(4, 6, 12)
    assert one.episodes == again.episodes and one.agents == again.agents
    assert one.episodes != other.episodes
    recorded = [a.traits.advised_buckets for a in generate(1, 60, 2).agents]
    assert 0 < recorded.count(False) < recorded.count(True)  # some on the SDK's buckets
    assert one.episodes, "twelve hours of six agents should hold faults"
    for e in one.episodes:
        assert WARMUP <= e.onset < e.end <= one.intervals and e.magnitude > 0
        assert one.episode_at(e.agent, e.onset) == e and one.episode_at(e.agent, e.end) is None


def test_a_perfect_detector_scores_one_and_a_silent_one_scores_zero_recall():
    scenario = generate(5, 6, 12)
    perfect = [Alarm(e.agent, e.onset, tuple(sorted(e.expected)), 5.0) for e in scenario.episodes]
    best = scoring.score(scenario, perfect)
    assert (best.recall, best.big_recall, best.false_alarms) == (1.0, 1.0, 0)
    assert best.median_delay == 1 and best.false_per_1000_hours == 0.0
    assert all(t.precision == 1.0 for t in best.types)
    assert all(k.recall == 1.0 and k.right_type_recall == 1.0 for k in best.kinds)
    silent = scoring.score(scenario, [])
    assert (silent.recall, silent.big_recall, silent.detected) == (0.0, 0.0, 0)
    assert math.isinf(silent.median_delay)
    assert silent.types == () and all(k.right_type_recall == 0.0 for k in silent.kinds)


def test_faults_are_scored_by_the_calls_their_agent_made_in_them_too():
    fleet = generate(5, 4, 10)
    # Idle the first 40% of each two-hour cycle (48 intervals), then busy.
    traits = dataclasses.replace(fleet.agents[0].traits, idle_share=0.4, phase=0.0)
    agent = dataclasses.replace(fleet.agents[0], traits=traits)
    quiet = Episode(agent.name, "latency_storm", 121, 160, 5.0, "step")
    busy = Episode(agent.name, "latency_storm", 170, 230, 5.0, "step")
    scenario = dataclasses.replace(fleet, agents=(agent,), episodes=(quiet, busy))
    assert scenario.calls_during(quiet) == pytest.approx(0.03 * traits.operations)
    assert scenario.calls_during(busy) > 3
    caught = scoring.score(scenario, [Alarm(agent.name, 171, ("latency_spike",), 5.0)])
    bands = [(b.kind, b.episodes, b.detected) for b in caught.bands]
    assert bands == [("3 or more", 1, 1), ("under 1", 1, 0)]
    assert scoring.pool([caught, caught]).bands[1] == scoring.KindScore("under 1", 2, 0, 0)


def test_a_drift_shorter_than_its_ramp_is_scored_by_the_size_it_reached():
    scenario = dataclasses.replace(generate(5, 4, 10), episodes=())
    agent = scenario.agents[0].name
    short = Episode(agent, "latency_storm", 100, 115, 5.0, "drift")  # half its 30-interval ramp
    full = Episode(agent, "latency_storm", 200, 240, 5.0, "drift")
    assert (short.reached, full.reached) == (2.5, 5.0)
    scored = scoring.score(dataclasses.replace(scenario, episodes=(short, full)), [])
    assert (scored.episodes, scored.big_episodes) == (2, 1)


@pytest.fixture(scope="module")
def retrying_agent():
    """An agent whose client retries every failure twice: most of its retries are those."""
    fleet = generate(5, 4, 10)
    traits = dataclasses.replace(fleet.agents[0].traits, retry_rate=0.01, error_rate=0.03,
                                 retries_per_error=2, idle_share=0.0)  # fmt: skip
    means, sigmas = healthy_spread(traits, random.Random(1), samples=20_000)
    agent = dataclasses.replace(fleet.agents[0], traits=traits, means=means, sigmas=sigmas,
                                deploy=None, model_change=None)  # fmt: skip
    return dataclasses.replace(fleet, agents=(agent,), episodes=())


def _mean_during(scenario, episode: Episode, vital: str, draws: int = 4000) -> float:
    agent, rng = scenario.agents[0], random.Random(2)
    effect = dataclasses.replace(scenario, episodes=(episode,)).effect(agent, episode.end - 1)
    intervals = (draw(agent.traits, effect, rng.uniform(0, 86_400), rng) for _ in range(draws))
    return sum(interval_vitals(ops, agent.traits)[vital] for ops in intervals) / draws


@pytest.mark.parametrize("kind", sorted(SCALED))
def test_a_fault_moves_its_vital_by_the_sigma_it_is_labelled_with(retrying_agent, kind):
    # Retries a client makes after failures are not the retry storm's to scale, and a
    # failed call makes no tool calls: both once made faults other than their labels.
    agent, vital = retrying_agent.agents[0], SCALED[kind][1]
    step = Episode(agent.name, kind, 100, 140, 4.0, "step")
    shift = (_mean_during(retrying_agent, step, vital) - agent.means[vital]) / agent.sigmas[vital]
    assert shift == pytest.approx(4.0, rel=0.1)
    creep = Episode(agent.name, kind, 100, 140, 8.0, "creep", ceiling=1.5)
    assert _mean_during(retrying_agent, creep, vital) / agent.means[vital] == pytest.approx(
        1.5, rel=0.06
    )


def test_the_creep_bound_is_when_a_test_knowing_the_creep_would_see_it():
    fleet = generate(5, 4, 10)
    agent = dataclasses.replace(fleet.agents[0], means={"latency": 2.0}, sigmas={"latency": 0.1})
    scenario = dataclasses.replace(fleet, agents=(agent, *fleet.agents[1:]), episodes=())
    creep = Episode(agent.name, "latency_storm", 100, 160, 20.0, "creep")
    # σ is 5% of the level, so the creep is t σ after t intervals: Σt² = 1, 5, 14, 30, 55
    bound = [scoring.creep_bound(scenario, creep, z) for z in (1.0, 3.5, 5.4, 7.4)]
    assert bound == [1.0, 3.0, 4.0, 5.0]
    capped = dataclasses.replace(creep, ceiling=1.05)  # one σ, and no more, for 60 intervals
    assert scoring.creep_bound(scenario, capped, 7.0) == 49.0
    assert scoring.creep_bound(scenario, capped, 8.0) == math.inf
    noisier = dataclasses.replace(agent, sigmas={"latency": 0.2})
    slower = dataclasses.replace(scenario, agents=(noisier, *scenario.agents[1:]))
    assert scoring.creep_bound(slower, creep, 5.4) == 7.0  # Σt²/4: 22.75 at 6, 35 at 7
    injection = dataclasses.replace(creep, kind="prompt_injection")
    assert scoring.creep_bound(scenario, injection, 5.4) == 1.0
    caught = scoring.score(dataclasses.replace(scenario, episodes=(creep,)),
                           [Alarm(agent.name, 107, ("latency_spike",), 3.0)])  # fmt: skip
    assert caught.creep_delays == (8,) and caught.creep_bounds == (4.0,)


def test_creeps_a_vital_alone_shows_are_told_by_their_vital_s_spread():
    fleet = generate(5, 4, 10)
    steady, noisy = (
        dataclasses.replace(a, means={"latency": 2.0, "tool_calls": 3.0},
                            sigmas={"latency": 0.1, "tool_calls": 1.5})
        for a in fleet.agents[:2]
    )  # fmt: skip
    episodes = (
        Episode(steady.name, "latency_storm", 100, 160, 20.0, "creep"),  # σ 5% of the level
        Episode(noisy.name, "tool_loop", 100, 160, 20.0, "creep"),  # σ 50%
        Episode(noisy.name, "prompt_injection", 200, 260, 20.0, "creep"),  # shown at once
        Episode(steady.name, "latency_storm", 300, 360, 20.0, "creep"),  # not caught
    )
    scenario = dataclasses.replace(fleet, agents=(steady, noisy, *fleet.agents[2:]),
                                   episodes=episodes)  # fmt: skip
    alarms = [Alarm(steady.name, 104, ("latency_spike",), 3.0),
              Alarm(noisy.name, 129, ("tool_explosion",), 3.0),
              Alarm(noisy.name, 200, ("prompt_change",), 9.0)]  # fmt: skip
    s = scoring.score(scenario, alarms, budget=BaselineSettings().false_alarms_per_1000_hours)
    assert sorted(s.creep_delays) == [1, 5, 30]  # the injection's too
    rows = {row.band: row for row in s.creeps_by_spread()}
    assert set(rows) == {"under 10%", "40% or more"}
    steady_row, noisy_row = rows["under 10%"], rows["40% or more"]
    assert (steady_row.faults, steady_row.caught, steady_row.delay) == (2, 1, 5)
    assert (noisy_row.faults, noisy_row.caught, noisy_row.delay) == (1, 1, 30)
    assert steady_row.bound < noisy_row.bound  # the bound grows with the spread


def test_alarms_on_healthy_agents_are_false_quarantines_per_healthy_hour():
    scenario = dataclasses.replace(generate(5, 4, 10), episodes=())
    agent = scenario.agents[0].name
    alarms = [Alarm(agent, i, ("latency_spike",), 2.0) for i in range(0, 600, 60)]
    s = scoring.score(scenario, alarms)
    assert s.false_alarms == 10 and s.healthy_agent_hours == 40.0
    assert s.false_per_1000_hours == 250.0
    latency = next(t for t in s.types if t.anomaly == "latency_spike")
    assert (latency.precision, latency.alarms) == (0.0, 10)


def test_an_idle_agent_s_silence_after_a_fault_is_not_grace_spent():
    scenario = dataclasses.replace(generate(5, 4, 10), episodes=())
    agent = scenario.agents[0].name
    fault = Episode(agent, "token_explosion", 100, 130, 5.0, "step")
    scenario = dataclasses.replace(scenario, episodes=(fault,))
    late = Alarm(agent, 138, ("input_token_spike",), 2.0)  # 8 intervals after; grace is 5
    assert scoring.score(scenario, [late]).false_alarms == 1
    first_call_since = dataclasses.replace(late, quiet=6)  # silent from interval 132 on
    scored = scoring.score(scenario, [first_call_since])
    assert (scored.false_alarms, scored.detected) == (0, 1)
    at_once = Alarm(agent, 100, ("input_token_spike",), 9.0, quiet=20)  # silent before it
    assert scoring.score(scenario, [at_once]).median_delay == 1
    healthy = Alarm(agent, 160, ("input_token_spike",), 2.0, quiet=20)  # 30 after, silent 20
    assert scoring.score(scenario, [healthy]).false_alarms == 1


def test_an_alarm_notes_the_intervals_its_agent_was_silent_before_it():
    base = generate(5, 4, 6)
    traits = dataclasses.replace(base.agents[0].traits, idle_share=0.6, operations=3.0)
    agent = dataclasses.replace(base.agents[0], traits=traits, deploy=None, model_change=None)
    scenario = dataclasses.replace(base, agents=(agent,), episodes=())
    jumpy = BaselineSettings(sigma_threshold=1.0, min_samples=3)  # alarms at every rise
    alarms = detection.run(scenario, {"jumpy": jumpy})["jumpy"]
    rng, calls = random.Random(f"{scenario.seed}:{agent.name}"), []
    for index in range(scenario.intervals):  # the same draws the run made
        now = (index + 1) * scenario.interval_seconds
        calls.append(len(draw(traits, scenario.effect(agent, index), now, rng)))
    for alarm in alarms:
        before = calls[: alarm.index]
        since_last_call = next((i for i, c in enumerate(reversed(before)) if c), len(before))
        assert alarm.quiet == since_last_call, alarm
    assert any(a.quiet > 0 for a in alarms)


def read_alike(agent, recorders, effect_at, parse, read) -> list[list]:
    """The samples two sidecars read from two recorders' exports of the same twelve
    intervals of the agent's work (``read`` picks the mapper's method for the signal)."""
    rng = random.Random(1)
    readers = [Sidecar(SidecarConfig(actuators=(), max_requests_per_second=0)) for _ in "ab"]
    seen: list[list] = [[], []]
    try:
        for index in range(12):
            effect, now = effect_at(index), 1000.0 + 60.0 * index
            ops = draw(agent.traits, effect, index * 60.0, rng)
            for recorder, reader, found in zip(recorders, readers, seen, strict=True):
                request = parse(recorder.export(agent.traits, effect, ops, now))
                found.extend(read(reader.mapper)(request, now).samples)
    finally:
        for recorder in recorders:
            recorder.close()
        for reader in readers:
            reader.runner.close()
    return seen


def assert_read_alike(ours: list, sdk: list) -> None:
    for a, b in zip(ours, sdk, strict=True):
        assert (a.operations, a.attempts, a.prompt_hash) == (b.operations, b.attempts,
                                                             b.prompt_hash)  # fmt: skip
        assert a.values.keys() == b.values.keys()
        assert all(math.isclose(a.values[k], b.values[k], rel_tol=1e-9) for k in a.values)


@pytest.mark.parametrize("advised", [True, False], ids=["advised-buckets", "sdk-buckets"])
def test_the_fast_otlp_builder_reads_as_the_sdk_s_own_export(advised):
    """The evaluation builds OTLP bytes itself for speed; a sidecar must read exactly what the
    OpenTelemetry SDK's recording and encoder would have sent for the same work (durations
    on the conventions' buckets, or on the SDK's defaults: then no median)."""
    agent = generate(2, 4, 2).agents[3]
    recorders = (Recorder(agent.name, advised), SdkRecorder(agent.name, advised))
    ours, sdk = read_alike(
        agent, recorders, lambda i: Effect(model="gpt-4.1") if i > 8 else HEALTHY,
        ExportMetricsServiceRequest.FromString, lambda mapper: mapper.map,
    )  # fmt: skip
    # The SDK starts its cumulative streams at the first measurement, after these sidecars
    # started, so its first export counts; the builder's streams began before (a reference).
    assert len(sdk) == len(ours) + 1 == 12
    assert_read_alike(ours, sdk[1:])
    assert all(("latency_median" in sample.values) is advised for sample in ours)


def test_the_fast_span_builder_reads_as_the_sdk_s_own_spans():
    """Agents that send spans alone: the sidecar reads the same vitals from the builder's
    requests as from the OpenTelemetry SDK's tracer and encoder for the same work, and
    every vital a fault moves is there (latency and the calls' median, tokens, tools,
    retries, errors, cost, answers, the prompt)."""
    agent = generate(2, 4, 2).agents[1]
    recorders = (SpanRecorder(agent.name), SdkSpanRecorder(agent.name))
    changed = Effect(model="gpt-4.1", prompt_suffix="-x", retry_rate=30.0)
    ours, sdk = read_alike(
        agent, recorders, lambda i: changed if i > 8 else Effect(retry_rate=30.0),
        ExportTraceServiceRequest.FromString, lambda mapper: mapper.map_spans,
    )  # fmt: skip
    assert len(ours) == len(sdk) == 11  # the first spans wait a minute
    assert_read_alike(ours, sdk)
    assert ours[0].values.keys() >= {
        "latency", "latency_median", "input_tokens", "tool_calls", "retries", "error_rate",
        "cost", "invocations",
    }  # fmt: skip
    assert ours[-1].prompt_hash != ours[0].prompt_hash
    assert ours[-1].values["cost"] > ours[0].values["cost"]
    assert ours[0].values["retries"] > 0


def test_false_alarm_and_recall_intervals_are_the_exact_ones():
    low, high = scoring.poisson_interval(0)
    assert low == 0.0 and math.isclose(high, 3.6889, rel_tol=1e-4)
    low, high = scoring.poisson_interval(10)
    assert math.isclose(low, 4.7954, rel_tol=1e-4) and math.isclose(high, 18.3904, rel_tol=1e-4)
    low, high = scoring.wilson(95, 100)
    assert math.isclose(low, 0.8882, rel_tol=1e-3) and math.isclose(high, 0.9785, rel_tol=1e-3)


def test_a_large_fault_goes_through_the_real_pipeline_and_is_caught_at_once():
    base = generate(7, 3, 3)
    agent = base.agents[0].name
    # Once its deploy (at 106) is settled, 60 samples on: a younger baseline's excursion
    # waits up to two intervals.
    fault = Episode(agent, "tool_loop", 170, 179, 20.0, "step")
    scenario = dataclasses.replace(base, episodes=(fault,))
    alarms = detection.run(scenario, {"default": BaselineSettings()})["default"]
    caught = [a for a in alarms if a.agent == agent and fault.onset <= a.index < fault.end]
    assert caught and caught[0].index == fault.onset, alarms
    assert "tool_explosion" in caught[0].types
    assert scoring.score(scenario, alarms).big_recall == 1.0


def test_the_processes_running_a_fleet_change_none_of_its_alarms():
    """Shared shifts are judged among one sidecar's agents: the fleet's split between
    sidecars is the scenario's, whether one process runs it or two."""
    base = generate(3, 8, 4)
    slowdown = (150, 170, 3.0)  # three times slower for everyone: four agents a sidecar
    scenario = dataclasses.replace(base, episodes=(), slowdowns=(slowdown,))
    settings = {"default": BaselineSettings()}
    one = detection.run(scenario, settings, workers=1)["default"]
    two = detection.run(scenario, settings, workers=2)["default"]
    assert sorted(one, key=repr) == sorted(two, key=repr)
    assert any(150 <= a.index < 170 for a in one), one


def test_the_random_policy_is_reproducible_by_seed():
    cases = healing.cases(2, 80)
    first, again = healing.run("random", cases, seed=9), healing.run("random", cases, seed=9)
    assert [o.actions for o in first] == [o.actions for o in again]
    assert [o.actions for o in first] != [o.actions for o in healing.run("random", cases, 10)]


def test_fleet_memory_learns_a_cure_deep_in_the_ladder():
    # A tool loop reads as an infinite loop, whose ladder tries revoke_tools before the cure.
    cases = [c for c in healing.cases(4, 200) if c.fault == "tool_loop"]
    fixed = healing.score("fixed ladder", healing.run("fixed ladder", cases))
    fleet_memory = healing.score("fleet memory", healing.run("fleet memory", cases))
    assert fixed.warm_mean_actions == 2.0
    assert fleet_memory.warm_mean_actions == 1.0
    assert fleet_memory.healed_share == fixed.healed_share == 1.0


def test_uncurable_faults_go_to_a_human_under_every_policy():
    cases = [c for c in healing.cases(6, 300) if not c.cures]
    for policy in healing.POLICIES:
        s = healing.score(policy, healing.run(policy, cases))
        assert (s.healed_share, s.escalated_share) == (0.0, 1.0)


@pytest.mark.timeout(900)  # a real control and sidecar, twice, on a possibly busy machine
def test_the_quarantine_cap_keeps_most_of_the_fleet_serving_through_a_shared_outage():
    # Eight intervals: on settled baselines, every struck agent is held by the fifth.
    capped = fleet.run(0.3, agents=10, intervals=8)
    uncapped = fleet.run(1.0, agents=10, intervals=8)
    assert capped.struck == uncapped.struck == 8
    # Control holds at most 30% of 10 (3), false alarms included; without a cap all 8 struck.
    assert capped.lowest >= 7 / 10, capped.serving
    assert uncapped.lowest <= 2 / 10, uncapped.serving


def test_the_detection_tables_print_every_column_the_targets_are_read_from(capsys):
    argv = ["detection", "--tuned", "3", "--held-out", "4", "--wider", "5", "--agents", "6",
            "--hours", "6"]  # fmt: skip
    assert evaluation_main.main([*argv, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    for column in ("false/1000 h (95%)", "recall ≥3σ (95%)", "5%/interval TTD (bound)"):
        assert out.count(column) == 1, column
    for column in ("right-type recall  lowest seed", "alarms  precision", "calls an interval  "):
        assert out.count(column) == 3, column  # tuned seeds', held-out seeds', wider noise's
    assert "all tuned" in out and "all held-out" in out and "all wider" in out
    # Of the three fleets, only seed 4's holds creeps (two latency storms): one table of them.
    assert out.count("5%/interval creeps by σ/level  faults  caught  TTD (bound)") == 1


def test_a_creep_on_a_steady_level_is_caught_about_when_its_cusum_on_exact_z_scores_is():
    """The detector's learning costs a creep a few intervals over its own CUSUM run on the
    creep's exact z-scores; no test, the ramp's own or one knowing the onset, is much sooner,
    and every one is later on a noisier level."""
    quiet, noisy = creeps.run((0.1, 0.3), runs=8)
    for row in (quiet, noisy):
        assert row.bound <= min(row.detector, row.cusum, row.ramp)
        assert row.detector <= 1.5 * row.cusum, row
        assert row.cusum <= row.ramp + 2, row  # (the CUSUM is tuned to a step, not a ramp)
    assert all(q < n for q, n in zip(quiet[1:], noisy[1:], strict=True))
    assert quiet.bound > 5  # a 5%-an-interval creep on a 10% spread: 5 is out of reach


def test_a_creep_of_5_percent_an_interval_on_a_5_percent_spread_is_caught_within_5():
    """The target's drift where a drift of 5% an interval is one spread an interval: the
    detector's median is 5 intervals, one over a test that knows the onset."""
    (row,) = creeps.run((0.05,), runs=8)
    assert row.detector <= 5 and row.bound >= 4, row


def test_the_creeps_table_prints_each_test_s_delay(capsys):
    assert evaluation_main.main(["creeps", "--creeps", "2"]) == 0
    out = capsys.readouterr().out
    assert "detector  its CUSUM, exact  ramp test, exact  bound" in out
    assert out.count("\n  0.") == len(creeps.SPREADS)


def test_a_wider_noise_fleet_draws_the_same_agents_and_faults_with_wider_noise():
    """The wider fleet differs in its agents' noise alone (the draws line up), and its
    noise reaches past every tuned range."""
    tuned, wider = generate(2, 40, 12), generate(2, 40, 12, noise=WIDER)
    assert [a.name for a in tuned.agents] == [a.name for a in wider.agents]
    assert [(e.agent, e.kind, e.onset) for e in tuned.episodes] == [
        (e.agent, e.kind, e.onset) for e in wider.episodes
    ]
    bursts = [a.traits.burst_factor for a in wider.agents]
    assert max(bursts) > 2.5 and all(a.traits.straggler_factor == 10.0 for a in wider.agents)
    assert all(a.traits.burst_factor <= 2.5 for a in tuned.agents)


def test_an_agent_exporting_every_15_seconds_is_judged_once_an_interval_on_all_its_calls():
    """Part of the fleet exports more often than the interval (as an SDK configured so
    would): its calls are spread over the exports and the sidecar judges one sample a
    minute of all of them, as it does an agent exporting once a minute."""
    scenario = generate(3, 8, 1)
    agent = scenario.agents[0]
    fast = dataclasses.replace(agent, traits=dataclasses.replace(agent.traits, export_seconds=15.0))
    name = agent.name
    spread = detection.exports(fast.traits, list(range(10)), 120.0, 60.0)
    assert [at for at, _ in spread] == [75.0, 90.0, 105.0, 120.0]
    assert sorted(op for _, part in spread for op in part) == list(range(10))
    clock = detection.SimClock()
    bench = detection.Bench(BaselineSettings(), clock)
    recorders, rngs = {name: Recorder(name)}, {name: random.Random(1)}
    try:
        for index in range(12):
            clock.now = (index + 1) * 60.0
            detection._interval(scenario, [fast], index, clock, {"d": bench}, recorders, rngs,
                                {name: 0})  # fmt: skip
            assert clock.now == (index + 1) * 60.0
        record = bench.sidecar.agents.get(name)
        # The first export is a reference; then the first work is judged alone, and after
        # it a sample every minute (cut 15 s into the interval: the export nearest 60 s on).
        assert record.samples in (12, 13) and record.latest.interval_seconds == 60.0
        assert record.latest.operations > 3 * fast.traits.operations * 0.25
    finally:
        bench.close()
        recorders[name].close()


def test_a_daily_series_counts_an_alarm_in_a_fault_as_caught_and_others_as_false(monkeypatch):
    onsets = [days.FROM_DAY * days.PER_DAY + 100, days.FROM_DAY * days.PER_DAY + 900]
    monkeypatch.setattr(days, "_onsets", lambda rng: onsets)
    early, late = 5, days.FROM_DAY * days.PER_DAY + 500
    alarms = [early, onsets[0] + days.FAULT_INTERVALS + days.GRACE - 1, late]
    monkeypatch.setattr(days, "_alarms", lambda shape, rng, onsets: alarms)
    row = days.run(days.SHAPES[0], range(1, 3))
    # Per series: the first fault caught (in its grace), the second not; one alarm false
    # (before FROM_DAY nothing counts, the agent's day is still being learned).
    assert (row.faults, row.caught, row.false_alarms) == (4, 2, 2)
    assert row.hours == 2 * (days.DAYS - days.FROM_DAY) * 24
    weekly = next(shape for shape in days.SHAPES if shape.from_day == days.FROM_WEEK)
    row = days.run(weekly, range(1, 3))  # the alarm of day 8 falls before its week is judged
    assert (row.caught, row.false_alarms) == (2, 0)
    assert row.hours == 2 * (days.DAYS - days.FROM_WEEK) * 24


def test_the_shapes_not_tuned_on_burst_wander_switch_and_start_afresh_with_each_series():
    """The bursty count bursts in about 3% of its intervals; the wandering level's hour
    means move far more than its noise allows (0.1 over 12 intervals: 0.03), and each
    series walks from its first interval on, so the same seed draws the same series; the
    switching level spends about half its intervals at 1.5×, 3 hours at a time on average,
    and each series starts at its usual level."""
    by_name = {shape.name.split(":")[0]: shape for shape in days.SHAPES}
    rng = random.Random(1)
    counts = [by_name["bursts"].draw(rng, i) for i in range(5000)]
    assert 0.02 < sum(c > 16 for c in counts) / len(counts) < 0.04
    wander = by_name["wandering"].draw
    series = []
    for _ in range(2):
        rng = random.Random(1)
        series.append([math.log(wander(rng, i)) for i in range(2000)])
    assert series[0] == series[1]
    hours = [statistics.fmean(series[0][h : h + 12]) for h in range(0, 2000, 12)]
    assert statistics.stdev(hours) > 0.1
    switching = by_name["switching"].draw
    levels = [switching(random.Random(2), 0)]
    rng = random.Random(1)
    high = [switching(rng, i) > 12.25 for i in range(1, 20_000)]  # (the two levels' midpoint)
    assert 0.4 < sum(high) / len(high) < 0.6
    high = [sum(high[i : i + 5]) > 2 for i in range(len(high) - 4)]  # (noise crossing it: out)
    stays = 1 + sum(a != b for a, b in itertools.pairwise(high))
    assert 25 < len(high) / stays < 50, len(high) / stays
    levels += [switching(random.Random(2), 0)]
    assert levels[0] == levels[1] < 12.25


def test_a_daily_series_is_judged_by_the_real_detector_and_its_faults_are_real():
    shape = days.SHAPES[0]
    rng, onsets = random.Random(1), [days.FROM_DAY * days.PER_DAY]
    alarms = days._alarms(shape, rng, onsets)
    assert any(onsets[0] <= a < onsets[0] + days.FAULT_INTERVALS for a in alarms)
