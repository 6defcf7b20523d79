"""The report's ROI panel in a real browser: headless Chromium, driven over the DevTools protocol
(--remote-debugging-pipe: JSON messages ending in NUL on file descriptors 3 and 4, no extra package).

The page's JavaScript (report.js) must give the same numbers as looprl/analysis/roi.py on the same
runs and inputs, and a slider moved with the keyboard, as a person would, must change the outputs.
Chromium is found and skipped (or, with CI=true, failed) as in test_analysis_chromium.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from test_analysis_chromium import FLAGS, _chromium
from test_roi import _eval_run, _train_run

from looprl.analysis.report import build_report
from looprl.analysis.roi import RoiInputs, estimate, measure_run
from looprl.analysis.runs import load_run

pytestmark = pytest.mark.chromium


class Page:
    """One headless Chromium with one page, commanded over the DevTools pipe."""

    def __init__(self, exe: str, url: str, profile: Path) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def fds() -> None:  # Chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", url],
            pass_fds=(3, 4),
            preexec_fn=fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id = b"", 0
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        deadline = time.monotonic() + 60
        while self.eval("document.readyState") != "complete" or not self.eval("!!document.querySelector('#roi-table tbody tr')"):
            assert time.monotonic() < deadline, "the report did not finish loading in 60 s"
            time.sleep(0.1)

    def send(self, method: str, session: str | None = None, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self._buf:
                chunk = os.read(self._r, 1 << 16)
                assert chunk, "chromium closed the DevTools pipe"
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply["error"]
                return reply["result"]

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", self.session, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def press(self, key: str, code: int) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", self.session, type=kind, key=key, code=key, windowsVirtualKeyCode=code)

    def table(self) -> list[dict]:
        """The ROI table's numbers: per row, key -> (low, point, high) as the page computed them."""
        return self.eval(
            """Array.from(document.querySelectorAll('#roi-table tbody tr')).map(tr => {
                 const row = {name: tr.cells[0].textContent, text: {}};
                 tr.querySelectorAll('td[data-key]').forEach(td => {
                   const num = v => (v === undefined || v === 'null') ? null : Number(v);
                   row[td.dataset.key] = [num(td.dataset.low), num(td.dataset.point), num(td.dataset.high)];
                   row.text[td.dataset.key] = td.textContent;
                 });
                 return row; })"""
        )

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self._w)
            os.close(self._r)


def _agree(page_rows: list[dict], runs: list[Path], inputs: RoiInputs) -> None:
    for row, path in zip(page_rows, runs, strict=True):
        m = measure_run(load_run(path))
        est = estimate(inputs, m)
        assert row["name"] == m.name
        for key in ("hours_per_year", "labour_savings_per_year", "serving_cost_per_year", "net_savings_per_year", "training_cost", "payback_months"):
            want = [getattr(est[at], key) for at in ("low", "point", "high")]
            assert row[key] == pytest.approx(want, rel=1e-9, abs=1e-9), key
        assert row["break_even_tgc"][1] == pytest.approx(est["break_even_tgc"], rel=1e-12)


def test_roi_panel_agrees_with_python_and_follows_its_sliders(tmp_path):
    exe = _chromium()
    loop = _train_run(tmp_path / "loop", [3600.0, 1800.0])
    runs = [_eval_run(tmp_path / "eval_before"), _eval_run(tmp_path / "eval_after", adapter=str(loop / "checkpoints" / "iter_000002" / "adapter"))]
    out = build_report(runs, tmp_path / "report.html", max_episodes=2)
    # the inputs in the URL, as the other report inputs: a case where the trained run pays back in months
    url = out.resolve().as_uri() + "#tasks_per_month=300&train_price_per_hour=200&serving_price_per_hour=5"
    page = Page(exe, url, tmp_path / "profile")
    try:
        inputs = RoiInputs(tasks_per_month=300, train_price_per_hour=200, serving_price_per_hour=5)
        before = page.table()
        _agree(before, runs, inputs)
        assert before[1]["training_cost"][1] == pytest.approx(1.5 * 200) and 0 < before[1]["payback_months"][1] < 12
        # the measured figures are shown with the file each came from
        measured = page.eval("document.querySelector('#roi-measured tbody').textContent")
        assert "66.7% [20.8% to 93.9%] of 3" in measured and str(runs[1] / "summary.json") in measured and "loop/metrics.jsonl" in measured
        assert page.eval("document.querySelectorAll('#roi-chart svg .roi-line').length") == 2

        # move the tasks-a-month slider three steps right with the keyboard: 300 -> 600 tasks
        page.eval("document.getElementById('roi-tasks_per_month').focus()")
        for _ in range(3):
            page.press("ArrowRight", 39)
        assert page.eval("document.getElementById('roi-tasks_per_month').value") == "600"
        assert page.eval("document.getElementById('roi-tasks_per_month-value').textContent") == "600"
        after = page.table()
        assert after[1]["net_savings_per_year"][1] == pytest.approx(2 * before[1]["net_savings_per_year"][1])  # linear in N
        assert after[1]["text"]["net_savings_per_year"] != before[1]["text"]["net_savings_per_year"]
        _agree(after, runs, inputs.model_copy(update={"tasks_per_month": 600}))

        # checking slower than doing: minutes_checking to its maximum makes the break-even unreachable
        page.eval("const s = document.getElementById('roi-minutes_checking'); s.focus()")
        page.press("End", 35)
        assert page.eval("document.getElementById('roi-minutes_checking').value") == "60"
        assert "(unreachable)" in page.table()[0]["text"]["break_even_tgc"]
    finally:
        page.close()
