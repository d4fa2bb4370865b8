"""`example/config-python`: a `config` resource kept in an HTTP key-value store.

The same driver exists in Rust and JavaScript beside this directory; all three
behave identically (see ../README.md):

- driver_inputs.values:  {"url": "http://HOST:PORT", "prefix": "podium"}
- driver_inputs.secrets: {"token": "..."}  (bearer token of the kv server)
- params:                the configuration itself, a JSON object
- key:                   PREFIX-GURESID
- outputs:  values  {"key", "url", "revision", "data"}
            secrets {"read_token"}
            state   {"key", "revision"}

componentize-py finds the export by its interface name: the class `Driver`
of this module implements `podium:driver/driver`.
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.podium_driver_types import (
    Action,
    Error_Conflict,
    Error_Denied,
    Error_Failed,
    Error_InvalidInput,
    Error_Unavailable,
    Info,
    Outputs,
    Plan,
    Request,
)

import wasi_http

NAME = "example/config-python"
VERSION = "0.1.0"
SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

INPUTS_SCHEMA = {
    "type": "object",
    "properties": {
        "values": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "description": "base URL of the kv server"},
                "prefix": {"type": "string", "default": "podium"},
            },
        },
        "secrets": {
            "type": "object",
            "required": ["token"],
            "properties": {"token": {"type": "string"}},
        },
    },
}


class Inputs:
    """A request decoded and checked: everything a call needs."""

    def __init__(self, request: Request):
        values = parse_object("driver_values", request.driver_values)
        secrets = parse_object("driver_secrets", request.driver_secrets)
        self.data = parse_object("params", request.params)
        url = values.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            fail(Error_InvalidInput, "driver_values.url must be an http:// or https:// URL")
        prefix = values.get("prefix", "podium")
        if not isinstance(prefix, str) or not SAFE.match(prefix):
            fail(Error_InvalidInput, "driver_values.prefix must be 1-64 characters of A-Z a-z 0-9 . _ -")
        token = secrets.get("token")
        if not isinstance(token, str) or not token:
            fail(Error_InvalidInput, "driver_secrets.token is required")
        guresid = request.context.guresid
        if not SAFE.match(guresid):
            fail(Error_InvalidInput, "context.guresid must be set (1-64 characters of A-Z a-z 0-9 . _ -)")
        self.state = parse_state(request.state)
        self.key = (self.state or {}).get("key") or f"{prefix}-{guresid}"
        self.entry_url = f"{url.rstrip('/')}/v1/kv/{self.key}"
        self.token = token

    def call(self, method, body=None, headers=()):
        """One request to the kv server; transport failures become driver errors."""
        all_headers = [("authorization", f"Bearer {self.token}"), *headers]
        if body is not None:
            all_headers.append(("content-type", "application/json"))
            all_headers.append(("content-length", str(len(body))))
        try:
            response = wasi_http.request(method, self.entry_url, all_headers, body)
        except wasi_http.TransportError as e:
            if e.denied:
                fail(Error_Denied, f"{method} {self.entry_url} was denied by the host: no grant covers it")
            if e.unreachable:
                fail(Error_Unavailable, str(e))
            fail(Error_Failed, str(e))
        if response.status in (401, 403):
            fail(Error_InvalidInput, f"the kv server rejected driver_secrets.token (HTTP {response.status})")
        if response.status >= 500:
            fail(Error_Unavailable, f"{method} {self.entry_url}: HTTP {response.status}")
        return response

    def fetch(self):
        """The entry on the server, or None."""
        response = self.call("GET")
        if response.status == 404:
            return None
        return expect(response, 200, "GET", self.entry_url)

    def changed_behind_our_back(self, entry):
        return self.state is not None and entry is not None and entry["revision"] != self.state.get("revision")


class Driver(exports.Driver):
    def info(self) -> Info:
        return Info(NAME, VERSION, ["config"], json.dumps(INPUTS_SCHEMA))

    def plan(self, request: Request) -> Plan:
        inputs = Inputs(request)
        entry = inputs.fetch()
        if entry is None:
            return Plan(Action.CREATE, f"create config {inputs.key}")
        if inputs.changed_behind_our_back(entry):
            fail(Error_Conflict, conflict_message(inputs, entry))
        if entry["value"] == inputs.data:
            return Plan(Action.UNCHANGED, f"config {inputs.key} is up to date (revision {entry['revision']})")
        return Plan(Action.UPDATE, f"update config {inputs.key} (revision {entry['revision']})")

    def apply(self, request: Request) -> Outputs:
        inputs = Inputs(request)
        headers = []
        if inputs.state is not None:
            # The server refuses the write (412) if someone else changed the
            # entry since our last apply.
            headers.append(("if-match", str(inputs.state.get("revision"))))
        body = json.dumps({"value": inputs.data}).encode()
        response = inputs.call("PUT", body, headers)
        if response.status == 412:
            fail(Error_Conflict, conflict_message(inputs, json.loads(response.body)))
        entry = expect(response, (200, 201), "PUT", inputs.entry_url)
        verb = "created" if response.status == 201 else "updated"
        log.log(log.Level.INFO, f"{verb} config {inputs.key} (revision {entry['revision']})")
        return Outputs(
            values=json.dumps(
                {"key": inputs.key, "url": inputs.entry_url, "revision": entry["revision"], "data": entry["value"]}
            ),
            secrets=json.dumps({"read_token": entry["read_token"]}),
            state=json.dumps({"key": inputs.key, "revision": entry["revision"]}),
        )

    def delete(self, request: Request) -> None:
        inputs = Inputs(request)
        response = inputs.call("DELETE")
        if response.status == 404:
            log.log(log.Level.INFO, f"config {inputs.key} was already gone")
            return
        expect(response, 204, "DELETE", inputs.entry_url)
        log.log(log.Level.INFO, f"deleted config {inputs.key}")


def fail(kind, message):
    """Return an error of the contract's `error` variant from this call."""
    raise Err(kind(message))


def parse_object(what, text):
    try:
        value = json.loads(text) if text else {}
    except ValueError as e:
        fail(Error_InvalidInput, f"{what} is not JSON: {e}")
    if not isinstance(value, dict):
        fail(Error_InvalidInput, f"{what} must be a JSON object")
    return value


def parse_state(text):
    """The state of the last apply: `{"key", "revision"}` or None."""
    if text is None:
        return None
    try:
        state = json.loads(text)
    except ValueError as e:
        fail(Error_InvalidInput, f"state is not JSON: {e}")
    if state is not None and not isinstance(state, dict):
        fail(Error_InvalidInput, "state must be a JSON object")
    return state


def expect(response, statuses, method, url):
    statuses = statuses if isinstance(statuses, tuple) else (statuses,)
    if response.status not in statuses:
        fail(Error_Failed, f"{method} {url}: unexpected HTTP {response.status}: {response.body[:200]!r}")
    return json.loads(response.body) if response.body else None


def conflict_message(inputs, entry):
    return (
        f"config {inputs.key} changed outside Podium: the server has revision {entry.get('revision')}, "
        f"the last apply wrote revision {inputs.state.get('revision')}"
    )
