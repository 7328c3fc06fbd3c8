// PIE's HTTP API as the console uses it: configuration, sign-in, requests and its published contract.
//
// config.json says where the API is and how to sign in:
//   {"api_url": "", "auth": {"mode": "local", "token_url": "local-token"}}      (pie-local serve)
//   {"api_url": "https://…", "auth": {"mode": "oidc", "issuer": "https://…",
//    "client_id": "…", "redirect_uri": "https://…/", "scope": "openid …"}}    (the CDK app)
// A token pasted by hand works with either.

const TOKEN_KEY = "pie.console.token";
const PKCE_KEY = "pie.console.pkce";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let config = null;
let contractRead = null;

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  config = await response.json();
  config.api_url = (config.api_url || "").replace(/\/$/, "");
  return config;
}

export function authMode() {
  return config?.auth?.mode || "paste";
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

// pie-local hands a token to a console opened on its own loopback address; anything else pastes one.
export async function signInLocally() {
  const response = await fetch(config.auth.token_url || "local-token", { cache: "no-store" });
  if (!response.ok) return false;
  const body = await response.json();
  setToken(body.token);
  return true;
}

// OAuth 2.0 authorization code flow with PKCE (RFC 7636) against the JWT issuer.
async function discovery() {
  const issuer = config.auth.issuer.replace(/\/$/, "");
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the issuer's discovery document answered HTTP ${response.status}`);
  return response.json();
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function beginOidcSignIn() {
  const endpoints = await discovery();
  const verifier = randomString();
  const state = randomString();
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, back: location.hash }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.auth.client_id,
    redirect_uri: config.auth.redirect_uri,
    scope: config.auth.scope || "openid",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${endpoints.authorization_endpoint}?${query}`);
}

// Back from the issuer with ?code=…&state=…: trade the code for a token, then forget the code.
export async function completeOidcSignIn() {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", location.pathname + (pending?.back || ""));
  if (query.has("error")) throw new Error(`sign-in refused: ${query.get("error_description") || query.get("error")}`);
  if (!pending || pending.state !== query.get("state")) throw new Error("sign-in answer does not match the request; sign in again");
  const endpoints = await discovery();
  const response = await fetch(endpoints.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: query.get("code"),
      redirect_uri: config.auth.redirect_uri,
      client_id: config.auth.client_id,
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`token exchange failed: ${body.error_description || body.error || response.status}`);
  setToken(body.access_token);
  return true;
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(config.api_url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `PIE could not be reached: ${error.message}`);
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    // PIE's errors carry `message`; API Gateway's own (401 from the authorizer) carry `message` too.
    const message = parsed?.message || text || `HTTP ${response.status}`;
    if (response.status === 401) setToken(null);
    throw new ApiError(response.status, message);
  }
  return parsed;
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);

// One page of a list: its items and the token of the page after it (null after the last).
export async function page(path, key, nextToken = null, limit = 100) {
  const separator = path.includes("?") ? "&" : "?";
  const body = await get(`${path}${separator}limit=${limit}${nextToken ? `&next_token=${encodeURIComponent(nextToken)}` : ""}`);
  return { items: body[key], next: body.next_token };
}

// Every page of a list, up to `cap` items.
export async function all(path, key, cap = 1000) {
  const items = [];
  let next = null;
  do {
    const read = await page(path, key, next);
    items.push(...read.items);
    next = read.next;
  } while (next && items.length < cap);
  return items;
}

// The API's published contract (its OpenAPI document), read once: the API's own copy first, else
// the copy deployed beside the console from the same checkout.
//  - features: routes added after the first release are used only when the document lists them;
//  - nextStatuses and jobEvents: the version lifecycle and the job-event table, as the server
//    publishes them (x-pie-lifecycle, x-pie-job-events). The console never re-types them.
// An API too old to publish the rules lends them from the console's copy; with no document at all,
// both are empty (the console then offers no version move rather than a guessed one).
export function contract() {
  contractRead ??= readContract();
  return contractRead;
}

async function readContract() {
  let paths = null;
  let rules = null;
  for (const source of [`${config.api_url}/v2/openapi.json`, "openapi.json"]) {
    try {
      const response = await fetch(source, { cache: "no-store" });
      if (!response.ok) continue;
      const document = await response.json();
      paths ??= document.paths || {};
      if (!rules && document["x-pie-lifecycle"] && document["x-pie-job-events"]) rules = document;
      if (rules) break;
    } catch {
      // not served there; try the next copy
    }
  }
  paths ??= {};
  return {
    features: {
      jobsList: "/v2/jobs" in paths,
      retry: "/v2/models/{model_id}/jobs/{job_id}/retry" in paths,
      cancel: "/v2/models/{model_id}/jobs/{job_id}/cancel" in paths,
      aliases: "/v2/models/{model_id}/aliases" in paths,
      search: (paths["/v2/models"]?.get?.parameters || []).some((parameter) => parameter.name === "filter"),
      webhooks: "/v2/webhooks" in paths,
    },
    nextStatuses: rules?.["x-pie-lifecycle"].next_statuses || {},
    jobEvents: rules?.["x-pie-job-events"].events || [],
  };
}

export async function detectFeatures() {
  return (await contract()).features;
}

export const enc = encodeURIComponent;
