"""The link's outbox on disk: reports kept for control across restarts."""

import base64
import json
import logging

from immune.v1 import link_pb2

from immune_sidecar.link.outbox import Outbox
from immune_sidecar.state import StateDir


def test_a_damaged_kept_report_costs_only_itself(tmp_path, caplog):
    """A kept report that is not base64, or not a link message, is logged and left out;
    the other reports and the carried-out command ids are kept, the file is not set aside."""
    kept = link_pb2.ConnectRequest(message_id="m1").SerializeToString()
    saved = {
        "pending": ["not base64!", base64.b64encode(kept).decode(),
                    base64.b64encode(b"\xff\xff\xff").decode()],
        "applied": ["c1"],
    }  # fmt: skip
    (tmp_path / "link.json").write_text(json.dumps(saved))
    with caplog.at_level(logging.ERROR):
        outbox = Outbox(StateDir(str(tmp_path)), limit=10)
    assert [m.message_id for m in outbox.pending()] == ["m1"]
    assert outbox.applied("c1")
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert [m.split()[2] for m in left_out] == ["0", "2"], left_out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json"]
