// A small blocking HTTP client over `wasi:http/outgoing-handler`.
//
// `fetch` works in a driver too (it goes through the same `wasi:http`
// import), but it reports every failure as "NetworkError when attempting to
// fetch resource": a driver could not tell a request the host denied (a
// missing grant: `denied`) from a server that is down (`unavailable`). The
// WIT bindings say exactly what happened.
//
// Bindings follow ComponentizeJS conventions: resources are classes, variants
// are `{tag, val}`, functions returning `result` throw the error value, and
// WASI's `u64` arguments are BigInts.

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingBody, OutgoingRequest } from "wasi:http/types@0.2.12";

// `blocking-write-and-flush` accepts at most 4096 bytes per call.
const WRITE_CHUNK = 4096;
const READ_CHUNK = 64n * 1024n;
const MAX_RESPONSE = 8 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The request never got an HTTP response; `code` is the `wasi:http` error-code tag. */
export class TransportError extends Error {
  constructor(url, code) {
    super(`HTTP request to ${url} failed: ${code}`);
    this.code = code;
  }

  get denied() {
    return this.code === "HTTP-request-denied" || this.code === "destination-IP-prohibited";
  }

  get unreachable() {
    return /^(DNS|destination|connection)/.test(this.code) || this.code === "HTTP-response-timeout";
  }
}

/** The error-code tag of a thrown binding error, e.g. `connection-refused`. */
function codeOf(e) {
  const value = e?.payload ?? e;
  return typeof value?.tag === "string" ? value.tag : String(e);
}

function split(url) {
  const m = /^(https?):\/\/([^/]+)(\/.*)?$/.exec(url);
  if (!m) throw new TypeError(`not an http(s) URL: ${url}`);
  return { scheme: m[1], authority: m[2], path: m[3] ?? "/" };
}

/**
 * Send one request and wait for the whole response.
 * @returns {{status: number, text: string}}
 */
export function request(method, url, headers, body) {
  const { scheme, authority, path } = split(url);
  const fields = Fields.fromList(Object.entries(headers).map(([k, v]) => [k, encoder.encode(v)]));
  const outgoing = new OutgoingRequest(fields);
  outgoing.setMethod({ tag: method.toLowerCase() });
  outgoing.setScheme({ tag: scheme.toUpperCase() }); // `HTTP` or `HTTPS`
  outgoing.setAuthority(authority);
  outgoing.setPathWithQuery(path);
  const outBody = outgoing.body();

  let future;
  try {
    future = handle(outgoing, undefined);
  } catch (e) {
    throw new TransportError(url, codeOf(e));
  }
  // If the host refuses the request, the body stream closes; the response
  // future then says why (e.g. HTTP-request-denied), so stop writing and ask it.
  try {
    const stream = outBody.write();
    const bytes = encoder.encode(body ?? "");
    for (let start = 0; start < bytes.length; start += WRITE_CHUNK) {
      stream.blockingWriteAndFlush(bytes.subarray(start, start + WRITE_CHUNK));
    }
    stream[Symbol.dispose](); // a body's stream must go before the body is finished
    OutgoingBody.finish(outBody, undefined);
  } catch {
    // reported by the response future below
  }

  let result;
  while ((result = future.get()) === undefined) {
    future.subscribe().block();
  }
  // {tag: "ok", val: {tag: "ok", val: response}} | {tag: "ok", val: {tag: "err", val: code}}
  if (result.tag !== "ok") throw new TypeError(`the response of ${url} was already taken`);
  if (result.val.tag !== "ok") throw new TransportError(url, result.val.val.tag);
  const response = result.val.val;
  const status = response.status();
  const incoming = response.consume();
  const input = incoming.stream();
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = input.blockingRead(READ_CHUNK);
    } catch (e) {
      if (codeOf(e) === "closed") break;
      throw new TransportError(url, codeOf(e));
    }
    size += chunk.length;
    if (size > MAX_RESPONSE) throw new TypeError(`response of ${url} is larger than ${MAX_RESPONSE} bytes`);
    chunks.push(chunk);
  }
  input[Symbol.dispose]();
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return { status, text: decoder.decode(all) };
}
