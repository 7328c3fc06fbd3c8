"""The console's details in a real headless Chromium: metadata, tags and aliases on the pages where
they belong (as text, whatever a user typed), no stray text, and a trigger graph whose geometry a
reader can trust (a cycle's closing edge on its own models, labels beside their edges).

The browser, the server and the helpers are those of ``test_console_in_browser``; this module runs
its own server, so the graph holds only the models made here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e import test_console_in_browser as console_tests
from tests.e2e.client import Api
from tests.e2e.documents import IN_PROCESS_HANDLERS, unique_id
from tests.e2e.test_console_in_browser import create_model, open_page, save, subscribe, wait_for, wait_until_jobs_settle

# The same browser, server and screenshots as the console's other browser tests (one each per module).
browser = console_tests.browser
console_server = console_tests.console_server
pie = console_tests.pie
screenshots = console_tests.screenshots

pytestmark = pytest.mark.e2e

# Markup a user may type into a free-text field: shown as text, it never becomes an element.
HOSTILE = '<img src="x" id="injected-{}" onerror="document.title=\'owned\'"><b id="injected-{}-b">bold</b>'

# Text nodes that are only a JavaScript value printed by mistake (a null handed to the DOM).
STRAY_TEXT = """
const stray = [];
const walker = document.createTreeWalker(document.getElementById("main"), NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const text = walker.currentNode.textContent.trim();
  if (["null", "undefined", "[object Object]", "NaN"].includes(text)) stray.push(text);
}
return stray;
"""


def hostile(name: str) -> str:
    return HOSTILE.format(name, name)


def injected(browser: WebDriver) -> list[str]:
    """Ids of elements that user data put on the page (none, when it is shown as text)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('[id^=injected-]')].map((element) => element.id)"
    )


@contextmanager
def served_with(browser: WebDriver, rewrite: str) -> Iterator[None]:
    """Pages opened inside see each API answer as ``rewrite(path, body)`` returns it (JavaScript):
    what an API that sends more (tags, alias_set subscriptions) would answer."""
    script = f"""
const served = window.fetch.bind(window);
const rewrite = {rewrite};
window.fetch = async (input, init) => {{
  const response = await served(input, init);
  const path = new URL(String(input), location.href).pathname;
  if (!response.ok || !path.startsWith("/v2/")) return response;
  const body = rewrite(path, await response.clone().json().catch(() => null));
  if (body === undefined) return response;
  return new Response(JSON.stringify(body), {{ status: response.status, headers: {{ "Content-Type": "application/json" }} }});
}};
"""
    added = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    browser.get("about:blank")
    try:
        yield
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]})
        browser.get("about:blank")


def activate(pie: Api, model_id: str, version: str) -> None:
    for status in ("training", "active"):
        reply = pie.post(f"/v2/models/{model_id}/versions/{version}/new_status", {"status": status})
        assert reply.status == 200, reply.body


def new_version(pie: Api, model_id: str, version: str, **fields: object) -> None:
    reply = pie.post(f"/v2/models/{model_id}/new_version", {"version": version, **fields})
    assert reply.status == 201, reply.body


# Metadata ---------------------------------------------------------------------------------------


def test_a_model_page_shows_the_models_metadata_and_each_versions(browser, console_server, pie):
    model_id = unique_id("metadata")
    nested = {"name": "Ada", "rota": ["eu", "us"], "pager": {"hours": 24}}
    long_note = "Trained on the 2025 pricing extract; " * 40
    create_model(pie, model_id, metadata={"team": "pricing", "owner": nested, "note": long_note, "tier": 2})
    new_version(pie, model_id, "2", metadata={"dataset": "s3://prices/2026-01", "metrics": {"rmse": 0.125}})

    open_page(browser, console_server, f"/models/{model_id}")

    shown = wait_for(browser, "section.model-metadata dl.metadata", "pricing")
    terms = [term.text for term in shown.find_elements(By.TAG_NAME, "dt")]
    assert terms == ["team", "owner", "note", "tier"]
    values = shown.find_elements(By.TAG_NAME, "dd")
    assert values[0].text == "pricing" and values[3].text == "2"
    assert json.loads(values[1].find_element(By.CSS_SELECTOR, "pre").text) == nested
    # A long value is cut to a summary; opened, it sits in a box of bounded height.
    summary = values[2].find_element(By.TAG_NAME, "summary")
    assert len(summary.text) < 250 and f"({len(long_note)} characters)" in summary.text
    summary.click()
    full = values[2].find_element(By.CLASS_NAME, "full-value")
    assert full.text.strip() == long_note.strip()
    assert full.size["height"] <= 12 * 16 + 2

    version = wait_for(browser, 'li.version[data-version="2"] dl.metadata', "dataset")
    assert "s3://prices/2026-01" in version.text
    assert json.loads(version.find_element(By.CSS_SELECTOR, "pre").text) == {"rmse": 0.125}
    assert browser.execute_script(STRAY_TEXT) == []
    save(browser, "model-metadata")


def test_a_model_without_metadata_says_so(browser, console_server, pie):
    model_id = unique_id("bare")
    create_model(pie, model_id, metadata={})
    open_page(browser, console_server, f"/models/{model_id}")
    wait_for(browser, "section.model-metadata .empty", "No metadata.")
    assert not browser.find_elements(By.CSS_SELECTOR, 'li.version[data-version="1"] dl.metadata')


# Tags -------------------------------------------------------------------------------------------

# An API that sends `tags` on models and versions.
WITH_TAGS = """(path, body) => {
  const tags = { models: ["pricing", "eu"], versions: { stage: "prod", "<i id=injected-tag>x</i>": null } };
  if (!body) return undefined;
  if (body.model) return { ...body, model: { ...body.model, tags: tags.models } };
  if (Array.isArray(body.models)) return { ...body, models: body.models.map((model) => ({ ...model, tags: tags.models })) };
  if (Array.isArray(body.versions)) return { ...body, versions: body.versions.map((version) => ({ ...version, tags: tags.versions })) };
  return undefined;
}"""


def test_tags_are_chips_when_the_api_sends_them(browser, console_server, pie):
    model_id = unique_id("tagged")
    create_model(pie, model_id)

    with served_with(browser, WITH_TAGS):
        open_page(browser, console_server, "/models")
        row = wait_for(browser, f'tr[data-model="{model_id}"]')
        assert [chip.text for chip in row.find_elements(By.CSS_SELECTOR, ".tag-chip")] == ["pricing", "eu"]
        assert "Tags" in browser.find_element(By.CSS_SELECTOR, "table.models thead").text

        open_page(browser, console_server, f"/models/{model_id}")
        wait_for(browser, "h1 + ul.tags .tag-chip", "pricing")
        chips = wait_for(browser, 'li.version[data-version="1"] ul.tags')
        assert [chip.text for chip in chips.find_elements(By.CLASS_NAME, "tag-chip")] == [
            "stage: prod",
            "<i id=injected-tag>x</i>",
        ]
        assert injected(browser) == []


def test_without_tags_the_pages_show_no_tag_chips(browser, console_server, pie):
    model_id = unique_id("untagged")
    create_model(pie, model_id)
    open_page(browser, console_server, "/models")
    wait_for(browser, f'tr[data-model="{model_id}"]')
    assert "Tags" not in browser.find_element(By.CSS_SELECTOR, "table.models thead").text
    open_page(browser, console_server, f"/models/{model_id}")
    wait_for(browser, 'li.version[data-version="1"]')
    assert not browser.find_elements(By.CSS_SELECTOR, ".tag-chip")


# Stray text -------------------------------------------------------------------------------------


def test_a_succeeded_jobs_page_prints_no_stray_null(browser, console_server, pie):
    model_id = unique_id("succeeded")
    create_model(pie, model_id, handlers=IN_PROCESS_HANDLERS)
    job_id = pie.post(f"/v2/models/{model_id}/training", {"input": {"rows": 1}}).json["job"]["id"]
    wait_until_jobs_settle(pie, model_id, 1)

    open_page(browser, console_server, f"/jobs/{model_id}/{job_id}")

    wait_for(browser, "h1 .badge.status-succeeded")
    wait_for(browser, "ol.chain li", "Fired nothing")
    assert browser.execute_script(STRAY_TEXT) == []
    assert not browser.find_elements(By.CSS_SELECTOR, "p.job-error")


def test_a_graph_without_a_cycle_prints_no_stray_null(browser, console_server, pie):
    # Only the subscriptions of this test's models are answered: no cycle of another test shows.
    source, target = unique_id("acyclic-src"), unique_id("acyclic-dst")
    create_model(pie, source)
    create_model(pie, target)
    subscribe(pie, source, target)
    only_these = f"""(path, body) => {{
      if (!body || !Array.isArray(body.models)) return undefined;
      return {{ ...body, models: body.models.filter((model) => [{json.dumps(source)}, {json.dumps(target)}].includes(model.id)) }};
    }}"""
    with served_with(browser, only_these):
        open_page(browser, console_server, "/graph")
        wait_for(browser, "g.edge")
        assert not browser.find_elements(By.CLASS_NAME, "cycle-note")
        assert browser.execute_script(STRAY_TEXT) == []


# Hostile text -----------------------------------------------------------------------------------


def test_hostile_metadata_and_alias_reasons_are_shown_as_text(browser, console_server, pie):
    model_id = unique_id("hostile")
    metadata = {hostile("key"): hostile("value"), "nested": {"html": hostile("nested")}}
    create_model(pie, model_id, metadata=metadata, description=hostile("description"))
    new_version(pie, model_id, "2", description=hostile("version"), metadata={"note": hostile("version-metadata")})
    activate(pie, model_id, "2")
    moved = pie.put(f"/v2/models/{model_id}/aliases/champion", {"version": "2", "reason": hostile("reason")})
    assert moved.status == 200, moved.body

    open_page(browser, console_server, f"/models/{model_id}")

    shown = wait_for(browser, "section.model-metadata dl.metadata")
    key = shown.find_element(By.TAG_NAME, "dt")  # a long key is cut, the whole of it in the tooltip
    assert key.find_element(By.CSS_SELECTOR, "span[title]").get_attribute("title") == hostile("key")
    assert hostile("key").startswith(key.text.rstrip("…"))
    assert shown.find_element(By.TAG_NAME, "dd").text == hostile("value")
    reason = wait_for(browser, 'li.alias[data-alias="champion"] .alias-reason')
    assert reason.text == hostile("reason")
    reason.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, "button.show-alias-history").click()
    wait_for(browser, "ol.alias-history li", hostile("reason"))
    assert hostile("version-metadata") in wait_for(browser, 'li.version[data-version="2"] dl.metadata').text
    assert injected(browser) == []
    assert browser.title != "owned"


# Aliases ----------------------------------------------------------------------------------------


def test_a_model_page_lists_its_aliases_with_who_when_why_and_history(browser, console_server, pie):
    model_id = unique_id("aliased")
    create_model(
        pie, model_id, protected_aliases=["champion", "prod-eu"], promotion={"alias": "candidate"}, metadata={}
    )
    new_version(pie, model_id, "2")
    activate(pie, model_id, "1")
    activate(pie, model_id, "2")  # candidate follows each activation: 1, then 2
    for version, reason in (("1", "first release"), ("2", "beats v1 on weekdays")):
        moved = pie.put(f"/v2/models/{model_id}/aliases/champion", {"version": version, "reason": reason})
        assert moved.status == 200, moved.body

    open_page(browser, console_server, f"/models/{model_id}")

    champion = wait_for(browser, 'li.alias[data-alias="champion"]')
    assert "@champion → version 2" in champion.find_element(By.TAG_NAME, "h3").text
    assert champion.find_element(By.CSS_SELECTOR, ".badge.protected").text == "protected"
    assert champion.find_element(By.CLASS_NAME, "alias-reason").text == "beats v1 on weekdays"
    mover = pie.get(f"/v2/models/{model_id}/aliases/champion").json["alias"]["updated_by"]
    assert f"by {mover}" in champion.find_element(By.CLASS_NAME, "alias-moved").text
    candidate = wait_for(browser, 'li.alias[data-alias="candidate"]')
    assert "follows activation" in candidate.text and "by pie" in candidate.text
    assert not candidate.find_elements(By.CSS_SELECTOR, ".badge.protected")
    assert "prod-eu" in wait_for(browser, ".aliases-unset").text

    champion.find_element(By.CSS_SELECTOR, "button.show-alias-history").click()
    history = wait_for(browser, 'li.alias[data-alias="champion"] ol.alias-history')
    entries = [entry.text for entry in history.find_elements(By.TAG_NAME, "li")]
    assert len(entries) == 2
    assert "version 1 → 2" in entries[0] and "beats v1 on weekdays" in entries[0]
    assert "created at version 1" in entries[1] and "first release" in entries[1]

    chips = wait_for(browser, 'li.version[data-version="2"] h3')
    assert sorted(chip.text for chip in chips.find_elements(By.CLASS_NAME, "alias-chip")) == [
        "@candidate",
        "@champion",
    ]
    save(browser, "model-aliases")


def test_alias_set_subscriptions_are_graph_edges_labelled_with_their_alias(browser, console_server, pie):
    """`alias_set` subscriptions (`trigger_event` + `alias`) as an API sending them answers them."""
    source, target = unique_id("alias-src"), unique_id("alias-dst")
    create_model(pie, source)
    create_model(pie, target)
    subscription = subscribe(pie, source, target)
    as_alias_set = f"""(path, body) => {{
      if (!body || !Array.isArray(body.subscriptions)) return undefined;
      return {{ ...body, subscriptions: body.subscriptions.map((item) => item.id === {json.dumps(subscription)}
        ? {{ ...item, trigger_event: "alias_set", alias: "champion" }} : item) }};
    }}"""

    with served_with(browser, as_alias_set):
        open_page(browser, console_server, "/graph")
        edge = wait_for(browser, f'g.edge[data-subscription="{subscription}"]')
        assert "event-alias_set" in edge.get_attribute("class")
        assert edge.find_element(By.CLASS_NAME, "edge-label").text == "alias_set @champion → training"
        assert (
            "alias_set @champion"
            in browser.find_element(By.CSS_SELECTOR, f'tr[data-subscription="{subscription}"]').text
        )
        edge.find_element(By.CLASS_NAME, "edge-label").click()
        panel = wait_for(browser, ".subscription-panel", target)
        assert "alias_set @champion" in panel.text
        save(browser, "graph-alias-set")


# Graph geometry ---------------------------------------------------------------------------------

# Each edge's label box and points along its line, and each model's box (SVG user units).
GEOMETRY = """
const edges = [...document.querySelectorAll("svg.graph g.edge")].map((group) => {
  const line = group.querySelector(".edge-line");
  const length = line.getTotalLength();
  const points = [];
  for (let at = 0; at <= length; at += 2) { const p = line.getPointAtLength(at); points.push([p.x, p.y]); }
  const box = group.querySelector(".edge-label").getBBox();
  return { id: group.dataset.subscription, ends: [group.dataset.source, group.dataset.target], points, label: [box.x, box.y, box.x + box.width, box.y + box.height] };
});
const models = Object.fromEntries([...document.querySelectorAll("svg.graph a.node")].map((node) => {
  const box = node.querySelector("rect").getBBox();
  return [node.dataset.model, [box.x, box.y, box.x + box.width, box.y + box.height]];
}));
return { edges, models };
"""


def inside(point: list[float], box: list[float], margin: float = 0) -> bool:
    return box[0] - margin <= point[0] <= box[2] + margin and box[1] - margin <= point[1] <= box[3] + margin


@pytest.fixture(scope="module")
def tangle(pie: Api) -> dict[str, str]:
    """A → B → C → A (a cycle), then models drawn beside it: X → Y, a self-subscribed S, two
    subscriptions from P to Q (a fan), and D → E → D, D → F → D (two cycles through D, E and F
    drawn in one column)."""
    names = ("a", "b", "c", "x", "y", "s", "p", "q", "d", "e", "f")
    ids = {name: unique_id(f"geometry-{name}") for name in names}
    for name in names:
        create_model(pie, ids[name])
    pairs = {"ab", "bc", "ca", "xy", "ss", "de", "ed", "df", "fd"}
    edges = {pair: subscribe(pie, ids[pair[0]], ids[pair[1]]) for pair in sorted(pairs)}
    edges["pq1"] = subscribe(pie, ids["p"], ids["q"])
    edges["pq2"] = subscribe(pie, ids["p"], ids["q"], target_action="inference")
    return {**ids, **edges}


def test_a_cycles_closing_edge_loops_on_its_own_models(browser, console_server, tangle):
    open_page(browser, console_server, "/graph")
    wait_for(browser, f'g.edge[data-subscription="{tangle["ca"]}"]')
    geometry = browser.execute_script(GEOMETRY)
    models = geometry["models"]
    cycle = [models[tangle[name]] for name in ("a", "b", "c")]
    area = [min(box[0] for box in cycle), min(box[1] for box in cycle), max(box[2] for box in cycle)]
    area.append(max(box[3] for box in cycle))
    closing = next(edge for edge in geometry["edges"] if edge["id"] == tangle["ca"])
    others = {model: box for model, box in models.items() if model not in {tangle[name] for name in "abc"}}

    for point in closing["points"]:
        assert area[0] <= point[0] <= area[2], f"the closing edge leaves its cycle's columns at {point}"
        assert area[1] - 100 <= point[1] <= area[3] + 100, f"the closing edge strays from its cycle at {point}"
        crossed = [model for model, box in others.items() if inside(point, box)]
        assert not crossed, f"the closing edge runs through {crossed} at {point}"
    save(browser, "graph-geometry")


def test_no_edge_runs_through_a_model_it_does_not_join(browser, console_server, tangle):
    open_page(browser, console_server, "/graph")
    for name in ("ca", "ed", "fd"):
        wait_for(browser, f'g.edge[data-subscription="{tangle[name]}"]')
    geometry = browser.execute_script(GEOMETRY)

    for edge in geometry["edges"]:
        others = {model: box for model, box in geometry["models"].items() if model not in edge["ends"]}
        for point in edge["points"]:
            crossed = [model for model, box in others.items() if inside(point, box)]
            assert not crossed, f"{edge['ends']} runs through {crossed} at {point}"


def test_every_edge_label_sits_beside_its_edge(browser, console_server, tangle):
    open_page(browser, console_server, "/graph")
    for name in ("ab", "bc", "ca", "xy", "ss", "pq1", "pq2", "ed", "fd"):
        wait_for(browser, f'g.edge[data-subscription="{tangle[name]}"]')
    geometry = browser.execute_script(GEOMETRY)

    assert len(geometry["edges"]) >= 11
    for edge in geometry["edges"]:
        on_label = [point for point in edge["points"] if inside(point, edge["label"], margin=2)]
        assert not on_label, f"the label of {edge['id']} sits on its line at {on_label[:3]}"
    fan = [edge for edge in geometry["edges"] if edge["id"] in (tangle["pq1"], tangle["pq2"])]
    assert not boxes_overlap(fan[0]["label"], fan[1]["label"]), "two edges between the same models share a label spot"


def boxes_overlap(first: list[float], second: list[float]) -> bool:
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]
