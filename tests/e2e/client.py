#!/usr/bin/env python3
"""Generic MCP client driver built on the official Python SDK (PyPI ``mcp``).

mcpgate's Rust end-to-end tests spawn it (with tests/e2e/.venv/bin/python) and assert on the
single JSON document it prints. Same CLI and output shape as client.mjs, plus ``--mode``.

  client.py --url http://127.0.0.1:PORT/mcp [--header "Name: value"]... [options]
  client.py --stdio [--env K=V]... [options] -- COMMAND ARG...

options:
  --call NAME=JSON    call tool NAME with the JSON object as arguments (repeatable, in order;
                      a bare NAME calls it with {})
  --list-all          also list resources, resource templates and prompts (all pages) when the
                      server advertises the capability
  --timeout SECS      per-request timeout (default 30)
  --max-pages N       give up (exit 1) if a listing has more than N pages (default 100)
  --ca FILE           (https) trust only the PEM CA certificate(s) in FILE for the server
  --cert FILE         (https) present the PEM client certificate chain in FILE (mutual TLS)
  --key FILE          (https) the PEM private key for --cert (both or neither)
  --oauth-client ID:SECRET
                      (http) authenticate with the SDK's ClientCredentialsOAuthProvider: discover
                      the authorization server from the 401 challenge, get tokens by the
                      client_credentials grant, and step up on 403 insufficient_scope. The
                      output's "oauth.tokens" lists the scope of every token obtained, in order.
  --oauth-issuer URL  the issuer those client credentials belong to
  --mode MODE         how the SDK negotiates: "auto" (SDK default: probe server/discover at
                      2026-07-28, fall back to initialize), "legacy" (initialize only), or a
                      modern version such as "2026-07-28" (adopt it without any handshake)

stdout: exactly one JSON document (see README.md). Exit 0 when connect + tools/list worked
(tool-call failures are recorded as data); exit 1 with a message on stderr otherwise; exit 2
on a usage error.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from typing import Any

import anyio
import mcp_types as types
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

import httpx2

try:  # the SDK's own default timeouts (30 s, 300 s for SSE reads)
    from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
except ImportError:  # pragma: no cover
    MCP_DEFAULT_TIMEOUT, MCP_DEFAULT_SSE_READ_TIMEOUT = 30.0, 300.0


def create_http_client(headers: dict[str, str], verify: ssl.SSLContext | bool) -> httpx2.AsyncClient:
    """What the SDK's create_mcp_http_client() builds, plus our TLS settings.

    streamable_http_client(url, http_client=...) takes any httpx2.AsyncClient, and httpx2 takes
    an ssl.SSLContext as ``verify``: that is how the SDK expects custom TLS to be configured.
    """
    return httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
        verify=verify,
    )


def tls_context(opts: Options) -> ssl.SSLContext | bool:
    """An SSLContext for --ca/--cert/--key, or True (httpx2's default verification)."""
    if opts.ca is None and opts.cert is None:
        return True
    if opts.ca is not None:
        ctx = ssl.create_default_context(cafile=opts.ca)
    else:
        ctx = ssl.create_default_context()
    if opts.cert is not None:
        ctx.load_cert_chain(certfile=opts.cert, keyfile=opts.key)
    return ctx


USAGE = """usage:
  client.py --url URL [--header "Name: value"]... [--ca FILE] [--cert FILE --key FILE] [--call NAME=JSON]... [--list-all] [--timeout SECS] [--max-pages N] [--mode MODE]
  client.py --stdio [--env K=V]... [--call NAME=JSON]... [--list-all] [--timeout SECS] [--max-pages N] [--mode MODE] -- COMMAND ARG..."""


class UsageError(Exception):
    pass


class Failure(Exception):
    """Connecting or listing failed: exit 1 with this message."""


@dataclass
class Options:
    url: str | None = None
    stdio: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    list_all: bool = False
    timeout: float = 30.0
    max_pages: int = 100
    mode: str = "auto"
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    oauth_client: tuple[str, str] | None = None
    oauth_issuer: str | None = None
    command: list[str] = field(default_factory=list)


def parse_args(argv: list[str]) -> Options:
    opts = Options()
    i = 0

    def value() -> str:
        nonlocal i
        if i + 1 >= len(argv):
            raise UsageError(f"{argv[i]} needs a value")
        i += 1
        return argv[i]

    while i < len(argv):
        arg = argv[i]
        if arg == "--url":
            opts.url = value()
        elif arg == "--stdio":
            opts.stdio = True
        elif arg == "--header":
            h = value()
            name, sep, val = h.partition(":")
            if not sep or not name.strip():
                raise UsageError(f'--header expects "Name: value", got {h!r}')
            opts.headers[name.strip()] = val.strip()
        elif arg == "--env":
            kv = value()
            k, sep, v = kv.partition("=")
            if not sep or not k:
                raise UsageError(f"--env expects K=V, got {kv!r}")
            opts.env[k] = v
        elif arg == "--call":
            spec = value()
            name, sep, raw = spec.partition("=")
            if not name:
                raise UsageError(f"--call expects NAME=JSON, got {spec!r}")
            args: Any = {}
            if sep:
                try:
                    args = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise UsageError(f"--call {name}: arguments are not valid JSON: {e}") from None
            opts.calls.append((name, args))
        elif arg == "--list-all":
            opts.list_all = True
        elif arg == "--timeout":
            try:
                opts.timeout = float(value())
            except ValueError:
                opts.timeout = -1
            if not opts.timeout > 0:
                raise UsageError("--timeout expects a positive number of seconds")
        elif arg == "--max-pages":
            try:
                opts.max_pages = int(value())
            except ValueError:
                opts.max_pages = 0
            if opts.max_pages < 1:
                raise UsageError("--max-pages expects a positive integer")
        elif arg == "--mode":
            opts.mode = value()
        elif arg == "--ca":
            opts.ca = value()
        elif arg == "--cert":
            opts.cert = value()
        elif arg == "--key":
            opts.key = value()
        elif arg == "--oauth-client":
            cred = value()
            client_id, sep, secret = cred.partition(":")
            if not sep or not client_id or not secret:
                raise UsageError(f"--oauth-client expects ID:SECRET, got {cred!r}")
            opts.oauth_client = (client_id, secret)
        elif arg == "--oauth-issuer":
            opts.oauth_issuer = value()
        elif arg == "--":
            opts.command = argv[i + 1 :]
            break
        elif arg in ("-h", "--help"):
            sys.stderr.write(USAGE + "\n")
            sys.exit(0)
        else:
            raise UsageError(f"unknown argument {arg!r}")
        i += 1

    if opts.stdio == (opts.url is not None):
        raise UsageError("give exactly one of --url or --stdio")
    if opts.stdio and not opts.command:
        raise UsageError('--stdio needs "-- COMMAND ARG..."')
    if not opts.stdio and opts.command:
        raise UsageError('"-- COMMAND" is only valid with --stdio')
    if not opts.stdio and opts.env:
        raise UsageError("--env is only valid with --stdio")
    if opts.stdio and opts.headers:
        raise UsageError("--header is only valid with --url")
    if opts.stdio and (opts.ca or opts.cert or opts.key):
        raise UsageError("--ca/--cert/--key are only valid with --url")
    if (opts.cert is None) != (opts.key is None):
        raise UsageError("--cert and --key go together")
    if opts.stdio and opts.oauth_client:
        raise UsageError("--oauth-client is only valid with --url")
    return opts


class RecordingTokenStorage:
    """In-memory TokenStorage (the SDK's protocol) that also records each token's scope."""

    def __init__(self, record: list[str | None]) -> None:
        self._tokens: Any = None
        self._client_info: Any = None
        self._record = record

    async def get_tokens(self) -> Any:
        return self._tokens

    async def set_tokens(self, tokens: Any) -> None:
        self._tokens = tokens
        self._record.append(tokens.scope)

    async def get_client_info(self) -> Any:
        return self._client_info

    async def set_client_info(self, client_info: Any) -> None:
        self._client_info = client_info


def dump(model: Any) -> Any:
    """Wire-shaped JSON (camelCase aliases) of an SDK model."""
    if model is None:
        return None
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def describe(exc: BaseException) -> str:
    """A readable message, unwrapping anyio/asyncio exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ------------------------------------------------------------------ wire tap
@dataclass
class Tap:
    """Raw JSON-RPC traffic seen by the transport: request ids by method, responses by id."""

    last_id_by_method: dict[str, Any] = field(default_factory=dict)
    responses: dict[Any, Any] = field(default_factory=dict)


class _TapRead:
    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap

    def _record(self, item: Any) -> Any:
        msg = getattr(item, "message", None)
        if isinstance(msg, (types.JSONRPCResponse, types.JSONRPCError)):
            self._tap.responses[msg.id] = msg
        return item

    async def receive(self) -> Any:
        return self._record(await self._inner.receive())

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _TapRead:
        return self

    async def __anext__(self) -> Any:
        return self._record(await self._inner.__anext__())

    async def __aenter__(self) -> _TapRead:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:  # e.g. last_context
        return getattr(self._inner, name)


class _TapWrite:
    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap

    async def send(self, item: Any, /) -> None:
        msg = getattr(item, "message", None)
        if isinstance(msg, types.JSONRPCRequest):
            self._tap.last_id_by_method[msg.method] = msg.id
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _TapWrite:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TappedTransport:
    """Wraps an SDK transport (async context manager yielding (read, write) streams)."""

    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self._inner.__aenter__()
        return _TapRead(read, self._tap), _TapWrite(write, self._tap)

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


# ------------------------------------------------------------------ main logic
async def list_all_pages(fetch: Any, key: str, max_pages: int, what: str) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        if pages >= max_pages:
            raise Failure(f"{what}: more than {max_pages} pages (nextCursor never ran out)")
        page = await fetch(cursor)
        pages += 1
        items.extend(getattr(page, key) or [])
        cursor = page.next_cursor
        if cursor is None:
            return items, pages


def tool_entry(tool: Any) -> dict[str, Any]:
    d = dump(tool)
    return {
        "name": d.get("name"),
        "title": d.get("title"),
        "description": d.get("description"),
        "inputSchema": d.get("inputSchema"),
        "outputSchema": d.get("outputSchema"),
        "annotations": d.get("annotations"),
    }


async def run(opts: Options, out: dict[str, Any]) -> None:
    tap = Tap()
    sdk = out["sdkVersion"] or "0.0.0"
    async with AsyncExitStack() as stack:
        if opts.stdio:
            # Unlike the SDK default (a small allow-list of variables), pass our whole environment
            # on, so that the test harness can steer the child (RUST_LOG, coverage variables, ...).
            params = StdioServerParameters(
                command=opts.command[0], args=opts.command[1:], env={**os.environ, **opts.env}
            )
            inner = stdio_client(params, errlog=sys.stderr)
        else:
            try:
                verify = tls_context(opts)
            except (OSError, ssl.SSLError) as e:
                raise Failure(f"cannot load TLS files: {describe(e)}") from e
            http = await stack.enter_async_context(create_http_client(opts.headers, verify))
            if opts.oauth_client is not None:
                from mcp.client.auth.extensions.client_credentials import (
                    ClientCredentialsOAuthProvider,
                )

                tokens: list[str | None] = []
                out["oauth"] = {"tokens": tokens}
                http.auth = ClientCredentialsOAuthProvider(
                    server_url=opts.url,
                    storage=RecordingTokenStorage(tokens),
                    client_id=opts.oauth_client[0],
                    client_secret=opts.oauth_client[1],
                    issuer=opts.oauth_issuer,
                )
            inner = streamable_http_client(opts.url, http_client=http)

        try:
            client = Client(
                TappedTransport(inner, tap),
                mode=opts.mode,
                read_timeout_seconds=opts.timeout,
                client_info=types.Implementation(name="mcpgate-e2e-python", version=sdk),
            )
        except ValueError as e:
            raise UsageError(str(e)) from None
        try:
            # No anyio.fail_after() here: a cancel scope must not straddle the transport's task
            # group. read_timeout_seconds bounds each handshake request instead.
            await stack.enter_async_context(client)
        except Exception as e:  # noqa: BLE001 - every failure to connect is reported the same way
            raise Failure(f"connect failed: {describe(e)}") from e

        session = client.session
        out["server"] = dump(client.server_info)
        out["protocolVersion"] = client.protocol_version
        out["handshake"] = (
            "discover"
            if session.discover_result is not None and tap.last_id_by_method.get("server/discover") is not None
            else "initialize"
            if session.initialize_result is not None
            else "adopt"
        )
        out["capabilities"] = dump(client.server_capabilities)
        out["instructions"] = session.instructions

        try:
            tools, pages = await list_all_pages(
                lambda c: client.list_tools(cursor=c), "tools", opts.max_pages, "tools/list"
            )
            out["tools"] = [tool_entry(t) for t in tools]
            out["pages"] = pages
            if opts.list_all:
                caps = client.server_capabilities
                if caps.resources is not None:
                    res, _ = await list_all_pages(
                        lambda c: client.list_resources(cursor=c), "resources", opts.max_pages, "resources/list"
                    )
                    tpl, _ = await list_all_pages(
                        lambda c: client.list_resource_templates(cursor=c),
                        "resource_templates",
                        opts.max_pages,
                        "resources/templates/list",
                    )
                    out["resources"] = [dump(r) for r in res]
                    out["resourceTemplates"] = [dump(t) for t in tpl]
                else:
                    out["resources"] = None
                    out["resourceTemplates"] = None
                if caps.prompts is not None:
                    prm, _ = await list_all_pages(
                        lambda c: client.list_prompts(cursor=c), "prompts", opts.max_pages, "prompts/list"
                    )
                    out["prompts"] = [dump(p) for p in prm]
                else:
                    out["prompts"] = None
        except Failure as e:
            raise Failure(f"listing failed: {e}") from None
        except Exception as e:  # noqa: BLE001
            raise Failure(f"listing failed: {describe(e)}") from e

        for name, arguments in opts.calls:
            entry: dict[str, Any] = {"name": name, "arguments": arguments}
            id_before = tap.last_id_by_method.get("tools/call")
            try:
                result = await client.call_tool(name, arguments)
                entry["result"] = dump(result)
            except Exception as e:  # noqa: BLE001 - call failures are data
                call_id = tap.last_id_by_method.get("tools/call")
                wire = tap.responses.get(call_id) if call_id != id_before else None
                if isinstance(wire, types.JSONRPCError):
                    # A JSON-RPC error response from the server: report it exactly as sent.
                    entry["error"] = dump(wire.error)
                else:
                    # Raised inside the SDK (timeout, closed connection, output-schema validation, ...).
                    err: dict[str, Any] = {
                        "code": e.code if isinstance(e, MCPError) else None,
                        "message": describe(e) if not isinstance(e, MCPError) else e.message,
                        "clientSide": True,
                    }
                    if isinstance(e, MCPError) and e.data is not None:
                        err["data"] = e.data
                    entry["error"] = err
                    if isinstance(wire, types.JSONRPCResponse):
                        entry["rawResult"] = wire.result
            out["calls"].append(entry)
        out["_done"] = True
        # Leaving the stack closes the session (HTTP: DELETE of the session; stdio: child stopped).


def main() -> int:
    try:
        opts = parse_args(sys.argv[1:])
    except UsageError as e:
        sys.stderr.write(f"client.py: {e}\n{USAGE}\n")
        return 2

    try:
        sdk_version: str | None = dist_version("mcp")
    except Exception:  # noqa: BLE001
        sdk_version = None
    out: dict[str, Any] = {
        "client": "python-sdk",
        "sdkVersion": sdk_version,
        "transport": "stdio" if opts.stdio else "http",
        "server": None,
        "protocolVersion": None,
        "handshake": None,
        "capabilities": None,
        "instructions": None,
        "tools": [],
        "pages": 0,
        "calls": [],
    }
    try:
        anyio.run(run, opts, out)
    except BaseException as e:  # noqa: BLE001 - also exception groups from the transports
        if isinstance(e, KeyboardInterrupt):
            raise
        usage = _find(e, UsageError)
        if usage is not None:
            sys.stderr.write(f"client.py: {usage}\n{USAGE}\n")
            return 2
        failures = _find(e, Failure)
        if failures is not None:
            sys.stderr.write(f"client.py: {failures}\n")
            return 1
        if out.pop("_done", False):
            # Everything ran; only tearing the connection down failed. The results stand.
            sys.stderr.write(f"client.py: close failed (ignored): {describe(e)}\n")
        else:
            sys.stderr.write(f"client.py: unexpected failure: {describe(e)}\n")
            return 1
    out.pop("_done", None)
    sys.stdout.buffer.write(json.dumps(out, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.flush()
    return 0


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            if (found := _find(sub, kind)) is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
