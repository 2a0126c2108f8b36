"""The sign-in form: an API token, checked by control."""

from collections.abc import Awaitable, Callable

from nicegui import ui

from .sessions import SignInError


def login_form(sign_in: Callable[[str], Awaitable[object]]) -> None:
    """A token field and a button; on success the browser goes to the fleet."""

    async def submit() -> None:
        try:
            await sign_in(token.value or "")
        except SignInError as exc:
            problem.set_text(str(exc))
            problem.set_visibility(True)
            return
        ui.navigate.to("/")

    with ui.card().classes("absolute-center w-96 max-w-full"):
        ui.label("Immune").classes("text-xl font-bold")
        ui.label("Sign in with your API token.").classes("text-sm text-grey-7")
        token = ui.input("API token", password=True).props("maxlength=200 autofocus")
        token.classes("w-full").on("keydown.enter", submit)
        problem = ui.label().classes("text-negative text-sm").props('role="alert"')
        problem.set_visibility(False)
        button = ui.button("Sign in", on_click=submit).classes("w-full")
        button.props["aria-label"] = "Sign in"
