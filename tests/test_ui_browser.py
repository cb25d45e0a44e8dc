"""The MLflow UI on an hsframe store, in a real browser, and `hsframe ui` itself.

Two real `hsframe run`s of two plugins (tiny in-process models, see test_compare.py) go into a
temporary store; an MLflow server is started on a free 127.0.0.1 port by hsframe.ui.mlflow_server,
and headless Chromium (Debian's /usr/bin/chromium + /usr/bin/chromedriver, through selenium) opens
the experiment's runs page and the compare view of the two runs. The test checks what a user
sees there, and saves screenshots (under tmp_path, and in $HSFRAME_TEST_ARTIFACTS when set).
Without chromium, chromedriver or selenium the browser test skips (CI installs them with
.ci/setup-browser); the `hsframe ui` tests need no browser.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, live_commands, server_answers
from test_compare import TINY, hsframe_run, tiny_plugins

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # nothing leaves the machine


def _browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package")
    if missing:
        return f"not installed: {', '.join(missing)}; run .ci/setup-browser and `pip install selenium` to test the UI in a browser"
    return None


needs_browser = pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")


def ui_metric(value: float) -> str:
    """A metric as the MLflow UI prints it (its Utils.formatMetric, JavaScript rounding and printing)."""
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        mantissa, exp = f"{value:.3e}".split("e")
        return f"{mantissa}e{int(exp)}"
    scale = 1000 if abs(value) < 10 else 100 if abs(value) < 100 else 10
    rounded = math.floor(value * scale + 0.5) / scale  # Math.round: halves go up
    return str(int(rounded)) if rounded == int(rounded) else repr(rounded)


def test_ui_metric_matches_mlflow_formatting():
    assert [ui_metric(v) for v in (0.0, 0.66, 0.6640376, 0.5659984, 1.0, 17.8412, 0.0004567)] == \
        ["0", "0.66", "0.664", "0.566", "1", "17.84", "4.567e-4"]


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory):
    """A store with one run each of two plugins: {run_id: (run name, test_oa)} and the experiment id."""
    import mlflow

    tmp = tmp_path_factory.mktemp("ui")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        plugins = tiny_plugins()
        mp.setattr("hsframe.plugins.get_plugins", lambda: plugins)
        for plugin in ("meanspec", "centerpix"):
            hsframe_run(store, "--plugin", plugin, *TINY, "--seed", "0")
    client = mlflow.MlflowClient(store)
    exp = client.get_experiment_by_name("hsframe")
    runs = {r.info.run_id: (r.info.run_name, r.data.metrics["test_oa"]) for r in client.search_runs([exp.experiment_id])}
    assert sorted(name for name, _ in runs.values()) == ["centerpix-synthetic-pines-s0", "meanspec-synthetic-pines-s0"]
    return store, exp.experiment_id, runs, tmp


@pytest.fixture(scope="module")
def server(request, ui_store):
    """An MLflow server on a free 127.0.0.1 port; stopped by a finalizer whatever the test does."""
    from hsframe.ui import mlflow_server

    store, _, _, tmp = ui_store
    stack = contextlib.ExitStack()
    request.addfinalizer(stack.close)
    return stack.enter_context(mlflow_server(store, "127.0.0.1", 0, env=SERVER_ENV, log_dir=tmp, cwd=tmp))


@pytest.fixture
def browser(request, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"):
        options.add_argument(flag)
    # An explicit driver path: selenium does not go looking for (or downloading) one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    request.addfinalizer(driver.quit)
    driver.set_page_load_timeout(60)
    return driver


def save_artifact(driver, tmp_path: Path, name: str) -> Path:
    """A screenshot under tmp_path, copied to $HSFRAME_TEST_ARTIFACTS when that is set."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if os.environ.get("HSFRAME_TEST_ARTIFACTS"):
        target = Path(os.environ["HSFRAME_TEST_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def wait_for_text(driver, texts: list[str], timeout: float = 90) -> str:
    """Wait until the React app has rendered every one of ``texts``; return the page text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def rendered(d):
        body = d.find_element("tag name", "body").text
        return body if all(t in body for t in texts) else False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(rendered)
    except TimeoutException:
        body = driver.find_element("tag name", "body").text
        raise AssertionError(f"the page never showed {texts} within {timeout} s; it shows:\n{body[:2000]}") from None


def close_assistant(driver) -> None:
    """Close the MLflow Assistant side panel (it hides a third of the page in a screenshot)."""
    for button in driver.find_elements("css selector", "button[aria-label='Close']"):
        if button.is_displayed():
            button.click()
    # The page widens: let the metric grids measure it again, or their first column slides under the names.
    driver.execute_script("window.dispatchEvent(new Event('resize'))")


# The compare view's metrics table is two virtualized grids of 300 px, names | values: only rows
# scrolled into view exist in the page. The values grid scrolls and the names grid follows it one
# scroll late (MLflow 3.17 takes the previous position), so each move goes to y ± 1 first, then y:
# the names land 1 px from the values, which the eye cannot tell. This scrolls until the metric's
# row shows, aligns both grids on it, and returns its value cells left to right with both grids'
# positions.
_METRIC_ROW_JS = """
const [metric, done] = [arguments[0], arguments[arguments.length - 1]];
const section = [...document.querySelectorAll('.du-bois-light-collapse-item')]
  .find(s => s.querySelector('.du-bois-light-collapse-header').textContent.trim() === 'Metrics');
const [names, values] = section.querySelectorAll('.ReactVirtualized__Grid');
const pause = () => new Promise(r => setTimeout(r, 200));
// The names grid has no horizontal scrollbar, so it can scroll 15 px less far than the values.
const max = Math.min(values.scrollHeight - values.clientHeight, names.scrollHeight - names.clientHeight);
const scrollTo = async (y) => {
  y = Math.min(Math.max(0, y), max);
  values.scrollTop = y < max ? y + 1 : y - 1; await pause();  // a real move even at either end
  values.scrollTop = y;
  for (let i = 0; i < 25 && Math.abs(names.scrollTop - values.scrollTop) > 1; i++) await pause();  // a busy CPU
};
const nameRow = () => [...names.querySelectorAll('[style*="top"]')].find(r => r.textContent.trim() === metric);
(async () => { try {
  let rowTop = null;
  for (let top = 0; top <= values.scrollHeight && rowTop === null; top += 200) {
    await scrollTo(top);
    const row = nameRow();
    if (row) rowTop = row.style.top;
  }
  if (rowTop === null) return done(null);
  await scrollTo(Math.max(0, parseFloat(rowTop) - 45));
  values.scrollLeft = 0; await pause();  // the values grid drifts a few px sideways as the page settles
  const cells = [...values.querySelectorAll('[style*="top"]')]
    .filter(c => c.style.top === rowTop)
    .sort((a, b) => parseFloat(a.style.left) - parseFloat(b.style.left))
    .map(c => c.textContent.trim());
  const named = nameRow();
  done({cells: cells, names_top: names.scrollTop, values_top: values.scrollTop, values_left: values.scrollLeft,
        name_beside: Boolean(named) && named.style.top === rowTop});
} catch (e) { done({error: String(e)}); } })();
"""


@needs_browser
def test_runs_of_two_plugins_in_the_mlflow_ui(server, browser, ui_store, tmp_path):
    store, exp_id, runs, _ = ui_store
    ids = sorted(runs, key=lambda rid: runs[rid][0])  # centerpix first, then meanspec
    names = [runs[rid][0] for rid in ids]
    try:
        # The experiment's runs page (the model-training view; the UI opens on GenAI by default).
        browser.get(f"{server.url}/#/experiments/{exp_id}/runs?workflowType=machine_learning")
        text = wait_for_text(browser, names)
        assert "2 matching runs" in text
        close_assistant(browser)
        save_artifact(browser, tmp_path, "mlflow_experiment_runs.png")

        # The compare view of the two runs: the URL scheme the UI's own Compare button uses.
        browser.get(f"{server.url}/#/compare-runs?runs={json.dumps(ids)}&experiments={json.dumps([exp_id])}")
        text = wait_for_text(browser, ["Comparing 2 Runs from 1 Experiment", *names, *ids, "Metrics"])
        assert re.search(r"Run Name:\s*" + r"\s*".join(map(re.escape, names)), text), text[:2000]
        # A shorter page for the screenshot: fold the plots and the long parameter list.
        close_assistant(browser)
        for header in browser.find_elements("css selector", ".du-bois-light-collapse-header"):
            if header.text.strip() in ("Visualizations", "Parameters"):
                header.click()
        browser.set_script_timeout(60)
        found = browser.execute_async_script(_METRIC_ROW_JS, "test_oa")
        assert found and "error" not in found, f"no test_oa row in the compare view's metrics table: {found}"
        expected = [ui_metric(runs[rid][1]) for rid in ids]
        assert found["cells"] == expected, f"test_oa row shows {found['cells']}, MLflow holds {expected}"
        # The screenshot shows the name beside its values.
        assert found["name_beside"] and abs(found["names_top"] - found["values_top"]) <= 1, found
        assert found["values_left"] == 0, found
        body = browser.find_element("tag name", "body").text
        assert "test_oa" in body and all(v in body for v in expected) and all(n in body for n in names)
        browser.execute_script("window.scrollTo(0, 0)")  # run names and the metrics table in one picture
        shot = save_artifact(browser, tmp_path, "mlflow_compare_runs.png")
        assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    except BaseException:
        with contextlib.suppress(Exception):
            save_artifact(browser, tmp_path, "mlflow_failure.png")
        raise


def _processes_with(text: str) -> list[str]:
    """Command lines of live processes holding ``text`` (to prove the server left nothing behind)."""
    return [cmd for _, cmd in live_commands() if text in cmd]


@pytest.mark.skipif(sys.platform != "linux", reason="checks processes through /proc")
def test_hsframe_ui_serves_the_store_and_stops_on_ctrl_c(ui_store):
    store, exp_id, runs, _ = ui_store
    # `hsframe ui` as a user starts it (through its click command: cli.py registers it).
    proc = subprocess.Popen(
        [sys.executable, "-c", "from hsframe.cli.compare import ui; ui(prog_name='hsframe ui')",
         "--tracking-uri", store, "--port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **SERVER_ENV},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"MLflow UI: (http://127\.0\.0\.1:\d+)", "".join(lines))
            url = found.group(1) if found and "Press Ctrl-C" in "".join(lines) else None  # all printed
            time.sleep(0.2)
        assert url, f"no URL printed: {''.join(lines)}"
        assert f"Runs of experiment 'hsframe': {url}/#/experiments/{exp_id}/runs?workflowType=machine_learning" in "".join(lines)
        search = urllib.request.Request(f"{url}/ajax-api/2.0/mlflow/runs/search", method="POST",
                                        data=json.dumps({"experiment_ids": [exp_id]}).encode(),
                                        headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(search, timeout=10) as resp:
            served = {r["info"]["run_id"] for r in json.load(resp)["runs"]}
        assert served == set(runs)  # the store we named, not another one
        port = url.rsplit(":", 1)[1]
        assert _processes_with(f"--port {port}")  # the server runs...
        proc.send_signal(signal.SIGINT)  # ...until Ctrl-C
        assert proc.wait(60) == 0, "".join(lines)
        reader.join(10)
        assert "MLflow UI stopped (Ctrl-C)." in "".join(lines)
        assert not server_answers(url)
        assert _processes_with(f"--port {port}") == []  # workers included
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # lets `hsframe ui` stop its server before it goes
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _fake_server(monkeypatch, script: str) -> None:
    """Stand-in for `mlflow server`: tests the start-up error paths in a blink, without MLflow."""
    monkeypatch.setattr("hsframe.ui.server_command", lambda *args, **kwargs: [sys.executable, "-c", script])


def test_a_server_that_dies_is_a_clear_error(tmp_path, monkeypatch):
    from hsframe.errors import HsframeError
    from hsframe.ui import mlflow_server

    # What uvicorn prints when the port is taken (seen with mlflow 3.17), then exit.
    _fake_server(monkeypatch, "import sys; print('Started server process'); "
                              "print('ERROR: [Errno 98] error while attempting to bind on address: address already in use', "
                              "file=sys.stderr); sys.exit(1)")
    with pytest.raises(HsframeError) as info:
        with mlflow_server("sqlite:///x.db", "127.0.0.1", 5123, log_dir=tmp_path, timeout=60):
            pytest.fail("a dead server must not be handed out")
    message = str(info.value)
    assert "exited with code 1 before answering at http://127.0.0.1:5123" in message
    assert "Started server process" in message and "address already in use" in message  # its output's tail
    assert "Port 5123 on 127.0.0.1 is taken: pick another --port, or --port 0" in message
    log = re.search(r"Full log: (\S+)\.", message).group(1)
    assert Path(log).parent == tmp_path and "Errno 98" in Path(log).read_text()  # kept for the user


def test_a_server_that_never_answers_is_stopped(tmp_path, monkeypatch):
    from hsframe.errors import HsframeError
    from hsframe.ui import mlflow_server

    marker = f"never-answers-{os.getpid()}"
    _fake_server(monkeypatch, f"import time; print('{marker}', flush=True); time.sleep(600)")
    start = time.monotonic()
    with pytest.raises(HsframeError, match=r"did not answer at http://127\.0\.0\.1:\d+ within 2 s"):
        with mlflow_server("sqlite:///x.db", timeout=2, log_dir=tmp_path):
            pass
    assert time.monotonic() - start < 30
    assert _processes_with(marker) == []  # killed, not left running
