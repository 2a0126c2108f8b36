"""When a console test fails: a screenshot of the browser and the stacks of this process's
threads (control runs in it), next to the other artifacts."""

import faulthandler
import pathlib

import pytest

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    driver = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / f"failed-{item.name}-threads.txt", "w") as out:
        faulthandler.dump_traceback(out, all_threads=True)
    if driver is not None:
        driver.save_screenshot(str(ARTIFACTS / f"failed-{item.name}.png"))
