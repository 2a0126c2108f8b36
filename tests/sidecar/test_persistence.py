"""Lasting shifts (CUSUM), vitals judged only when lasting, and control's fleet-cap waiver."""

import random

from immune_sidecar.detect import BaselineSettings, Detector
from immune_sidecar.detect.baseline import Baseline
from immune_sidecar.quarantine import HEALTHY, QUARANTINED, QuarantineBook
from immune_sidecar.vitals import VitalSample

CUSUM = {"cusum_slack": 1.5, "cusum_limit": 8.0}


def sample(value: float, at: int, vital: str = "latency") -> VitalSample:
    return VitalSample("a", float(at), 60.0, 10.0, {vital: value})


def trained(settings: BaselineSettings, vital: str = "latency") -> tuple[Detector, int]:
    """A detector that learned latency ≈ 1.0 s with σ ≈ 0.1 s."""
    detector, rng = Detector(settings), random.Random(3)
    for at in range(40):
        assert detector.observe(sample(rng.gauss(1.0, 0.1), at, vital)) is None
    return detector, 40


def first_alarm(detector: Detector, start: int, value: float, vital: str = "latency"):
    """Intervals until a steady ``value`` raises an infection (None within 20)."""
    for n in range(1, 21):
        if detector.observe(sample(value, start + n, vital)) is not None:
            return n
    return None


def test_a_lasting_shift_below_the_threshold_is_caught_only_with_cusum():
    plain, at = trained(BaselineSettings())
    assert first_alarm(plain, at, 1.35) is None  # about 3σ: never crosses 4.5σ at once
    lasting, at = trained(BaselineSettings(**CUSUM))
    assert first_alarm(lasting, at, 1.35) in range(2, 12)
    sudden, at = trained(BaselineSettings(**CUSUM))
    assert first_alarm(sudden, at, 3.0) == 1  # far out: at once, as before


def test_one_straggler_does_not_fill_the_sum_and_the_sum_restarts_after_an_alarm():
    detector, at = trained(BaselineSettings(sigma_threshold=50.0, **CUSUM))
    assert detector.observe(sample(4.0, at + 1)) is None  # 30σ counts as limit/2 at most
    assert detector.observe(sample(4.0, at + 2)) is not None  # a second one in a row does
    assert detector.observe(sample(1.0, at + 3)) is None  # and the sum started afresh


def test_a_lasting_only_vital_alarms_when_lasting_not_on_one_sample():
    settings = BaselineSettings(cusum_slack=1.5, cusum_limit=6.0, lasting_only=("latency_p95",))
    detector, at = trained(settings, "latency_p95")
    assert detector.observe(sample(5.0, at + 1, "latency_p95")) is None
    assert detector.observe(sample(5.0, at + 2, "latency_p95")) is not None


def test_the_cusum_sum_survives_the_state_file():
    base = Baseline(1.0, 0.01, 20, [], excess=3.5)
    assert Baseline.from_json(base.to_json()).excess == 3.5
    older = {k: v for k, v in base.to_json().items() if k != "excess"}
    assert Baseline.from_json(older).excess == 0.0


def test_a_waived_agent_serves_until_control_decides_again():
    book = QuarantineBook(None)
    book.eject("a", "latency_spike", ("latency_spike",), 3.0, "inf-1", 100.0)
    assert book.waive("a", "fleet quarantine cap", "inc-1", 101.0) is True
    assert book.state("a", 102.0) == HEALTHY and book.waived("a")
    assert book.waive("a", "fleet quarantine cap", "inc-1", 103.0) is False  # already serving
    assert book.release("a", 104.0) is True and not book.waived("a")
    book.eject("a", "again", ("latency_spike",), 3.0, "inf-2", 105.0)
    assert book.state("a", 106.0) == QUARANTINED and not book.waived("a")
