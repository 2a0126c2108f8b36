"""The frame around every page: header, connection state, and redraws that follow the feed."""

from collections.abc import Callable

from nicegui import ui

from .fleet import FleetView

# How often a page compares section versions (a local check; control is not asked).
SYNC_SECONDS = 0.25


class Header:
    """The top bar: product name, link state, who is signed in; a banner while control is away."""

    def __init__(self, view: FleetView, who: str, title: str = "", sign_out: bool = False) -> None:
        self.view = view
        with ui.header().classes("items-center gap-3 py-2 bg-slate-800"):
            ui.link("Immune", "/").classes("text-lg font-bold text-white no-underline")
            if title:
                ui.label(title).classes("text-white opacity-80 truncate")
            ui.space()
            self.live = ui.badge("live", color="positive")
            self.live.props["aria-label"] = "connected to control"
            ui.label(who).classes("text-white text-sm").props["aria-label"] = "signed in as"
            if sign_out:
                out = ui.button("Sign out", on_click=lambda: ui.navigate.to("/logout"))
                out.props("flat dense no-caps color=white")
                out.props["aria-label"] = "Sign out"
        with ui.row().classes("w-full bg-red-1 text-negative p-2 items-center") as self.banner:
            ui.icon("cloud_off")
            self.problem = ui.label().props('role="alert"')

    def redraw(self) -> None:
        """Show whether control answers (the feed bumps STATS when that changes)."""
        self.live.set_visibility(self.view.connected)
        self.banner.set_visibility(not self.view.connected)
        self.problem.set_text(self.view.problem)


def follow(view: FleetView, *redraws: dict[str, Callable[[], None]]) -> None:
    """Call each redraw once now and again whenever its section's version moves."""
    pairs = [pair for group in redraws for pair in group.items()]
    seen: list[int | None] = [None] * len(pairs)

    def sync() -> None:
        due: dict[Callable, None] = {}  # ordered, and each redraw once per tick
        for n, (section, redraw) in enumerate(pairs):
            version = view.versions[section]
            if seen[n] != version:
                seen[n] = version
                due[redraw] = None
        for redraw in due:
            redraw()

    sync()
    ui.timer(SYNC_SECONDS, sync)


def section(title: str) -> ui.expansion:
    """A collapsible section, open at first."""
    box = ui.expansion(title, value=True).classes("w-full border rounded bg-white")
    return box.props("header-class=text-subtitle1")
