"""The console in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium)
against its own ``pie-local serve``: what a user sees and does on each page.

`make test` installs the browser when it is missing and it runs as root; otherwise these tests
fail with the command to run (a console nobody has looked at is not a passing console).
Screenshots of each page go to ``test-output/console/`` (or ``$PIE_CONSOLE_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.client import Api, mint
from tests.e2e.documents import IN_PROCESS_HANDLERS, model_document, unique_id
from tests.e2e.local_server import LocalServer, serving

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 20
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PIE_CONSOLE_SCREENSHOTS", ROOT / "test-output" / "console"))
# What makes headless Chromium quiet on a machine without internet (no background calls home).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("console") / ".pie-local"
    with serving(home) as running:
        yield running


@pytest.fixture(scope="module")
def pie(console_server: LocalServer) -> Api:
    return Api(console_server.url, mint(console_server.home))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"the console's browser tests need Debian's Chromium and ChromeDriver ({', '.join(missing)} "
            "missing): run `make test` as root, or `sudo apt-get install -y chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as error:
        pytest.fail(f"Chromium did not start: {error.msg}")
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture(scope="module", autouse=True)
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# Helpers ----------------------------------------------------------------------------------------


def open_page(browser: WebDriver, server: LocalServer, route: str) -> None:
    target = f"{server.url}/console/#{route}"
    if browser.current_url == target:
        browser.refresh()
    else:
        browser.get(target)


def wait_for(browser: WebDriver, css: str, text: str | None = None) -> WebElement:
    """The first element matching ``css`` (and containing ``text``), once the page shows it."""

    def found(driver: WebDriver) -> WebElement | bool:
        for element in driver.find_elements(By.CSS_SELECTOR, css):
            if text is None or text in element.text:
                return element
        return False

    try:
        # A page re-renders as its data arrives: an element seen mid-render is looked up again.
        return WebDriverWait(
            browser, WAIT_SECONDS, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
        ).until(found)
    except TimeoutException:
        main = browser.find_element(By.ID, "main").text
        pytest.fail(f"no {css!r}{f' with {text!r}' if text else ''} on the page; it shows:\n{main}")


def save(browser: WebDriver, name: str) -> None:
    """A screenshot of the whole page (the window grows to the page's height for it)."""
    size = browser.get_window_size()
    width, height = size["width"], size["height"]
    page_height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(max(height, page_height + 120), 4000))
    try:
        browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    finally:
        browser.set_window_size(width, height)


def create_model(pie: Api, model_id: str, **overrides: object) -> None:
    reply = pie.post("/v2/models", model_document(model_id, **overrides))
    assert reply.status == 201, reply.body


def subscribe(pie: Api, source: str, target: str, **fields: object) -> str:
    document = {
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "training",
        "input_source": "stored",
        "input": {"from": source},
        **fields,
    }
    reply = pie.post(f"/v2/models/{source}/event-subscriptions", document)
    assert reply.status == 201, reply.body
    return reply.json["id"]


# Tests ------------------------------------------------------------------------------------------


def test_the_console_signs_in_on_its_own_and_lists_the_models(browser, console_server, pie):
    first, second = unique_id("listed"), unique_id("listed")
    create_model(pie, first)
    create_model(pie, second, name="Demand forecast")

    open_page(browser, console_server, "/models")

    row = wait_for(browser, f'tr[data-model="{second}"]')
    assert "Demand forecast" in row.text and "pending" in row.text
    wait_for(browser, f'tr[data-model="{first}"]')
    save(browser, "models")
    browser.set_window_size(420, 900)
    try:
        save(browser, "models-narrow")
    finally:
        browser.set_window_size(1280, 900)


def test_the_models_list_filters_by_status(browser, console_server, pie):
    pending = unique_id("filtered")
    create_model(pie, pending)
    open_page(browser, console_server, "/models")
    wait_for(browser, f'tr[data-model="{pending}"]')

    Select(browser.find_element(By.ID, "filter-status")).select_by_value("active")

    wait_for(browser, "#filter-status")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda driver: "status=active" in driver.current_url)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: not driver.find_elements(By.CSS_SELECTOR, f'tr[data-model="{pending}"]')
    )


def test_a_model_page_shows_the_status_timeline_and_moves_a_version(browser, console_server, pie):
    model_id = unique_id("timeline")
    create_model(pie, model_id)
    moved = pie.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "failed", "status_message": "bad data"})
    assert moved.status == 200, moved.body

    open_page(browser, console_server, f"/models/{model_id}")

    timeline_of(browser, "1", ["pending", "failed"])
    assert "bad data" in wait_for(browser, 'li.version[data-version="1"] ol.timeline li.status-failed').text
    Select(browser.find_element(By.ID, "new-status-1")).select_by_value("pending")
    browser.find_element(By.ID, "status-message-1").send_keys("data fixed")
    browser.find_element(By.CSS_SELECTOR, 'li.version[data-version="1"] button.move-status').click()

    timeline_of(browser, "1", ["pending", "failed", "pending"])
    wait_for(browser, 'li.version[data-version="1"] ol.timeline', "data fixed")
    assert pie.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"] == "pending"
    save(browser, "model")


def timeline_of(browser: WebDriver, version: str, statuses: list[str]) -> list[str]:
    """Waits until the version's timeline lists ``statuses`` (oldest first); returns the entries' text."""
    css = f'li.version[data-version="{version}"] ol.timeline > li'

    def shown(driver: WebDriver) -> list[str] | bool:
        entries = driver.find_elements(By.CSS_SELECTOR, css)
        badges = [entry.find_element(By.CLASS_NAME, "badge").text for entry in entries]
        return [entry.text for entry in entries] if badges == statuses else False

    try:
        return WebDriverWait(
            browser, WAIT_SECONDS, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
        ).until(shown)
    except TimeoutException:
        pytest.fail(
            f"the timeline never showed {statuses}; the page shows:\n{browser.find_element(By.ID, 'main').text}"
        )


# The served document as a console would read it from an API whose rules differ from today's: a
# lifecycle where a failed version may only be retrained, and a single job event.
ALTERED_RULES = {
    "x-pie-lifecycle": {
        "next_statuses": {"pending": ["failed"], "training": ["failed"], "failed": ["training"], "active": []}
    },
    "x-pie-job-events": {"events": [{"name": "inference_complete", "action": "inference", "transition": None}]},
}
SERVE_ALTERED_RULES = """
const served = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const response = await served(input, init);
  if (!String(input).endsWith("/v2/openapi.json")) return response;
  const document = { ...(await response.json()), ...RULES };
  return new Response(JSON.stringify(document), { status: 200, headers: { "Content-Type": "application/json" } });
};
"""


def test_the_console_offers_the_moves_and_events_the_api_publishes(browser, console_server, pie):
    """The lifecycle and the job events come from the API's document (x-pie-lifecycle,
    x-pie-job-events), not from a copy in the console: served other rules, it offers those."""
    model_id = unique_id("rules")
    create_model(pie, model_id)
    assert pie.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": "failed"}).status == 200
    published = pie.get("/v2/openapi.json").json

    open_page(browser, console_server, f"/models/{model_id}")
    offered = [option.get_attribute("value") for option in Select(wait_for(browser, "#new-status-1")).options]
    events = [option.get_attribute("value") for option in Select(wait_for(browser, "#impact-event")).options]

    assert offered == published["x-pie-lifecycle"]["next_statuses"]["failed"]
    assert events == [event["name"] for event in published["x-pie-job-events"]["events"]]

    script = SERVE_ALTERED_RULES.replace("RULES", json.dumps(ALTERED_RULES))
    injected = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    try:
        browser.get("about:blank")
        open_page(browser, console_server, f"/models/{model_id}")
        offered = [option.get_attribute("value") for option in Select(wait_for(browser, "#new-status-1")).options]
        events = [option.get_attribute("value") for option in Select(wait_for(browser, "#impact-event")).options]
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": injected["identifier"]})
        browser.get("about:blank")

    assert offered == ["training"]
    assert events == ["inference_complete"]


@pytest.fixture(scope="module")
def chain(pie: Api) -> dict[str, str]:
    """A → B → C → A: a cycle, with B → C stale (C's handlers changed after it was subscribed)."""
    a, b, c = (unique_id(name) for name in ("chain-a", "chain-b", "chain-c"))
    for model_id in (a, b, c):
        create_model(pie, model_id, handlers=IN_PROCESS_HANDLERS)
    edges = {"ab": subscribe(pie, a, b), "bc": subscribe(pie, b, c), "ca": subscribe(pie, c, a)}
    changed = {
        "training": {"type": "in_process", "implementation": "fail"},
        "inference": IN_PROCESS_HANDLERS["inference"],
    }
    update = {key: value for key, value in model_document(c, handlers=changed).items() if key != "id"}
    reply = pie.put(f"/v2/models/{c}", update)
    assert reply.status == 200, reply.body
    assert pie.get(f"/v2/models/{b}/event-subscriptions/{edges['bc']}").json["status"] == "stale"
    return {"a": a, "b": b, "c": c, **edges}


def test_the_trigger_graph_marks_the_stale_edge_and_the_cycle(browser, console_server, chain):
    open_page(browser, console_server, "/graph")

    stale = wait_for(browser, f'g.edge[data-subscription="{chain["bc"]}"]')
    active = browser.find_element(By.CSS_SELECTOR, f'g.edge[data-subscription="{chain["ab"]}"]')
    assert "status-stale" in stale.get_attribute("class")
    assert "status-active" in active.get_attribute("class")
    line = stale.find_element(By.CLASS_NAME, "edge-line")
    assert line.value_of_css_property("stroke-dasharray") not in ("none", "")
    assert active.find_element(By.CLASS_NAME, "edge-line").value_of_css_property("stroke-dasharray") == "none"
    for edge in ("ab", "bc", "ca"):
        edge_class = browser.find_element(By.CSS_SELECTOR, f'g.edge[data-subscription="{chain[edge]}"]').get_attribute(
            "class"
        )
        assert "in-cycle" in edge_class
    for model in ("a", "b", "c"):
        assert "in-cycle" in browser.find_element(
            By.CSS_SELECTOR, f'a.node[data-model="{chain[model]}"]'
        ).get_attribute("class")
    assert "training_complete → training" in active.text
    note = browser.find_element(By.CLASS_NAME, "cycle-note").text
    assert all(chain[model] in note for model in ("a", "b", "c"))
    save(browser, "graph")


def test_an_edge_opens_its_subscription_and_dry_runs_it(browser, console_server, chain):
    open_page(browser, console_server, "/graph")
    edge = wait_for(browser, f'g.edge[data-subscription="{chain["ab"]}"]')

    edge.find_element(By.CLASS_NAME, "edge-label").click()
    panel = wait_for(browser, ".subscription-panel", chain["b"])
    panel.find_element(By.CLASS_NAME, "dry-run-button").click()

    result = wait_for(browser, ".subscription-panel .dry-run")
    assert "Would fire" in result.text
    assert json.loads(result.find_element(By.CSS_SELECTOR, "pre").text)["model_id"] == chain["b"]
    save(browser, "graph-dry-run")

    # The keyboard reaches edges too: the stale one says why it would not fire.
    stale = browser.find_element(By.CSS_SELECTOR, f'g.edge[data-subscription="{chain["bc"]}"]')
    browser.execute_script("arguments[0].focus()", stale)
    stale.send_keys(Keys.ENTER)
    wait_for(browser, ".subscription-panel", chain["c"]).find_element(By.CLASS_NAME, "dry-run-button").click()
    assert "Would not fire" in wait_for(browser, ".subscription-panel .dry-run").text


def test_pausing_a_subscription_from_the_graph_redraws_it_paused(browser, console_server, pie):
    source, target = unique_id("pause-src"), unique_id("pause-dst")
    create_model(pie, source)
    create_model(pie, target)
    subscription = subscribe(pie, source, target)
    open_page(browser, console_server, "/graph")
    wait_for(browser, f'tr[data-subscription="{subscription}"] button').click()

    wait_for(browser, ".subscription-panel .toggle-subscription", "Pause").click()

    edge = wait_for(browser, f'g.edge.status-paused[data-subscription="{subscription}"]')
    assert "(paused)" in edge.text
    assert pie.get(f"/v2/models/{source}/event-subscriptions/{subscription}").json["status"] == "paused"


def test_training_started_from_the_page_succeeds_in_the_delivery_log(browser, console_server, pie):
    model_id = unique_id("trained")
    contract = {
        "input_schema": {
            "type": "object",
            "required": ["epochs"],
            "properties": {"epochs": {"type": "integer", "minimum": 1}},
        }
    }
    create_model(pie, model_id, handlers=IN_PROCESS_HANDLERS, handler_contracts={"training": contract})
    open_page(browser, console_server, f"/models/{model_id}")
    editor = wait_for(browser, "textarea.json-editor")
    wait_for(browser, ".contract", "epochs")

    editor.clear()
    editor.send_keys('{"epochs": 0}')
    browser.find_element(By.CSS_SELECTOR, "button.start-job").click()
    refused = wait_for(browser, ".outlet .error", "input.epochs should be at least 1")
    assert pie.get(f"/v2/models/{model_id}/jobs").json["jobs"] == [], refused.text

    editor.clear()
    editor.send_keys('{"epochs": 3}')
    browser.find_element(By.CSS_SELECTOR, "button.start-job").click()
    wait_for(browser, ".outlet .ok", "Started training job")
    save(browser, "model-started-training")

    open_page(browser, console_server, f"/jobs?model={model_id}")
    row = wait_for(browser, "tr.job.status-succeeded")
    assert model_id in row.text and "training" in row.text
    save(browser, "delivery-log")
    row.find_element(By.LINK_TEXT, "Open").click()
    wait_for(browser, "h1", "training job")
    assert '"epochs": 3' in wait_for(browser, "pre.json").text
    save(browser, "job")


def test_a_refused_action_shows_pies_message(browser, console_server, pie):
    model_id = unique_id("refused")
    create_model(pie, model_id, handlers=IN_PROCESS_HANDLERS)
    open_page(browser, console_server, f"/models/{model_id}")
    Select(wait_for(browser, "#job-action")).select_by_value("inference")

    browser.find_element(By.CSS_SELECTOR, "button.start-job").click()

    expected = pie.post(f"/v2/models/{model_id}/inference", {"input": {}}).json["message"]
    wait_for(browser, ".outlet .error", expected)


def test_a_failed_job_shows_its_error_in_the_log_and_on_its_page(browser, console_server, pie):
    model_id = unique_id("failing")
    failing = {
        "training": {"type": "in_process", "implementation": "fail"},
        "inference": IN_PROCESS_HANDLERS["inference"],
    }
    create_model(pie, model_id, handlers=failing)
    started = pie.post(f"/v2/models/{model_id}/training", {"input": {"message": "out of memory at epoch 3"}})
    assert started.status == 202, started.body

    open_page(browser, console_server, f"/jobs?model={model_id}&status=failed")

    # The log refreshes itself and replaces its rows: read a row whole, then open the job by its link.
    wait_for(browser, "tr.job.status-failed .job-error", "out of memory at epoch 3")
    save(browser, "delivery-log-failed")
    link = WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda driver: (
            driver.find_element(By.CSS_SELECTOR, "tr.job.status-failed")
            .find_element(By.LINK_TEXT, "Open")
            .get_attribute("href")
        )
    )
    browser.get(link)
    assert "out of memory at epoch 3" in wait_for(browser, "p.job-error").text
    save(browser, "job-failed")


def test_a_failed_job_is_retried_from_the_delivery_log(browser, console_server, pie):
    model_id = unique_id("retried")
    failing = {
        "training": {"type": "in_process", "implementation": "fail"},
        "inference": IN_PROCESS_HANDLERS["inference"],
    }
    create_model(pie, model_id, handlers=failing)
    job_id = pie.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]["id"]
    open_page(browser, console_server, f"/jobs?model={model_id}")

    wait_for(browser, f'tr.job.status-failed[data-job="{job_id}"] button.retry-job').click()

    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda _: (pie.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"].get("attempt") or 0) >= 2
    )
    save(browser, "delivery-log-retried")


def test_the_console_serves_every_asset_itself(browser, console_server):
    """No CDN, no font service: every resource the page loaded came from pie-local."""
    open_page(browser, console_server, "/graph")
    wait_for(browser, "svg.graph, .empty")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources
    assert all(name.startswith(console_server.url) for name in resources), resources


def test_a_job_page_shows_the_chain_it_belongs_to(browser, console_server, pie):
    source, target = unique_id("chain-src"), unique_id("chain-dst")
    create_model(pie, source, handlers=IN_PROCESS_HANDLERS)
    create_model(pie, target, handlers=IN_PROCESS_HANDLERS)
    subscribe(pie, source, target, input_source="trigger_output", input=None)
    source_job = pie.post(f"/v2/models/{source}/training", {"input": {"rows": 10}}).json["job"]["id"]

    open_page(browser, console_server, f"/jobs/{source}/{source_job}")

    fired = wait_for(browser, "ol.chain li", f"Fired training of {target}")
    fired.find_element(By.TAG_NAME, "a").click()
    source_link = wait_for(browser, "ol.chain li", "Source job")
    assert source in source_link.text
    assert '"rows": 10' in wait_for(browser, "pre.json").text
    save(browser, "job-chain")
    source_link.find_element(By.TAG_NAME, "a").click()
    wait_for(browser, "ol.chain li", f"Fired training of {target}")


def test_a_chained_version_shows_its_lineage_and_a_model_its_impact(browser, console_server, pie):
    source, target = unique_id("lineage-src"), unique_id("lineage-dst")
    create_model(pie, source, handlers=IN_PROCESS_HANDLERS)
    create_model(pie, target, handlers=IN_PROCESS_HANDLERS)
    subscribe(pie, source, target, input_source="trigger_output", input=None)
    for run in (1, 2):  # the second run cuts the target's version 2
        source_job = pie.post(f"/v2/models/{source}/training", {"input": {"rows": 10}}).json["job"]["id"]
        wait_until_jobs_settle(pie, target, run)

    open_page(browser, console_server, f"/models/{target}")

    trained = wait_for(browser, 'li.version[data-version="2"] p.trained-by', "Trained by job")
    assert source in trained.text
    trained.find_element(By.CSS_SELECTOR, "button.show-lineage").click()
    steps = wait_for(browser, 'li.version[data-version="2"] ol.lineage-steps', source)
    assert source_job in steps.text and "the root" in steps.text

    open_page(browser, console_server, f"/models/{source}")
    wait_for(browser, "button.show-impact").click()
    node = wait_for(browser, "ul.impact-tree li.would-fire", target)
    assert "training version 3 (cut)" in node.text
    assert "1 job(s)" in wait_for(browser, "p.impact-total").text
    save(browser, "lineage-and-impact")


def wait_until_jobs_settle(pie: Api, model_id: str, count: int) -> None:
    """Until ``model_id`` has ``count`` jobs, every one succeeded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        jobs = pie.get(f"/v2/models/{model_id}/jobs").json["jobs"]
        if len(jobs) == count and all(job["status"] == "succeeded" for job in jobs):
            return
        time.sleep(0.1)
    pytest.fail(f"the jobs of {model_id} never all succeeded: {jobs}")
