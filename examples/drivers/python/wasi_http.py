"""A small blocking HTTP client over `wasi:http/outgoing-handler`.

Python's `urllib` and `http.client` need sockets, which a Podium driver does
not have: the host makes every outbound request itself, after checking it
against the resource definition's grants. This module speaks to the host
directly through the bindings componentize-py generates for `wit/driver.wit`.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as http

# `blocking-write-and-flush` accepts at most 4096 bytes per call.
WRITE_CHUNK = 4096
READ_CHUNK = 64 * 1024
MAX_RESPONSE = 8 << 20


@dataclass
class Response:
    status: int
    body: bytes


class TransportError(Exception):
    """The request never got an HTTP response. `code` is the `wasi:http`
    error-code variant, e.g. `ErrorCode_HttpRequestDenied`."""

    def __init__(self, url: str, code: object):
        self.code = code
        self.kind = type(code).__name__.removeprefix("ErrorCode_")
        super().__init__(f"HTTP request to {url} failed: {self.kind}")

    @property
    def denied(self) -> bool:
        return self.kind in ("HttpRequestDenied", "DestinationIpProhibited")

    @property
    def unreachable(self) -> bool:
        return self.kind.startswith(("Dns", "Destination", "Connection")) or self.kind == "HttpResponseTimeout"


def _method(name: str):
    return {
        "GET": http.Method_Get(),
        "PUT": http.Method_Put(),
        "POST": http.Method_Post(),
        "DELETE": http.Method_Delete(),
        "HEAD": http.Method_Head(),
        "PATCH": http.Method_Patch(),
    }.get(name) or http.Method_Other(name)


def _split(url: str) -> Tuple[object, str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url}")
    authority, slash, path = rest.partition("/")
    if not authority:
        raise ValueError(f"URL without a host: {url}")
    return (http.Scheme_Https() if scheme == "https" else http.Scheme_Http()), authority, slash + path


def request(method: str, url: str, headers: List[Tuple[str, str]], body: Optional[bytes] = None) -> Response:
    scheme, authority, path = _split(url)
    fields = http.Fields.from_list([(name, value.encode()) for name, value in headers])
    outgoing = http.OutgoingRequest(fields)
    outgoing.set_method(_method(method))
    outgoing.set_scheme(scheme)
    outgoing.set_authority(authority)
    outgoing.set_path_with_query(path or "/")
    out_body = outgoing.body()
    try:
        future = outgoing_handler.handle(outgoing, None)
    except Err as e:
        raise TransportError(url, e.value) from None

    # If the host refuses the request, the body stream closes; the response
    # future then says why (e.g. HTTP-request-denied), so stop writing and
    # ask it.
    try:
        stream = out_body.write()
        data = body or b""
        for start in range(0, len(data), WRITE_CHUNK):
            stream.blocking_write_and_flush(data[start : start + WRITE_CHUNK])
        stream.__exit__(None, None, None)  # drop the stream before finishing the body
        http.OutgoingBody.finish(out_body, None)
    except Err:
        pass

    while (result := future.get()) is None:
        future.subscribe().block()
    # Ok(Ok(response)) | Ok(Err(error-code)) | Err(()) when taken twice.
    if isinstance(result, Err):
        raise ValueError(f"the response of {url} was already taken")
    if isinstance(result.value, Err):
        raise TransportError(url, result.value.value)
    response = result.value.value
    status = response.status()
    incoming = response.consume()
    chunks = []
    size = 0
    with incoming.stream() as input_stream:
        while True:
            try:
                chunk = input_stream.blocking_read(READ_CHUNK)
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    break
                raise TransportError(url, e.value) from None
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise ValueError(f"response of {url} is larger than {MAX_RESPONSE} bytes")
            chunks.append(chunk)
    return Response(status, b"".join(chunks))
