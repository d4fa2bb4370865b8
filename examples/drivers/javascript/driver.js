// `example/config-js`: a `config` resource kept in an HTTP key-value store.
//
// The same driver exists in Rust and Python beside this directory; all three
// behave identically (see ../README.md):
//
// - driver_inputs.values:  {"url": "http://HOST:PORT", "prefix": "podium"}
// - driver_inputs.secrets: {"token": "..."}  (bearer token of the kv server)
// - params:                the configuration itself, a JSON object
// - key:                   PREFIX-GURESID
// - outputs:  values  {"key", "url", "revision", "data"}
//             secrets {"read_token"}
//             state   {"key", "revision"}
//
// The export `driver` implements `podium:driver/driver`. WIT names become
// camelCase (`driver-values` -> `driverValues`), `option<string>` is a string
// or `undefined`, enums are strings, and an `error` is returned by throwing
// `{tag: "invalid-input", val: "message"}` (see `fail`).

import { log } from "podium:driver/log@0.1.0";
import { TransportError, request } from "./wasi-http.js";

const NAME = "example/config-js";
const VERSION = "0.1.0";
const SAFE = /^[A-Za-z0-9._-]{1,64}$/;

const INPUTS_SCHEMA = {
  type: "object",
  properties: {
    values: {
      type: "object",
      required: ["url"],
      properties: {
        url: { type: "string", description: "base URL of the kv server" },
        prefix: { type: "string", default: "podium" },
      },
    },
    secrets: {
      type: "object",
      required: ["token"],
      properties: { token: { type: "string" } },
    },
  },
};

/** End this call with one of the contract's `error` variants. */
function fail(tag, message) {
  throw { tag, val: message };
}

function parseObject(what, text) {
  let value;
  try {
    value = text ? JSON.parse(text) : {};
  } catch (e) {
    fail("invalid-input", `${what} is not JSON: ${e.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail("invalid-input", `${what} must be a JSON object`);
  }
  return value;
}

function parseState(text) {
  if (text === undefined) return undefined;
  let state;
  try {
    state = JSON.parse(text);
  } catch (e) {
    fail("invalid-input", `state is not JSON: ${e.message}`);
  }
  if (state === null) return undefined;
  if (typeof state !== "object" || Array.isArray(state)) {
    fail("invalid-input", "state must be a JSON object");
  }
  return state;
}

/** JSON equality that ignores key order (the server may reorder keys). */
function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

/** A request decoded and checked: everything a call needs. */
function inputs(request) {
  const values = parseObject("driver_values", request.driverValues);
  const secrets = parseObject("driver_secrets", request.driverSecrets);
  const data = parseObject("params", request.params);
  const url = values.url;
  if (typeof url !== "string" || !/^https?:\/\//.test(url)) {
    fail("invalid-input", "driver_values.url must be an http:// or https:// URL");
  }
  const prefix = values.prefix ?? "podium";
  if (typeof prefix !== "string" || !SAFE.test(prefix)) {
    fail("invalid-input", "driver_values.prefix must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (typeof secrets.token !== "string" || secrets.token === "") {
    fail("invalid-input", "driver_secrets.token is required");
  }
  const guresid = request.context.guresid;
  if (!SAFE.test(guresid)) {
    fail("invalid-input", "context.guresid must be set (1-64 characters of A-Z a-z 0-9 . _ -)");
  }
  const state = parseState(request.state);
  const key = state?.key ?? `${prefix}-${guresid}`;
  return {
    data,
    state,
    key,
    entryUrl: `${url.replace(/\/+$/, "")}/v1/kv/${key}`,
    token: secrets.token,
  };
}

/** One request to the kv server; transport failures become driver errors. */
function call(ins, method, body, extraHeaders = {}) {
  const headers = { authorization: `Bearer ${ins.token}`, ...extraHeaders };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(new TextEncoder().encode(body).length);
  }
  let response;
  try {
    response = request(method, ins.entryUrl, headers, body);
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    if (e.denied) fail("denied", `${method} ${ins.entryUrl} was denied by the host: no grant covers it`);
    fail(e.unreachable ? "unavailable" : "failed", e.message);
  }
  if (response.status === 401 || response.status === 403) {
    fail("invalid-input", `the kv server rejected driver_secrets.token (HTTP ${response.status})`);
  }
  if (response.status >= 500) {
    fail("unavailable", `${method} ${ins.entryUrl}: HTTP ${response.status}`);
  }
  return response;
}

function expect(response, statuses, method, url) {
  if (!statuses.includes(response.status)) {
    fail("failed", `${method} ${url}: unexpected HTTP ${response.status}: ${response.text.slice(0, 200)}`);
  }
  return response.text ? JSON.parse(response.text) : undefined;
}

function fetchEntry(ins) {
  const response = call(ins, "GET");
  if (response.status === 404) return undefined;
  return expect(response, [200], "GET", ins.entryUrl);
}

function conflictMessage(ins, entry) {
  return (
    `config ${ins.key} changed outside Podium: the server has revision ${entry?.revision}, ` +
    `the last apply wrote revision ${ins.state?.revision}`
  );
}

export const driver = {
  info() {
    return {
      name: NAME,
      version: VERSION,
      resourceTypes: ["config"],
      inputsSchema: JSON.stringify(INPUTS_SCHEMA),
    };
  },

  plan(request) {
    const ins = inputs(request);
    const entry = fetchEntry(ins);
    if (entry === undefined) {
      return { action: "create", summary: `create config ${ins.key}` };
    }
    if (ins.state !== undefined && entry.revision !== ins.state.revision) {
      fail("conflict", conflictMessage(ins, entry));
    }
    if (sameJson(entry.value, ins.data)) {
      return { action: "unchanged", summary: `config ${ins.key} is up to date (revision ${entry.revision})` };
    }
    return { action: "update", summary: `update config ${ins.key} (revision ${entry.revision})` };
  },

  apply(request) {
    const ins = inputs(request);
    // The server refuses the write (412) if someone else changed the entry
    // since our last apply.
    const headers = ins.state !== undefined ? { "if-match": String(ins.state.revision) } : {};
    const response = call(ins, "PUT", JSON.stringify({ value: ins.data }), headers);
    if (response.status === 412) {
      fail("conflict", conflictMessage(ins, JSON.parse(response.text)));
    }
    const entry = expect(response, [200, 201], "PUT", ins.entryUrl);
    const verb = response.status === 201 ? "created" : "updated";
    log("info", `${verb} config ${ins.key} (revision ${entry.revision})`);
    return {
      values: JSON.stringify({ key: ins.key, url: ins.entryUrl, revision: entry.revision, data: entry.value }),
      secrets: JSON.stringify({ read_token: entry.read_token }),
      state: JSON.stringify({ key: ins.key, revision: entry.revision }),
    };
  },

  delete(request) {
    const ins = inputs(request);
    const response = call(ins, "DELETE");
    if (response.status === 404) {
      log("info", `config ${ins.key} was already gone`);
      return;
    }
    expect(response, [204], "DELETE", ins.entryUrl);
    log("info", `deleted config ${ins.key}`);
  },
};
