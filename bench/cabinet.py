"""`python -m bench.cabinet`: how fast the resident's cabinet paints, in headless chromium,
against a real `kvit serve` on embedded SQLite filled by `kvit demo`.

Each load is a fresh browser context (empty cache). Reported as medians over
KVIT_BENCH_CABINET_LOADS loads (default 15):
- first contentful paint of `/` (the static shell), and of a one-line page (baseline, same run);
- time until the sign-in screen lists the demo residents (config + residents fetched);
- time from clicking a resident until the accounts screen shows the bills.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, running_server

FCP = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"


def main() -> None:
    from playwright.sync_api import sync_playwright

    loads = int(os.environ.get("KVIT_BENCH_CABINET_LOADS", "15"))
    samples: dict[str, list[float]] = {"baseline": [], "shell": [], "sign-in": [], "accounts": []}
    with (
        tempfile.TemporaryDirectory() as home,
        running_server(Path(home)) as srv,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(loads):
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            page.goto("data:text/html,<p>Kvit</p>")  # what chromium alone costs
            page.wait_for_function(f"{FCP} !== null")
            samples["baseline"].append(page.evaluate(FCP))
            page.goto(srv.base + "/")
            page.wait_for_function(f"{FCP} !== null")
            samples["shell"].append(page.evaluate(FCP))
            page.locator('button[data-payer="resident-1-1"]').wait_for()
            samples["sign-in"].append(page.evaluate("performance.now()"))
            start = page.evaluate("performance.now()")
            page.locator('button[data-payer="resident-1-1"]').click()
            page.locator(".bill").first.wait_for()
            samples["accounts"].append(page.evaluate("performance.now()") - start)
            context.close()
        browser.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"cabinet, {loads} cold loads each (medians, ms):")
    for name, value in medians.items():
        print(f"  {name:<9} {value:8.1f}")
    ratio = medians["shell"] / medians["baseline"]
    print(f"  shell first paint / baseline first paint: {ratio:.2f}")


if __name__ == "__main__":
    main()
