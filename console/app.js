// The console: hash routes, one render function per page, built with DOM calls (never innerHTML
// with API data, so a model's text cannot inject markup).
import * as api from "./api.js";
import { drawGraph } from "./graph.js";
import { validate } from "./schema.js";

const main = document.getElementById("main");

const JOB_STATUSES = ["queued", "dispatched", "succeeded", "failed"];
const REFRESH_MS = 1500;
const IDLE_REFRESH_MS = 5000;
let refreshTimer = null;

// DOM helpers -----------------------------------------------------------------------------------

// What a DOM builder is given as children: nodes, text (set as text, never parsed) and nested
// lists; null, undefined and false are nothing (never the text "null").
function nodes(children) {
  return children.flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

// Every replacement of a node's children goes through here (never replaceChildren directly).
function fill(parent, ...children) {
  parent.replaceChildren(...nodes(children));
  return parent;
}

function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  return fill(node, children);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const badge = (status) => h("span", { class: `badge status-${status}` }, status);
const pretty = (value) => h("pre", { class: "json" }, JSON.stringify(value, null, 2));
const modelLink = (id) => h("a", { href: `#/models/${api.enc(id)}` }, id);
const jobLink = (modelId, jobId, text) => h("a", { href: `#/jobs/${api.enc(modelId)}/${api.enc(jobId)}` }, text || jobId);

function show(...children) {
  fill(main, children);
}

function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

function empty(text) {
  return h("p", { class: "empty" }, text);
}

function problem(error) {
  // A refused token (expired, say) has been forgotten by api.call: offer to sign in again.
  return h("p", { class: "error", role: "alert" }, error.message || String(error),
    error.status === 401 ? [" ", h("button", { type: "button", onclick: () => render() }, "Sign in again")] : null);
}

// A button that runs an action and reports PIE's answer (or its refusal) in `outlet`.
function actionButton(label, outlet, action, attributes = {}) {
  const button = h("button", { type: "button", ...attributes }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    fill(outlet, h("span", { role: "status" }, "Working…"));
    try {
      const result = await action();
      fill(outlet, result instanceof Node ? result : h("span", { class: "ok", role: "status" }, result || "Done."));
    } catch (error) {
      fill(outlet, problem(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function table(headers, rows, attributes = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attributes,
      h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
      h("tbody", {}, rows)));
}

function select(name, label, options, value) {
  const id = `filter-${name}`;
  return h("label", { for: id },
    label,
    h("select", { id, name },
      options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text))));
}

function routeQuery() {
  const [, query = ""] = location.hash.split("?");
  return new URLSearchParams(query);
}

function setQuery(path, values) {
  const query = new URLSearchParams(Object.entries(values).filter(([, value]) => value));
  const target = query.toString() ? `${path}?${query}` : path;
  // The same query again (a search submitted twice) reads again.
  if (location.hash === target) render();
  else location.hash = target;
}

// Readable contracts: a JSON Schema as a list of fields.
function schemaView(schema) {
  if (!schema) return h("p", { class: "muted" }, "No schema.");
  const properties = schema.properties || {};
  const required = new Set(schema.required || []);
  const rows = Object.entries(properties).map(([name, property]) => {
    const rules = [];
    if (property.enum) rules.push(`one of ${property.enum.map((option) => JSON.stringify(option)).join(", ")}`);
    for (const key of ["minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"]) {
      if (property[key] !== undefined) rules.push(`${key} ${property[key]}`);
    }
    if (property.items?.type) rules.push(`items: ${property.items.type}`);
    return h("tr", {},
      h("td", {}, h("code", {}, name)),
      h("td", {}, [].concat(property.type || "any").join(" | ")),
      h("td", {}, required.has(name) ? "required" : "optional"),
      h("td", {}, rules.join("; ") || property.description || ""));
  });
  return h("div", {},
    rows.length ? table(["Field", "Type", "", "Rules"], rows) : h("p", {}, `A value of type ${schema.type || "any"}.`),
    h("details", {}, h("summary", {}, "JSON Schema"), pretty(schema)));
}

function handlerText(handler) {
  if (!handler) return "—";
  if (handler.type === "lambda") return `Lambda ${handler.arn}${handler.version ? ` (${handler.version})` : ""}`;
  if (handler.type === "ecs") return `ECS task ${handler.task}`;
  if (handler.type === "in_process") return `in-process implementation ${handler.implementation}`;
  if (handler.type === "step_functions") return `Step Functions ${handler.state_machine_arn}`;
  return JSON.stringify(handler);
}

// User data -------------------------------------------------------------------------------------
// Metadata, tags, alias reasons: whatever a user typed, shown as text, bounded in size.

const LONG_VALUE = 160;

// Text cut to `max` characters (the whole of it in the tooltip).
function clip(text, max) {
  return text.length <= max ? text : h("span", { title: text }, `${text.slice(0, max)}…`);
}

// Tags as chips: a list of names, or a map of name → value. Nothing when there are none (or the
// API does not send tags). With `pick`, a chip of the map is a button that calls pick(key, value).
function tagChips(tags, pick = null) {
  const shown = (value) => (typeof value === "string" ? value : JSON.stringify(value));
  const items = Array.isArray(tags) ? tags.map((tag) => [shown(tag), null])
    : tags && typeof tags === "object"
      ? Object.entries(tags).map(([key, value]) => [value === null || value === "" ? key : `${key}: ${shown(value)}`, key])
      : [];
  if (!items.length) return null;
  return h("ul", { class: "chips tags", "aria-label": "Tags" }, items.map(([text, key]) => h("li", { class: "chip tag-chip" },
    pick && key !== null
      ? h("button", { type: "button", class: "tag-filter", title: `Search for ${tagTerm(key, tags[key])}`, onclick: () => pick(key, tags[key]) }, clip(text, 60))
      : clip(text, 60))));
}

function metadataValue(value) {
  if (value !== null && typeof value === "object") return h("pre", { class: "json metadata-json" }, JSON.stringify(value, null, 2));
  if (value === "") return h("span", { class: "muted" }, "(empty)");
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.length <= LONG_VALUE) return text;
  return h("details", { class: "long-value" },
    h("summary", {}, `${text.slice(0, LONG_VALUE)}… (${text.length} characters)`),
    h("div", { class: "full-value" }, text));
}

// A metadata map as a definition list: text as text, nested values as pretty JSON in a bounded box.
function metadataView(metadata, label) {
  const entries = Object.entries(metadata || {});
  if (!entries.length) return null;
  return h("dl", { class: "metadata", "aria-label": label },
    entries.map(([key, value]) => [h("dt", {}, clip(key, 80)), h("dd", {}, metadataValue(value))]));
}

// Shared loaders ---------------------------------------------------------------------------------

async function loadGraph() {
  const models = await api.all("/v2/models", "models");
  const lists = await Promise.all(models.map((model) =>
    api.all(`/v2/models/${api.enc(model.id)}/event-subscriptions`, "subscriptions").catch(() => [])));
  return { models, subscriptions: lists.flat() };
}

// What fires a subscription: its event, and for an alias move the alias (`alias_set @champion`).
const triggerText = (subscription) => (subscription.trigger_event === "alias_set" && subscription.alias
  ? `alias_set @${subscription.alias}` : subscription.trigger_event);
const subscriptionLabel = (subscription) => `${triggerText(subscription)} → ${subscription.target_action}`;

// The subscription panel: details, dry run, pause/activate. Used by the graph and the model page.
function subscriptionPanel(subscription, onChange) {
  const outlet = h("div", { class: "outlet", "aria-live": "polite" });
  const path = `/v2/models/${api.enc(subscription.source_model_id)}/event-subscriptions/${api.enc(subscription.id)}`;
  const toggleTo = subscription.status === "active" ? "paused" : "active";
  const toggleLabel = subscription.status === "active" ? "Pause" : subscription.status === "stale" ? "Re-validate and activate" : "Activate";
  return h("section", { class: "panel subscription-panel", "aria-label": "Subscription" },
    h("h3", {}, `${subscription.source_model_id} → ${subscription.target_model_id}`),
    h("dl", {},
      h("dt", {}, "Fires on"), h("dd", {}, triggerText(subscription)),
      h("dt", {}, "Runs"), h("dd", {}, `${subscription.target_action} of `, modelLink(subscription.target_model_id)),
      h("dt", {}, "Status"), h("dd", {}, badge(subscription.status)),
      h("dt", {}, "Input"), h("dd", {}, subscription.input_source === "stored" ? pretty(subscription.input) : "the trigger's output"),
      subscription.label ? [h("dt", {}, "Label"), h("dd", {}, subscription.label)] : null,
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, subscription.id)),
      h("dt", {}, "Updated"), h("dd", {}, when(subscription.updated_at))),
    subscription.warnings?.length ? h("ul", { class: "warnings" }, subscription.warnings.map((warning) => h("li", {}, warning))) : null,
    h("div", { class: "actions" },
      actionButton("Dry run", outlet, async () => {
        const result = await api.post(`${path}/test`, {});
        return h("div", { class: `dry-run ${result.would_fire ? "would-fire" : "would-not-fire"}` },
          h("p", {}, h("strong", {}, result.would_fire ? "Would fire" : "Would not fire"),
            result.error ? `: ${result.error}` : ""),
          result.job ? pretty(result.job) : null,
          result.warnings?.length ? h("ul", { class: "warnings" }, result.warnings.map((warning) => h("li", {}, warning))) : null);
      }, { class: "dry-run-button" }),
      actionButton(toggleLabel, outlet, async () => {
        const updated = await api.put(path, { status: toggleTo });
        onChange?.(updated);
        return `Subscription is now ${updated.status}.`;
      }, { class: "toggle-subscription" })),
    outlet);
}

// Pages ------------------------------------------------------------------------------------------

// Search (GET /v2/models?filter=&order_by=, docs/search.md) ------------------------------------

const MODEL_ORDERS = [
  ["", "the index's order"],
  ["name ASC", "name, A to Z"],
  ["name DESC", "name, Z to A"],
  ["created_at DESC", "newest first"],
  ["created_at ASC", "oldest first"],
  ["updated_at DESC", "recently updated first"],
  ["updated_at ASC", "least recently updated first"],
];
const SEARCH_PAGE = 50;
// A search page may hold fewer items than asked, even none, and still carry a token: read on up
// to this many pages for one screenful.
const SEARCH_READS = 10;

// A tag as a filter term: tags.key = 'value' (a key with characters other than letters, digits and
// _ in backticks; a quote doubled).
function tagTerm(key, value) {
  const name = /^[A-Za-z0-9_]+$/.test(key) ? key : `\`${key}\``;
  return `tags.${name} = '${String(value ?? "").replace(/'/g, "''")}'`;
}

// The models list searched for one more term (the terms already there kept, joined by AND).
function searchFor(term, current = "") {
  const filter = !current ? term : current.includes(term) ? current : `${current} AND ${term}`;
  setQuery("#/models", { ...Object.fromEntries(routeQuery()), filter });
}

// A refused filter: PIE's message, and the filter with the position it names marked.
function searchProblem(error, filter, box) {
  const at = /at position (\d+)/.exec(error.message || "");
  const position = at ? Math.min(Number(at[1]), filter.length) : null;
  if (position !== null) box.setSelectionRange?.(position, position);
  box.setAttribute("aria-invalid", "true");
  return h("div", { class: "search-problem" },
    h("p", { class: "error", role: "alert" }, error.message || String(error)),
    position !== null ? h("code", { class: "search-at" },
      filter.slice(0, position), h("mark", {}, filter.slice(position, position + 1) || " "), filter.slice(position + 1)) : null);
}

// One screenful of a search: pages read until SEARCH_PAGE models or SEARCH_READS pages.
async function searchPage(path, token) {
  const models = [];
  let next = token;
  let reads = 0;
  do {
    const read = await api.page(path, "models", next, SEARCH_PAGE);
    models.push(...read.items);
    next = read.next;
    reads += 1;
  } while (next && models.length < SEARCH_PAGE && reads < SEARCH_READS);
  return { models, next };
}

function modelRow(model, columns) {
  return h("tr", { "data-model": model.id },
    h("td", {}, modelLink(model.id)),
    h("td", {}, model.name),
    columns.workspace ? h("td", {}, model.workspace || "—") : null,
    columns.tags ? h("td", {}, tagChips(model.tags, columns.pickTag)) : null,
    h("td", {}, badge(model.status)),
    h("td", {}, model.latest_version),
    h("td", {}, model.active_version || "—"),
    h("td", {}, when(model.updated_at)));
}

function modelsTable(rows, columns) {
  return table(["Model", "Name", columns.workspace ? "Workspace" : null, columns.tags ? "Tags" : null,
    "Status", "Latest", "Active", "Updated"].filter(Boolean), rows, { class: "models" });
}

// Pages ------------------------------------------------------------------------------------------

async function modelsPage() {
  show(h("h1", {}, "Models"), loading());
  const query = routeQuery();
  const status = query.get("status") || "";
  const workspace = query.get("workspace") || "";
  const filter = query.get("filter") || "";
  const orderBy = query.get("order_by") || "";
  let features;
  try {
    features = await api.detectFeatures();
  } catch (error) {
    show(h("h1", {}, "Models"), problem(error));
    return;
  }
  if (features.search && (filter || orderBy)) {
    await searchResults({ status, workspace, filter, orderBy });
    return;
  }
  let models;
  try {
    models = await api.all(status ? `/v2/models?status=${api.enc(status)}` : "/v2/models", "models");
  } catch (error) {
    show(h("h1", {}, "Models"), problem(error));
    return;
  }
  // Workspaces arrive with a later release: the filter appears once models carry one.
  const workspaces = [...new Set(models.map((model) => model.workspace).filter(Boolean))].sort();
  const shown = workspace ? models.filter((model) => model.workspace === workspace) : models;
  // Tags arrive with a later release too: the column appears once a model carries some.
  const columns = {
    workspace: workspaces.length > 0,
    tags: models.some((model) => tagChips(model.tags)),
    pickTag: features.search ? (key, value) => searchFor(tagTerm(key, value)) : null,
  };
  const rows = shown.map((model) => modelRow(model, columns));
  show(h("h1", {}, "Models"), modelFilters({ status, workspace, filter, orderBy }, workspaces, features.search),
    rows.length
      ? modelsTable(rows, columns)
      : empty(models.length ? "No model matches these filters." : "No models yet. Create one with POST /v2/models."));
}

// The list's filters: status and workspace, and the search box when the API searches.
function modelFilters(current, workspaces, searchable, problemNode = null) {
  const box = h("input", {
    id: "search", name: "filter", type: "search", value: current.filter, size: 60, autocomplete: "off", spellcheck: "false",
    placeholder: "name LIKE 'price%' AND tags.team = 'pricing'", "aria-describedby": "search-help search-outlet",
  });
  const outlet = h("div", { id: "search-outlet", class: "search-outlet", "aria-live": "polite" });
  const known = current.workspace && !workspaces.includes(current.workspace) ? [...workspaces, current.workspace].sort() : workspaces;
  const form = h("form", { class: "filters model-filters", role: searchable ? "search" : null },
    searchable ? [
      h("label", { for: "search", class: "search-box" }, "Search", box),
      select("order_by", "Order", MODEL_ORDERS, current.orderBy),
    ] : null,
    select("status", "Status", [["", "any"], ["pending", "pending"], ["active", "active"]], current.status),
    known.length ? select("workspace", "Workspace", [["", "any"], ...known.map((name) => [name, name])], current.workspace) : null,
    searchable ? h("button", { type: "submit", class: "search-button" }, "Search") : null,
    searchable && (current.filter || current.orderBy)
      ? h("button", { type: "button", class: "clear-search link", onclick: () => setQuery("#/models", { status: current.status, workspace: current.workspace }) }, "Clear search")
      : null);
  const apply = () => setQuery("#/models", Object.fromEntries(new FormData(form)));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  // A choice in a list applies at once; the search box waits for Enter or the button.
  form.addEventListener("change", (event) => { if (event.target.tagName === "SELECT") apply(); });
  if (problemNode) fill(outlet, problemNode(box));
  return h("div", { class: "model-search" }, form,
    searchable ? h("p", { id: "search-help", class: "muted search-help" },
      "MLflow filter syntax: comparisons on name, tags.<key>, status and workspace joined by AND; LIKE takes a prefix ('price%').") : null,
    outlet);
}

// "More results": reads the next screenful and hands it to `add` (its refusal shown in `outlet`).
function moreButton(outlet, read, add) {
  const button = h("button", { type: "button", class: "more-results" }, "More results");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      add(await read());
    } catch (error) {
      fill(outlet, problem(error));
    }
  });
  return button;
}

// A search's results, a screenful at a time (More reads on from the last page's token).
async function searchResults(current) {
  const query = new URLSearchParams();
  if (current.filter) query.set("filter", current.filter);
  if (current.orderBy) query.set("order_by", current.orderBy);
  if (current.status) query.set("status", current.status);
  if (current.workspace) query.set("workspace", current.workspace);
  const path = `/v2/models?${query}`;
  let first;
  try {
    first = await searchPage(path, null);
  } catch (error) {
    if (error.status !== 400) {
      show(h("h1", {}, "Models"), modelFilters(current, [], true), problem(error));
      return;
    }
    show(h("h1", {}, "Models"), modelFilters(current, [], true, (box) => searchProblem(error, current.filter, box)));
    document.getElementById("search").focus();
    return;
  }
  const workspaces = [...new Set(first.models.map((model) => model.workspace).filter(Boolean))].sort();
  const columns = { workspace: true, tags: true, pickTag: (key, value) => searchFor(tagTerm(key, value), current.filter) };
  const results = modelsTable([], columns);
  const body = results.querySelector("tbody");
  const count = h("p", { class: "muted search-count", role: "status" });
  const more = h("div", { class: "more" });
  let shown = 0;
  const add = ({ models, next }) => {
    body.append(...models.map((model) => modelRow(model, columns)));
    shown += models.length;
    fill(count, `${shown} model${shown === 1 ? "" : "s"}${next ? " so far" : ""}`);
    fill(more, next ? moreButton(more, () => searchPage(path, next), add) : null);
  };
  add(first);
  show(h("h1", {}, "Models"), modelFilters(current, workspaces, true), count, results, more,
    shown || first.next ? null : empty("No model matches this search."));
}

function jobForm(model, versions, outlet, refresh) {
  const id = `job-input-${model.id}`;
  const action = h("select", { id: "job-action", name: "action" },
    h("option", { value: "training" }, "training"), h("option", { value: "inference" }, "inference"));
  const version = h("select", { id: "job-version", name: "version" },
    h("option", { value: "" }, "default"), versions.map((item) => h("option", { value: item.version }, item.version)));
  const editor = h("textarea", { id, rows: 6, spellcheck: "false", class: "json-editor", "aria-describedby": `${id}-help` }, "{}");
  const help = h("p", { id: `${id}-help`, class: "muted" }, "The job's input as a JSON object, checked against the contract's input schema before it is sent.");
  const start = actionButton("Start job", outlet, async () => {
    let input;
    try {
      input = JSON.parse(editor.value);
    } catch (error) {
      throw new Error(`The input is not valid JSON: ${error.message}`);
    }
    if (input === null || typeof input !== "object" || Array.isArray(input)) throw new Error("The input must be a JSON object.");
    const schema = model.handler_contracts?.[action.value]?.input_schema;
    const errors = validate(input, schema);
    if (errors.length) throw new Error(`The input does not match the ${action.value} contract: ${errors.join("; ")}`);
    const body = { input };
    if (version.value) body.version = version.value;
    const { job } = await api.post(`/v2/models/${api.enc(model.id)}/${action.value}`, body);
    refresh();
    return h("span", { class: "ok", role: "status" }, `Started ${job.action} job `, jobLink(job.model_id, job.id), ` (${job.status}).`);
  }, { class: "start-job" });
  return h("form", { class: "job-form", onsubmit: (event) => event.preventDefault() },
    h("div", { class: "row" }, h("label", { for: "job-action" }, "Action", action), h("label", { for: "job-version" }, "Version", version)),
    h("label", { for: id }, "Input (JSON)"), editor, help, start);
}

function versionCard(model, version, reload, nextStatuses, aliases) {
  const outlet = h("div", { class: "outlet", "aria-live": "polite" });
  const next = nextStatuses[version.status] || [];
  const selectId = `new-status-${version.version}`;
  const messageId = `status-message-${version.version}`;
  const target = h("select", { id: selectId }, next.map((state) => h("option", { value: state }, state)));
  const message = h("input", { id: messageId, type: "text", maxlength: 1000, placeholder: "why (optional)" });
  const move = actionButton("Move", outlet, async () => {
    const body = { status: target.value };
    if (message.value) body.status_message = message.value;
    const result = await api.post(`/v2/models/${api.enc(model.id)}/versions/${api.enc(version.version)}/new_status`, body);
    reload();
    const fired = result.triggered_events?.length ? ` Fired ${result.triggered_events.length} subscription(s).` : "";
    return `Version ${version.version} is now ${result.version.status}.${fired}`;
  }, { class: "move-status" });
  return h("li", { class: "version", "data-version": version.version },
    h("h3", {}, `Version ${version.version} `, badge(version.status),
      model.active_version === version.version ? h("span", { class: "tag" }, "active version") : null,
      aliases.filter((alias) => alias.version === version.version)
        .map((alias) => h("span", { class: "chip alias-chip", "data-alias": alias.name }, `@${alias.name}`))),
    version.description ? h("p", {}, version.description) : null,
    tagChips(version.tags),
    metadataView(version.metadata, `Metadata of version ${version.version}`),
    lineageView(model, version),
    version.status_history_dropped ? h("p", { class: "muted" },
      `${version.status_history_dropped} older status changes are no longer kept.`) : null,
    h("ol", { class: "timeline", "aria-label": `Status history of version ${version.version}` },
      (version.status_history || []).map((change) => h("li", { class: `status-${change.status}` },
        badge(change.status), " ",
        h("time", { datetime: change.at }, when(change.at)),
        change.by ? h("span", { class: "muted" }, ` by ${change.by}`) : null,
        change.status_message ? h("div", { class: "message" }, change.status_message) : null))),
    next.length ? h("div", { class: "row move" },
      h("label", { for: selectId }, "New status", target),
      h("label", { for: messageId }, "Message", message), move) : null,
    outlet);
}

// Chains ----------------------------------------------------------------------------------------

// How a version came to be: the job that trained it, and on demand the whole way back to the root.
function lineageView(model, version) {
  if (!version.lineage) return null;
  const outlet = h("div", { class: "outlet lineage", "aria-live": "polite" });
  const trigger = version.lineage.trigger;
  const load = actionButton("Lineage", outlet, async () => {
    const path = `/v2/models/${api.enc(model.id)}/versions/${api.enc(version.version)}/lineage`;
    const { lineage } = await api.get(path);
    return h("ol", { class: "lineage-steps", "aria-label": `Lineage of version ${version.version}` },
      lineage.map((step) => h("li", { "data-model": step.model_id },
        modelLink(step.model_id), ` version ${step.version ?? "—"}`,
        step.job_id ? [" · job ", jobLink(step.model_id, step.job_id)] : null,
        step.subscription_id ? h("span", { class: "muted" }, ` · fired by subscription ${step.subscription_id}`)
          : h("span", { class: "muted" }, " · the root"))));
  }, { class: "show-lineage" });
  return h("p", { class: "trained-by" }, "Trained by job ", jobLink(model.id, version.lineage.job_id),
    trigger ? [", fired by ", modelLink(trigger.source_model_id), ` version ${trigger.source_version ?? "—"} (depth ${trigger.depth})`]
      : " (started directly)",
    " ", load, outlet);
}

// What an event on this model would fire now, as nested lists (GET .../impact writes nothing).
function impactNode(node) {
  const outcome = node.would_fire
    ? `${node.action} version ${node.version}${node.cuts_version ? " (cut)" : ""}`
    : `${node.action}: not fired — ${node.error || "no reason given"}`;
  return h("li", { class: node.would_fire ? "would-fire" : "refused", "data-subscription": node.subscription_id },
    modelLink(node.target_model_id), " ", outcome,
    node.cycle ? h("span", { class: "tag cycle" }, "cycle: not expanded") : null,
    node.children?.length ? h("ul", {}, node.children.map(impactNode)) : null);
}

function impactView(model, jobEvents) {
  const outlet = h("div", { class: "outlet impact", "aria-live": "polite" });
  const event = h("select", { id: "impact-event" },
    jobEvents.map(({ name }) => h("option", { value: name }, name)));
  const button = actionButton("Show impact", outlet, async () => {
    const { impact } = await api.get(`/v2/models/${api.enc(model.id)}/impact?event=${api.enc(event.value)}`);
    return h("div", {},
      impact.children.length ? h("ul", { class: "impact-tree" }, impact.children.map(impactNode))
        : empty("Nothing: no active subscription on this event."),
      h("p", { class: "muted impact-total" },
        `${impact.total_jobs} job(s), within a budget of ${impact.job_budget} per chain and a depth limit of ${impact.max_depth}.`));
  }, { class: "show-impact" });
  return h("div", { class: "row" }, h("label", { for: "impact-event" }, "Event", event), button, outlet);
}

// Aliases ---------------------------------------------------------------------------------------

function aliasMove(change) {
  if (change.version === null || change.version === undefined) return `deleted (was version ${change.previous_version ?? "—"})`;
  if (change.previous_version === null || change.previous_version === undefined) return `created at version ${change.version}`;
  return `version ${change.previous_version} → ${change.version}`;
}

// Each alias: where it points, who moved it, when and why; its history (newest first) on demand.
function aliasesView(model, aliases) {
  const protectedNames = new Set(model.protected_aliases || []);
  const promoted = model.promotion?.alias;
  const marks = (name) => [
    protectedNames.has(name) ? h("span", { class: "badge protected", title: "Moving it needs the models:promote scope" }, "protected") : null,
    promoted === name ? h("span", { class: "badge promotion" }, "follows activation") : null,
  ];
  const items = aliases.map((alias) => {
    const outlet = h("div", { class: "outlet", "aria-live": "polite" });
    const history = actionButton("History", outlet, async () => {
      const path = `/v2/models/${api.enc(model.id)}/aliases/${api.enc(alias.name)}/history`;
      const changes = await api.all(path, "history", 200);
      if (!changes.length) return empty("No moves recorded.");
      return h("ol", { class: "alias-history", "aria-label": `History of @${alias.name}` },
        changes.map((change) => h("li", {},
          h("time", { datetime: change.at }, when(change.at)), " ",
          h("span", { class: "alias-move" }, aliasMove(change)),
          h("span", { class: "muted" }, ` by ${change.by}`),
          change.reason ? h("div", { class: "message" }, change.reason) : null)));
    }, { class: "show-alias-history" });
    return h("li", { class: "alias", "data-alias": alias.name },
      h("h3", {}, h("code", {}, `@${alias.name}`), " → version ", alias.version, " ", marks(alias.name)),
      h("p", { class: "alias-moved" }, "Moved ", h("time", { datetime: alias.updated_at }, when(alias.updated_at)),
        ` by ${alias.updated_by}`),
      alias.reason ? h("p", { class: "message alias-reason" }, alias.reason) : null,
      history, outlet);
  });
  const unset = [...protectedNames, ...(promoted ? [promoted] : [])]
    .filter((name, index, names) => names.indexOf(name) === index && !aliases.some((alias) => alias.name === name));
  return [
    items.length ? h("ul", { class: "aliases" }, items) : empty("No aliases."),
    unset.length ? h("p", { class: "muted aliases-unset" }, "Declared but not set: ",
      unset.map((name) => h("span", { class: "alias-declared", "data-alias": name }, h("code", {}, `@${name}`), " ", marks(name), " "))) : null,
  ];
}

async function modelPage(modelId) {
  show(h("h1", {}, modelId), loading());
  let model;
  let versions;
  let graph;
  let rules;
  let aliases;
  try {
    [{ model }, versions, graph, rules] = await Promise.all([
      api.get(`/v2/models/${api.enc(modelId)}`),
      api.all(`/v2/models/${api.enc(modelId)}/versions`, "versions", 200),
      loadGraph(),
      api.contract(),
    ]);
    aliases = rules.features.aliases ? (await api.get(`/v2/models/${api.enc(modelId)}/aliases`)).aliases : [];
  } catch (error) {
    show(h("h1", {}, modelId), problem(error));
    return;
  }
  const reload = () => modelPage(modelId);
  const outgoing = graph.subscriptions.filter((item) => item.source_model_id === modelId);
  const incoming = graph.subscriptions.filter((item) => item.target_model_id === modelId);
  const panel = h("div", { class: "panel-slot" });
  const subscriptionRows = (items, other) => items.map((item) => h("tr", { "data-subscription": item.id },
    h("td", {}, modelLink(item[other])),
    h("td", {}, subscriptionLabel(item)),
    h("td", {}, badge(item.status)),
    h("td", {}, h("button", { type: "button", onclick: () => fill(panel, subscriptionPanel(item, reload)) }, "Details"))));
  const jobOutlet = h("div", { class: "outlet", "aria-live": "polite" });
  const versionList = h("div", {});
  const showVersions = (items) => fill(versionList, items.length
    ? h("ul", { class: "versions" }, items.map((version) => versionCard(model, version, reload, rules.nextStatuses, aliases)))
    : empty("No versions."));
  // Starting a training moves its version: show that without losing the "started" message.
  const reloadVersions = () => api.all(`/v2/models/${api.enc(modelId)}/versions`, "versions", 200).then(showVersions).catch(() => {});
  showVersions(versions);
  const contracts = model.handler_contracts || {};
  show(
    h("h1", {}, model.name, " ", h("small", { class: "muted" }, model.id)),
    tagChips(model.tags, rules.features.search ? (key, value) => searchFor(tagTerm(key, value)) : null),
    h("p", {}, model.description),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, badge(model.status)),
      model.workspace ? [h("dt", {}, "Workspace"), h("dd", {}, model.workspace)] : null,
      h("dt", {}, "Latest version"), h("dd", {}, model.latest_version),
      h("dt", {}, "Active version"), h("dd", {}, model.active_version || "—"),
      h("dt", {}, "Training handler"), h("dd", {}, handlerText(model.handlers?.training)),
      h("dt", {}, "Inference handler"), h("dd", {}, handlerText(model.handlers?.inference)),
      h("dt", {}, "Created"), h("dd", {}, `${when(model.created_at)} by ${model.created_by || "—"}`),
      h("dt", {}, "Jobs"), h("dd", {}, h("a", { href: `#/jobs?model=${api.enc(model.id)}` }, "Delivery log for this model"))),
    h("section", { "aria-labelledby": "metadata-heading", class: "model-metadata" },
      h("h2", { id: "metadata-heading" }, "Metadata"),
      metadataView(model.metadata, "Model metadata") || empty("No metadata.")),
    rules.features.aliases ? h("section", { "aria-labelledby": "aliases-heading", class: "model-aliases" },
      h("h2", { id: "aliases-heading" }, "Aliases"), aliasesView(model, aliases)) : null,
    h("section", { "aria-labelledby": "run-heading" }, h("h2", { id: "run-heading" }, "Run"), jobForm(model, versions, jobOutlet, reloadVersions), jobOutlet),
    h("section", { "aria-labelledby": "versions-heading" }, h("h2", { id: "versions-heading" }, "Versions"), versionList),
    h("section", { "aria-labelledby": "impact-heading" }, h("h2", { id: "impact-heading" }, "Impact"), impactView(model, rules.jobEvents)),
    h("section", { "aria-labelledby": "contracts-heading" },
      h("h2", { id: "contracts-heading" }, "Contracts"),
      Object.keys(contracts).length
        ? ["training", "inference"].filter((kind) => contracts[kind]).map((kind) => h("div", { class: "contract" },
          h("h3", {}, `${kind} input`), schemaView(contracts[kind].input_schema),
          h("h3", {}, `${kind} output`), schemaView(contracts[kind].output_schema)))
        : empty("This model declares no handler contracts.")),
    h("section", { "aria-labelledby": "subs-heading" },
      h("h2", { id: "subs-heading" }, "Subscriptions"),
      h("h3", {}, "Out (this model triggers)"),
      outgoing.length ? table(["Target", "On → action", "Status", ""], subscriptionRows(outgoing, "target_model_id"), { class: "subs-out" }) : empty("None."),
      h("h3", {}, "In (triggers this model)"),
      incoming.length ? table(["Source", "On → action", "Status", ""], subscriptionRows(incoming, "source_model_id"), { class: "subs-in" }) : empty("None."),
      panel));
}

async function graphPage() {
  show(h("h1", {}, "Trigger graph"), loading());
  let graph;
  try {
    graph = await loadGraph();
  } catch (error) {
    show(h("h1", {}, "Trigger graph"), problem(error));
    return;
  }
  if (!graph.models.length) {
    show(h("h1", {}, "Trigger graph"), empty("No models yet."));
    return;
  }
  const panel = h("div", { class: "panel-slot", "aria-live": "polite" });
  const select = (edge) => {
    const subscription = graph.subscriptions.find((item) => item.id === edge.id);
    fill(panel, subscriptionPanel(subscription, () => graphPage()));
    panel.querySelector("button")?.focus();
  };
  const { svg, cycleModels } = drawGraph(
    graph.models.map((model) => ({ id: model.id, status: model.status })),
    graph.subscriptions.map((item) => ({
      id: item.id, source: item.source_model_id, target: item.target_model_id, label: subscriptionLabel(item), status: item.status, kind: item.trigger_event,
    })),
    select);
  const rows = graph.subscriptions.map((item) => h("tr", { "data-subscription": item.id },
    h("td", {}, modelLink(item.source_model_id)),
    h("td", {}, subscriptionLabel(item)),
    h("td", {}, modelLink(item.target_model_id)),
    h("td", {}, badge(item.status)),
    h("td", {}, h("button", { type: "button", onclick: () => select({ id: item.id }) }, "Details"))));
  show(
    h("h1", {}, "Trigger graph"),
    h("ul", { class: "legend", "aria-label": "Legend" },
      h("li", {}, h("span", { class: "swatch active" }), "active"),
      h("li", {}, h("span", { class: "swatch stale" }), "stale (never fires)"),
      h("li", {}, h("span", { class: "swatch paused" }), "paused"),
      h("li", {}, h("span", { class: "swatch cycle" }), "in a cycle (bounded by the chain depth limit)"),
      graph.subscriptions.some((item) => item.trigger_event === "alias_set")
        ? h("li", {}, h("span", { class: "swatch alias" }), "fires when an alias moves") : null),
    cycleModels.size ? h("p", { class: "cycle-note", role: "note" }, `Cycle through: ${[...cycleModels].join(", ")}`) : null,
    h("div", { class: "graph-wrap" }, svg),
    panel,
    h("h2", {}, "Subscriptions"),
    rows.length ? table(["Source", "On → action", "Target", "Status", ""], rows, { class: "subscriptions" }) : empty("No subscriptions yet."));
}

async function listJobs(filters, features, models) {
  if (features.jobsList) {
    const query = new URLSearchParams();
    if (filters.status) query.set("status", filters.status);
    if (filters.model) query.set("model_id", filters.model);
    if (filters.since) query.set("since", new Date(filters.since).toISOString());
    return api.all(query.size ? `/v2/jobs?${query}` : "/v2/jobs", "jobs", 300);
  }
  // Before GET /v2/jobs: each model's own list, merged here.
  const ids = filters.model ? [filters.model] : models.map((model) => model.id);
  const lists = await Promise.all(ids.map((id) => api.all(`/v2/models/${api.enc(id)}/jobs`, "jobs", 300)));
  const since = filters.since ? new Date(filters.since) : null;
  return lists.flat()
    .filter((job) => !filters.status || job.status === filters.status)
    .filter((job) => !since || new Date(job.updated_at) >= since)
    .sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
}

function jobActions(job, features, outlet, refresh) {
  const path = `/v2/models/${api.enc(job.model_id)}/jobs/${api.enc(job.id)}`;
  return [
    features.retry && job.status === "failed"
      ? actionButton("Retry", outlet, async () => { await api.post(`${path}/retry`, {}); refresh(); return "Queued again."; }, { class: "retry-job" })
      : null,
    features.cancel && (job.status === "queued" || job.status === "dispatched")
      ? actionButton("Cancel", outlet, async () => { await api.post(`${path}/cancel`, {}); refresh(); return "Cancelled."; }, { class: "cancel-job" })
      : null,
  ];
}

function attemptHistory(job) {
  if (!job.attempt_history?.length) return null;
  return table(["Attempt", "Dispatched", "Ended", "Outcome", "Error"], job.attempt_history.map((attempt) => h("tr", {},
    h("td", {}, attempt.attempt), h("td", {}, when(attempt.dispatched_at)), h("td", {}, when(attempt.ended_at)),
    h("td", {}, badge(attempt.outcome)), h("td", {}, attempt.error || ""))), { class: "attempts" });
}

async function jobsPage() {
  const query = routeQuery();
  const filters = { status: query.get("status") || "", model: query.get("model") || "", since: query.get("since") || "" };
  const heading = h("h1", {}, "Delivery log");
  const results = h("div", { class: "jobs-results" }, loading());
  let features;
  let models;
  try {
    [features, models] = await Promise.all([api.detectFeatures(), api.all("/v2/models", "models")]);
  } catch (error) {
    show(heading, problem(error));
    return;
  }
  const form = h("form", { class: "filters", onsubmit: (event) => event.preventDefault() },
    select("status", "Status", [["", "any"], ...JOB_STATUSES.map((status) => [status, status])], filters.status),
    select("model", "Model", [["", "any"], ...models.map((model) => [model.id, model.id])], filters.model),
    h("label", { for: "filter-since" }, "Changed since", h("input", { id: "filter-since", name: "since", type: "datetime-local", value: filters.since })));
  form.addEventListener("change", () => setQuery("#/jobs", Object.fromEntries(new FormData(form))));
  const refreshButton = h("button", { type: "button", class: "refresh" }, "Refresh");
  show(heading, form, refreshButton, results);
  const route = location.hash;
  const refresh = async () => {
    clearTimeout(refreshTimer);
    let jobs;
    try {
      jobs = await listJobs(filters, features, models);
    } catch (error) {
      fill(results, problem(error));
      return;
    }
    if (location.hash !== route) return;
    const outlet = h("div", { class: "outlet", "aria-live": "polite" });
    const rows = jobs.map((job) => h("tr", { "data-job": job.id, class: `job status-${job.status}` },
      h("td", {}, h("time", { datetime: job.updated_at }, when(job.updated_at))),
      h("td", {}, modelLink(job.model_id)),
      h("td", {}, job.version),
      h("td", {}, job.action),
      h("td", {}, badge(job.status)),
      h("td", {}, job.attempt ?? job.attempts ?? ""),
      h("td", { class: "job-error" }, job.error || "",
        job.attempt_history?.length ? h("details", {}, h("summary", {}, "Attempts"), attemptHistory(job)) : null),
      h("td", {}, jobLink(job.model_id, job.id, "Open"), " ", jobActions(job, features, outlet, refresh))));
    fill(results,
      rows.length ? table(["Changed", "Model", "Version", "Action", "Status", "Attempt", "Error", ""], rows, { class: "jobs" }) : empty("No jobs match these filters."),
      outlet);
    // A log is watched: quickly while something shown is on its way, slowly otherwise (a filter
    // may hide the jobs still running).
    const busy = jobs.some((job) => job.status === "queued" || job.status === "dispatched");
    refreshTimer = setTimeout(() => { if (location.hash === route) refresh(); }, busy ? REFRESH_MS : IDLE_REFRESH_MS);
  };
  refreshButton.addEventListener("click", refresh);
  await refresh();
}

async function firedBy(job, jobEvents) {
  // The jobs this job fired: jobs of its subscriptions' targets whose trigger names this job.
  const event = jobEvents.find(({ action }) => action === job.action)?.name;
  if (!event) return [];
  const subscriptions = await api.all(`/v2/models/${api.enc(job.model_id)}/event-subscriptions`, "subscriptions");
  const targets = [...new Set(subscriptions.filter((item) => item.trigger_event === event).map((item) => item.target_model_id))];
  const lists = await Promise.all(targets.map((id) => api.all(`/v2/models/${api.enc(id)}/jobs`, "jobs", 300).catch(() => [])));
  return lists.flat().filter((other) => other.trigger?.source_job_id === job.id);
}

async function jobPage(modelId, jobId) {
  show(h("h1", {}, "Job"), loading());
  let job;
  let rules;
  try {
    [{ job }, rules] = await Promise.all([api.get(`/v2/models/${api.enc(modelId)}/jobs/${api.enc(jobId)}`), api.contract()]);
  } catch (error) {
    show(h("h1", {}, "Job"), problem(error));
    return;
  }
  const outlet = h("div", { class: "outlet", "aria-live": "polite" });
  const fired = await firedBy(job, rules.jobEvents).catch(() => []);
  const trigger = job.trigger;
  const source = !trigger ? h("li", {}, "Started directly (no subscription)")
    : trigger.source_job_id ? h("li", {}, "Source job ", jobLink(trigger.source_model_id, trigger.source_job_id), ` of ${trigger.source_model_id}`)
      : trigger.alias ? h("li", {}, `Alias @${trigger.alias} of `, modelLink(trigger.source_model_id), ` moved to version ${trigger.source_version ?? "—"}`)
        : h("li", {}, `Version ${trigger.source_version ?? "—"} of `, modelLink(trigger.source_model_id), " became active");
  show(
    h("h1", {}, `${job.action} job `, badge(job.status)),
    h("dl", { class: "facts" },
      h("dt", {}, "Model"), h("dd", {}, modelLink(job.model_id), ` version ${job.version}`),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, job.id)),
      h("dt", {}, "Created"), h("dd", {}, when(job.created_at)),
      h("dt", {}, "Dispatched"), h("dd", {}, when(job.dispatched_at)),
      h("dt", {}, "Completed"), h("dd", {}, when(job.completed_at)),
      h("dt", {}, "Attempts"), h("dd", {}, job.attempt ? `${job.attempt} of ${job.max_attempts ?? "?"}` : job.attempts ?? "—"),
      h("dt", {}, "Handler"), h("dd", {}, handlerText(job.handler))),
    h("div", { class: "actions" }, jobActions(job, rules.features, outlet, () => jobPage(modelId, jobId))), outlet,
    job.error ? h("section", {}, h("h2", {}, "Error"), h("p", { class: "error job-error" }, job.error)) : null,
    attemptHistory(job) ? h("section", {}, h("h2", {}, "Attempts"), attemptHistory(job)) : null,
    h("section", { "aria-labelledby": "chain-heading" },
      h("h2", { id: "chain-heading" }, "Chain"),
      h("ol", { class: "chain" },
        source,
        h("li", { class: "current" }, `This job (depth ${trigger?.depth ?? 0})`),
        fired.length ? fired.map((other) => h("li", {}, "Fired ", jobLink(other.model_id, other.id, `${other.action} of ${other.model_id}`), " ", badge(other.status)))
          : h("li", { class: "muted" }, "Fired nothing (yet)"))),
    h("section", {}, h("h2", {}, "Input"), pretty(job.input)),
    h("section", {}, h("h2", {}, "Output"), job.output === null || job.output === undefined ? empty("No output.") : pretty(job.output)));
  if (job.status === "queued" || job.status === "dispatched") {
    const route = location.hash;
    refreshTimer = setTimeout(() => { if (location.hash === route) jobPage(modelId, jobId); }, REFRESH_MS);
  }
}

// Webhooks (docs/webhooks.md) -------------------------------------------------------------------
// Endpoints and their delivery log. Everything an endpoint's owner or its receiver chose (URL,
// description, error, response excerpt) is text; the signing secret is never shown (the API sends
// it only in the answer of a creation or a rotation, and no page here reads those).

const DELIVERY_STATUSES = ["pending", "delivered", "failed"];
const PING_WATCH_MS = 15000;
const webhookLink = (webhook, text) => h("a", { href: `#/webhooks/${api.enc(webhook.id)}` }, text);
const eventList = (events) => h("ul", { class: "chips events" }, (events || []).map((event) => h("li", { class: "chip" }, event)));

function webhookStatus(webhook) {
  return [badge(webhook.status),
    webhook.disabled_reason ? h("div", { class: "error disabled-reason" }, webhook.disabled_reason) : null,
    webhook.failing_since ? h("div", { class: "muted failing-since" }, `failing since ${when(webhook.failing_since)}`) : null];
}

async function webhooksPage() {
  const heading = h("h1", {}, "Webhooks");
  show(heading, loading());
  let webhooks;
  try {
    if (!(await api.detectFeatures()).webhooks) {
      show(heading, empty("This API sends no webhooks."));
      return;
    }
    webhooks = await api.all("/v2/webhooks", "webhooks", 500);
  } catch (error) {
    show(heading, problem(error));
    return;
  }
  const rows = webhooks.map((webhook) => h("tr", { "data-webhook": webhook.id },
    h("td", { class: "webhook-url" }, webhookLink(webhook, clip(webhook.url, 100))),
    h("td", {}, eventList(webhook.events)),
    h("td", {}, webhookStatus(webhook)),
    h("td", {}, webhook.workspace),
    h("td", { class: "webhook-description" }, webhook.description ? clip(webhook.description, 200) : "—")));
  show(heading,
    h("p", { class: "muted" }, "PIE signs each delivery (Standard Webhooks) and retries it for hours. Register an endpoint with POST /v2/webhooks: its answer holds the signing secret, shown that once."),
    rows.length ? table(["URL", "Events", "Status", "Workspace", "Description"], rows, { class: "webhooks" })
      : empty("No webhooks yet."));
}

function deliveryAttempts(delivery) {
  const attempts = delivery.attempts || [];
  if (!attempts.length) return h("span", { class: "muted" }, "not tried yet");
  return h("details", { class: "delivery-attempts" },
    h("summary", {}, `${attempts.length} attempt${attempts.length === 1 ? "" : "s"}`),
    table(["At", "Status code", "Duration", "Error", "Response"], attempts.map((attempt) => h("tr", { class: "attempt" },
      h("td", {}, h("time", { datetime: attempt.at }, when(attempt.at))),
      h("td", { class: "status-code" }, attempt.status_code ?? "—"),
      h("td", { class: "duration" }, `${attempt.duration_ms} ms`),
      h("td", { class: "attempt-error" }, attempt.error || ""),
      h("td", {}, attempt.response_excerpt ? h("pre", { class: "response-excerpt" }, attempt.response_excerpt) : ""))),
    { class: "attempts" }));
}

async function webhookPage(webhookId) {
  const query = routeQuery();
  const status = DELIVERY_STATUSES.includes(query.get("status")) ? query.get("status") : "";
  show(h("h1", {}, "Webhook"), loading());
  let webhook;
  try {
    ({ webhook } = await api.get(`/v2/webhooks/${api.enc(webhookId)}`));
  } catch (error) {
    show(h("h1", {}, "Webhook"), problem(error));
    return;
  }
  const route = location.hash;
  const path = `/v2/webhooks/${api.enc(webhook.id)}`;
  const logPath = status ? `${path}/deliveries?status=${api.enc(status)}` : `${path}/deliveries`;
  const outlet = h("div", { class: "outlet", "aria-live": "polite" });
  const results = h("div", { class: "deliveries-results" }, loading());
  // How many pages of the log are shown: More adds one, a refresh reads them all again.
  let pages = 1;
  let watchUntil = 0;
  const refresh = async () => {
    clearTimeout(refreshTimer);
    const deliveries = [];
    let next = null;
    try {
      for (let read = 0; read < pages && (read === 0 || next); read += 1) {
        const page = await api.page(logPath, "deliveries", next, 50);
        deliveries.push(...page.items);
        next = page.next;
      }
    } catch (error) {
      fill(results, problem(error));
      return;
    }
    if (location.hash !== route) return;
    const rows = deliveries.map((delivery) => h("tr", { "data-delivery": delivery.id, class: `delivery status-${delivery.status}` },
      h("td", {}, h("time", { datetime: delivery.created_at }, when(delivery.created_at))),
      h("td", {}, h("code", {}, delivery.event_type)),
      h("td", {}, badge(delivery.status),
        delivery.status === "pending" && delivery.next_attempt_at ? h("div", { class: "muted" }, `next try ${when(delivery.next_attempt_at)}`) : null),
      h("td", {}, deliveryAttempts(delivery)),
      h("td", {}, h("code", { class: "delivery-id" }, delivery.id)),
      h("td", {}, delivery.status === "failed"
        ? actionButton("Retry", outlet, async () => {
          await api.post(`${path}/deliveries/${api.enc(delivery.id)}/retry`, {});
          refresh();
          return `Delivery ${delivery.id} is sent again now, under the same webhook-id.`;
        }, { class: "retry-delivery" })
        : null)));
    const more = h("div", { class: "more" });
    if (next) fill(more, moreButton(more, async () => { pages += 1; }, () => refresh()));
    fill(results,
      rows.length ? table(["Created", "Event", "Status", "Attempts", "webhook-id", ""], rows, { class: "deliveries" })
        : empty(status ? `No ${status} deliveries.` : "Nothing delivered yet: Ping sends a test event."),
      more);
    // A log is watched: quickly while a delivery is on its way or a ping was just sent (its
    // delivery is written once the event has left the outbox), slowly otherwise.
    const busy = Date.now() < watchUntil || deliveries.some((delivery) => delivery.status === "pending");
    refreshTimer = setTimeout(() => { if (location.hash === route) refresh(); }, busy ? REFRESH_MS : IDLE_REFRESH_MS);
  };
  const form = h("form", { class: "filters", onsubmit: (event) => event.preventDefault() },
    select("status", "Status", [["", "any"], ...DELIVERY_STATUSES.map((name) => [name, name])], status));
  form.addEventListener("change", () => setQuery(`#/webhooks/${api.enc(webhook.id)}`, Object.fromEntries(new FormData(form))));
  const ping = actionButton("Ping", outlet, async () => {
    await api.post(`${path}/ping`, {});
    watchUntil = Date.now() + PING_WATCH_MS;
    refresh();
    return "Ping sent: it is in the delivery log below.";
  }, { class: "ping-webhook" });
  const refreshButton = h("button", { type: "button", class: "refresh", onclick: () => refresh() }, "Refresh");
  show(
    h("h1", {}, "Webhook ", badge(webhook.status)),
    h("dl", { class: "facts webhook-facts" },
      h("dt", {}, "URL"), h("dd", {}, h("code", { class: "webhook-url" }, webhook.url)),
      h("dt", {}, "Events"), h("dd", {}, eventList(webhook.events)),
      h("dt", {}, "Models"), h("dd", {}, webhook.model_ids?.length ? webhook.model_ids.map((id) => [modelLink(id), " "]) : "every model"),
      h("dt", {}, "Status"), h("dd", {}, webhookStatus(webhook)),
      h("dt", {}, "Workspace"), h("dd", {}, webhook.workspace === "*" ? "every workspace" : webhook.workspace),
      h("dt", {}, "Description"), h("dd", { class: "webhook-description" }, webhook.description || "—"),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, webhook.id)),
      h("dt", {}, "Created"), h("dd", {}, `${when(webhook.created_at)} by ${webhook.created_by || "—"}`)),
    h("div", { class: "actions" }, ping), outlet,
    h("section", { "aria-labelledby": "deliveries-heading" },
      h("h2", { id: "deliveries-heading" }, "Delivery log"),
      form, refreshButton, results));
  await refresh();
}

// Sign-in ----------------------------------------------------------------------------------------

function signInPage(reason) {
  const field = h("textarea", { id: "token", rows: 4, spellcheck: "false", autocomplete: "off" });
  const form = h("form", { class: "sign-in" },
    h("h1", {}, "Sign in"),
    reason ? h("p", { class: "error", role: "alert" }, reason) : null,
    api.authMode() === "oidc" ? h("p", {}, h("button", { type: "button", onclick: () => api.beginOidcSignIn().catch((error) => show(problem(error))) }, "Sign in with your identity provider")) : null,
    h("label", { for: "token" }, "Or paste a bearer token (pie-local token prints one)"), field,
    h("button", { type: "submit" }, "Use this token"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    api.setToken(field.value);
    render();
  });
  show(form);
  field.focus();
}

function sessionBar() {
  const bar = document.getElementById("session");
  // Locally the server signs the page in again at once, so signing out would mean nothing.
  fill(bar, api.token() && api.authMode() !== "local"
    ? h("button", { type: "button", class: "link", onclick: () => { api.setToken(null); render(); } }, "Sign out")
    : "");
}

// Router -----------------------------------------------------------------------------------------

async function render() {
  clearTimeout(refreshTimer);
  if (!api.token() && api.authMode() === "local") await api.signInLocally().catch(() => false);
  sessionBar();
  if (!api.token()) {
    signInPage();
    return;
  }
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === (parts[0] || "models")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "models" && parts[1]) await modelPage(parts[1]);
    else if (parts[0] === "graph") await graphPage();
    else if (parts[0] === "jobs" && parts[2]) await jobPage(parts[1], parts[2]);
    else if (parts[0] === "jobs") await jobsPage();
    else if (parts[0] === "webhooks" && parts[1]) await webhookPage(parts[1]);
    else if (parts[0] === "webhooks") await webhooksPage();
    else await modelsPage();
  } catch (error) {
    if (error.status === 401) signInPage(error.message);
    else show(problem(error));
    return;
  }
  document.title = `${main.querySelector("h1")?.textContent || "PIE"} · PIE console`;
}

async function start() {
  try {
    await api.loadConfig();
    if (api.authMode() === "oidc") await api.completeOidcSignIn();
  } catch (error) {
    show(problem(error));
    return;
  }
  window.addEventListener("hashchange", () => { render(); main.focus({ preventScroll: true }); });
  await render();
}

start();
