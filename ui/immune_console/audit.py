"""The audit log section: who did what, why, when, and how it ended."""

from immune_sdk import names
from nicegui import ui

from .fleet import AUDIT, FleetView
from .shell import section
from .widgets import clock

COLUMNS = [
    {"name": "time", "label": "Time", "field": "time", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left", "sortable": True},
    {"name": "role", "label": "Role", "field": "role", "align": "left", "sortable": True},
    {"name": "method", "label": "What", "field": "method", "align": "left", "sortable": True},
    {"name": "target", "label": "Target", "field": "target", "align": "left"},
    {"name": "reason", "label": "Why", "field": "reason", "align": "left"},
    {"name": "result", "label": "Result", "field": "result", "align": "left", "sortable": True},
]


def audit_rows(entries) -> list[dict]:
    """Audit entries as table rows, newest first."""
    return [
        {
            "key": e.sequence,
            "time": clock(e.time),
            "actor": e.actor,
            "role": names.name(names.ROLE, e.role) or "system",
            "method": e.method,
            "target": e.target,
            "reason": e.reason,
            "result": e.result,
        }
        for e in entries
    ]


class AuditLog:
    """The newest audit entries, redrawn when a decision or automatic step adds one."""

    def __init__(self, view: FleetView) -> None:
        self.view = view
        with section("Audit log"):
            self.table = ui.table(columns=COLUMNS, rows=[], row_key="key")
            self.table.props("dense flat wrap-cells").classes("w-full")
            self.table.props["aria-label"] = "audit log"

    def redraws(self) -> dict:
        """The redraw of the section shown here."""
        return {AUDIT: self.redraw}

    def redraw(self) -> None:
        """Show the entries the feed last loaded."""
        self.table.rows = audit_rows(self.view.audit)
