"""The console's search box, tag chips and webhook pages in a real headless Chromium, against the
API that now sends tags, answers filters and keeps a delivery log (docs/search.md, docs/webhooks.md).

The browser and helpers are those of ``test_console_in_browser``; this module runs its own
``pie-local serve`` whose webhook retries are fast (the whole schedule in a few seconds), and a
receiver on loopback that fails on demand with a hostile body.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e import test_console_in_browser as console_tests
from tests.e2e.client import Api, mint
from tests.e2e.documents import unique_id
from tests.e2e.local_server import LocalServer, serving
from tests.e2e.test_console_details_in_browser import hostile, injected
from tests.e2e.test_console_in_browser import WAIT_SECONDS, create_model, open_page, save, wait_for

browser = console_tests.browser
screenshots = console_tests.screenshots

pytestmark = pytest.mark.e2e

# Every retry interval (5 s … 10 h) times 1/10,000: a delivery fails for good within about 7 s.
FAST_WEBHOOKS = ("--webhook-backoff-scale", "0.0001", "--webhook-sweep-seconds", "0.2")


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("console-search-webhooks") / ".pie-local"
    with serving(home, *FAST_WEBHOOKS) as running:
        yield running


@pytest.fixture(scope="module")
def pie(console_server: LocalServer) -> Api:
    return Api(console_server.url, mint(console_server.home))


class Receiver:
    """A webhook receiver on loopback: while ``failing``, it answers 500 with ``body``."""

    def __init__(self, body: str) -> None:
        self.body = body.encode()
        self.failing = True
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                receiver.requests += 1
                status, body = (500, receiver.body) if receiver.failing else (204, b"")
                self.send_response(status)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver(hostile("excerpt"))
    yield receiving
    receiving.close()


def register(pie: Api, url: str, **fields: object) -> dict[str, Any]:
    reply = pie.post("/v2/webhooks", {"url": url, "events": ["ping"], **fields})
    assert reply.status == 201, reply.body
    return reply.json["webhook"]


def rows(browser: WebDriver, css: str = "table.models tbody tr") -> list[str]:
    return [row.get_attribute("data-model") for row in browser.find_elements(By.CSS_SELECTOR, css)]


def wait_rows(browser: WebDriver, expected: list[str], ordered: bool = True) -> None:
    def shown(driver: WebDriver) -> bool:
        found = rows(driver)
        return found == expected if ordered else sorted(found) == sorted(expected)

    try:
        WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.1).until(shown)
    except Exception:
        pytest.fail(f"the results are {rows(browser)}, not {expected}")


def search(browser: WebDriver, text: str, order: str | None = None) -> None:
    box = wait_for(browser, "input#search")
    box.clear()
    box.send_keys(text)
    if order is not None:
        Select(browser.find_element(By.ID, "filter-order_by")).select_by_value(order)
        box = wait_for(browser, "input#search")  # choosing an order applies the form at once
    box.send_keys(Keys.ENTER)


def hash_query(browser: WebDriver) -> dict[str, str]:
    fragment = urllib.parse.urlsplit(browser.current_url).fragment
    return dict(urllib.parse.parse_qsl(fragment.partition("?")[2]))


def tagged_model(pie: Api, name: str, tags: dict[str, str]) -> str:
    model_id = unique_id("search")
    create_model(pie, model_id, name=name, tags=tags)
    return model_id


# Search -----------------------------------------------------------------------------------------


def test_the_search_box_sends_the_filter_and_order_and_keeps_them_in_the_url(browser, console_server, pie):
    prefix = unique_id("price")
    first = tagged_model(pie, f"{prefix} alpha", {"team": "pricing"})
    second = tagged_model(pie, f"{prefix} beta", {"team": "pricing"})
    tagged_model(pie, f"{prefix} gamma", {"team": "ops"})
    tagged_model(pie, f"other {prefix}", {"team": "pricing"})
    wanted = f"name LIKE '{prefix}%' AND tags.team = 'pricing'"

    open_page(browser, console_server, "/models")
    search(browser, wanted, order="name DESC")

    wait_rows(browser, [second, first])
    assert hash_query(browser) == {"filter": wanted, "order_by": "name DESC"}
    assert "2 models" in wait_for(browser, ".search-count").text
    chips = browser.find_elements(By.CSS_SELECTOR, f'tr[data-model="{second}"] .tag-chip')
    assert [chip.text for chip in chips] == ["team: pricing"]
    save(browser, "models-search")

    # The search is the URL: opened again (a bookmark, a reload), it is the same search.
    browser.refresh()
    wait_rows(browser, [second, first])
    assert wait_for(browser, "input#search").get_attribute("value") == wanted
    assert Select(browser.find_element(By.ID, "filter-order_by")).first_selected_option.get_attribute("value") == (
        "name DESC"
    )

    Select(browser.find_element(By.ID, "filter-order_by")).select_by_value("name ASC")
    wait_rows(browser, [first, second])
    assert hash_query(browser)["order_by"] == "name ASC"


def test_a_refused_filter_shows_the_servers_message_and_marks_the_position(browser, console_server, pie):
    bad = "name = 'x' OR name = 'y'"
    refused = pie.get(f"/v2/models?filter={urllib.parse.quote(bad)}")
    assert refused.status == 400
    message = refused.json["message"]
    assert "position 11" in message

    open_page(browser, console_server, "/models")
    search(browser, bad)

    shown = wait_for(browser, "#search-outlet .error")
    assert shown.text == message
    box = browser.find_element(By.ID, "search")
    assert box.get_attribute("aria-invalid") == "true"
    assert "search-outlet" in box.get_attribute("aria-describedby")
    assert browser.find_element(By.CSS_SELECTOR, "#search-outlet mark").text == "O"
    assert wait_for(browser, "#search-outlet code.search-at").text == bad
    assert browser.execute_script("return document.activeElement.id") == "search"
    assert not browser.find_elements(By.CSS_SELECTOR, "table.models")
    save(browser, "models-search-refused")


def test_a_search_reads_page_after_page_with_next_token(browser, console_server, pie):
    prefix = unique_id("paged")
    made = sorted(tagged_model(pie, f"{prefix} {index:03d}", {}) for index in range(53))

    open_page(browser, console_server, "/models")
    search(browser, f"name LIKE '{prefix}%'")

    WebDriverWait(browser, WAIT_SECONDS).until(lambda driver: len(rows(driver)) == 50)
    assert "50 models so far" in browser.find_element(By.CSS_SELECTOR, ".search-count").text
    wait_for(browser, "button.more-results").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda driver: len(rows(driver)) == 53)
    assert sorted(rows(browser)) == made  # every model once: none missing, none twice
    assert not browser.find_elements(By.CSS_SELECTOR, "button.more-results")
    assert "53 models" in browser.find_element(By.CSS_SELECTOR, ".search-count").text


def test_clicking_a_tag_chip_searches_for_that_tag(browser, console_server, pie):
    team = unique_id("team")
    model_id = tagged_model(pie, "Chip", {"team": team, "cost/center": "O'Brien"})
    teammate = tagged_model(pie, "Teammate", {"team": team})
    tagged_model(pie, "Stranger", {"team": unique_id("team")})

    open_page(browser, console_server, "/models")
    chip = wait_for(browser, f'tr[data-model="{model_id}"] .tag-chip button.tag-filter', f"team: {team}")
    chip.click()

    wait_rows(browser, [model_id, teammate], ordered=False)  # the index's order: by id
    assert hash_query(browser)["filter"] == f"tags.team = '{team}'"

    # A key with other characters than letters, digits and _ is quoted, and so is a quote.
    open_page(browser, console_server, f"/models/{model_id}")
    wait_for(browser, "h1 + ul.tags button.tag-filter", "cost/center: O'Brien").click()
    wait_rows(browser, [model_id])
    assert hash_query(browser)["filter"] == "tags.`cost/center` = 'O''Brien'"


def test_tags_the_api_sends_show_on_the_model_and_its_versions(browser, console_server, pie):
    model_id = tagged_model(pie, "Tagged", {"team": "pricing"})
    new = pie.post(f"/v2/models/{model_id}/new_version", {"version": "2", "tags": {"dataset": "2026-01"}})
    assert new.status == 201, new.body
    for path, value in (
        (f"/v2/models/{model_id}/tags/owner", "ana"),
        (f"/v2/models/{model_id}/versions/2/tags/stage", "prod"),
    ):
        reply = pie.put(path, {"value": value})
        assert reply.status == 200, reply.body

    open_page(browser, console_server, f"/models/{model_id}")

    chips = wait_for(browser, "h1 + ul.tags", "owner: ana")
    assert sorted(chip.text for chip in chips.find_elements(By.CLASS_NAME, "tag-chip")) == [
        "owner: ana",
        "team: pricing",
    ]
    version = wait_for(browser, 'li.version[data-version="2"] ul.tags', "stage: prod")
    assert sorted(chip.text for chip in version.find_elements(By.CLASS_NAME, "tag-chip")) == [
        "dataset: 2026-01",
        "stage: prod",
    ]
    # Clicking the model's chip searches the list for it.
    chips.find_element(By.XPATH, ".//button[contains(., 'owner: ana')]").click()
    wait_for(browser, f'table.models tr[data-model="{model_id}"]')
    assert hash_query(browser)["filter"] == "tags.owner = 'ana'"


# Webhooks ---------------------------------------------------------------------------------------


def test_the_webhooks_page_lists_endpoints_as_text_and_never_a_secret(browser, console_server, pie, receiver):
    url = f"http://127.0.0.1:{receiver.port}/hook?{hostile('url')}"
    webhook = register(pie, url, description=hostile("description"))
    plain = register(pie, f"http://127.0.0.1:{receiver.port}/plain", events=["model.created", "alias.set"])

    open_page(browser, console_server, "/webhooks")

    row = wait_for(browser, f'tr[data-webhook="{webhook["id"]}"]')
    assert row.find_element(By.CSS_SELECTOR, ".webhook-description").text == hostile("description")
    link = row.find_element(By.CSS_SELECTOR, ".webhook-url a")
    assert link.get_attribute("href").endswith(f"#/webhooks/{webhook['id']}")
    assert url.startswith(link.text.rstrip("…"))  # a long URL is cut, the whole of it in the tooltip
    other = wait_for(browser, f'tr[data-webhook="{plain["id"]}"]')
    assert [chip.text for chip in other.find_elements(By.CSS_SELECTOR, ".events .chip")] == [
        "model.created",
        "alias.set",
    ]
    assert "active" in other.text and plain["workspace"] in other.text
    assert (
        browser.find_element(By.CSS_SELECTOR, 'nav a[data-section="webhooks"]').get_attribute("aria-current") == "page"
    )
    save(browser, "webhooks")

    link.click()
    facts = wait_for(browser, "dl.webhook-facts")
    assert facts.find_element(By.CSS_SELECTOR, "code.webhook-url").text == url
    assert facts.find_element(By.CSS_SELECTOR, ".webhook-description").text == hostile("description")
    for shown in ("/webhooks", f"/webhooks/{webhook['id']}"):
        open_page(browser, console_server, shown)
        wait_for(browser, "table.webhooks, dl.webhook-facts")
        assert webhook["secret"] not in browser.page_source and plain["secret"] not in browser.page_source
        assert "whsec_" not in browser.page_source
    assert injected(browser) == []
    assert browser.title != "owned"


def delivery_status(browser: WebDriver, delivery_id: str) -> str | None:
    found = browser.find_elements(By.CSS_SELECTOR, f'tr[data-delivery="{delivery_id}"] .badge')
    try:
        return found[0].text if found else None
    except Exception:  # re-rendered while read
        return None


def wait_status(browser: WebDriver, delivery_id: str, status: str, seconds: float = 45) -> None:
    try:
        WebDriverWait(browser, seconds, poll_frequency=0.2).until(
            lambda driver: delivery_status(driver, delivery_id) == status
        )
    except Exception:
        pytest.fail(f"delivery {delivery_id} is {delivery_status(browser, delivery_id)!r}, not {status!r}")


def test_an_endpoints_log_shows_each_attempt_filters_by_status_and_retries(browser, console_server, pie, receiver):
    webhook = register(pie, f"http://127.0.0.1:{receiver.port}/hook")
    open_page(browser, console_server, f"/webhooks/{webhook['id']}")
    wait_for(browser, ".deliveries-results .empty", "Nothing delivered yet")

    wait_for(browser, "button.ping-webhook").click()
    wait_for(browser, ".outlet .ok", "Ping sent")
    row = wait_for(browser, "table.deliveries tr.delivery")
    delivery_id = row.get_attribute("data-delivery")
    assert "ping" in row.text
    wait_status(browser, delivery_id, "failed")  # every attempt answered 500: the page watched it fail
    attempts = receiver.requests
    assert attempts > 1

    row = wait_for(browser, f'tr[data-delivery="{delivery_id}"]')
    row.find_element(By.CSS_SELECTOR, "details.delivery-attempts summary").click()
    shown = row.find_elements(By.CSS_SELECTOR, "table.attempts tr.attempt")
    assert len(shown) == attempts
    first = shown[0]
    assert first.find_element(By.CLASS_NAME, "status-code").text == "500"
    assert first.find_element(By.CLASS_NAME, "duration").text.endswith(" ms")
    assert first.find_element(By.CSS_SELECTOR, "pre.response-excerpt").text == hostile("excerpt")
    assert injected(browser) == []
    save(browser, "webhook-deliveries")

    # The status filter is the API's, kept in the URL.
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("delivered")
    wait_for(browser, ".deliveries-results .empty", "No delivered deliveries.")
    assert hash_query(browser) == {"status": "delivered"}
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("failed")
    wait_for(browser, f'tr[data-delivery="{delivery_id}"]')

    # The receiver is fixed: Retry sends the failed delivery again, under the same webhook-id.
    receiver.failing = False
    wait_for(browser, f'tr[data-delivery="{delivery_id}"] button.retry-delivery').click()
    wait_for(browser, ".outlet .ok", "sent again")
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("")
    wait_status(browser, delivery_id, "delivered", seconds=WAIT_SECONDS)
    assert receiver.requests == attempts + 1
    log = pie.get(f"/v2/webhooks/{webhook['id']}/deliveries").json["deliveries"]
    assert [(item["id"], item["status"]) for item in log] == [(delivery_id, "delivered")]
    assert not browser.find_elements(By.CSS_SELECTOR, "button.retry-delivery")


def test_a_webhook_the_api_does_not_know_is_a_clear_error(browser, console_server, pie):
    open_page(browser, console_server, "/webhooks/wh_" + "0" * 24)
    assert wait_for(browser, "p.error").text == "webhook 'wh_000000000000000000000000' does not exist"
    assert "null" not in browser.find_element(By.ID, "main").text
