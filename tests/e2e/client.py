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
  --oauth-private-key-jwt ID:PEM_FILE
                      (http) like --oauth-client, but the client authenticates with a JWT it
                      signs with the private key in PEM_FILE (RFC 7523 private_key_jwt; the SDK's
                      PrivateKeyJWTOAuthProvider; RS256 for an RSA key, ES256 for an EC key)
  --oauth-issuer URL  the issuer those client credentials belong to
  --oauth-login USER  (http) authenticate with the SDK's OAuthClientProvider (authorization code
                      + PKCE, dynamic client registration) and log in as USER headlessly: the
                      authorization URL is walked like a browser (cookies kept, redirects followed
                      by hand, each page's first <form> filled in - login=USER, password=pw, the
                      submit button whose value is "approve" else the first - and submitted) until
                      a redirect to the redirect URI; its code, state and iss go back to the SDK.
                      The output's "oauth" gains client_id, hops, iss, tokens, authorizations
                      and errors (exclusive with --oauth-client). Before the connection is up a
                      failed login is exit 1 ("connect failed: ... error=access_denied ...");
                      after it, a failed re-authorization is recorded in "oauth.errors" and the
                      request fails with the server's 401
  --oauth-redirect-uri URL  the redirect URI to register and use (default
                      http://127.0.0.1:33418/callback; nothing listens there)
  --oauth-auth-method METHOD  token_endpoint_auth_method to register: none (default),
                      client_secret_post or client_secret_basic
  --oauth-client-metadata-url URL  an https Client ID Metadata Document URL; used as client_id
                      instead of registering when the server advertises support
  --oauth-refresh-check  after the tool calls, mark the access token expired and list tools
                      again, so the SDK refreshes it; the result is in "oauth.refresh"
  --oauth-before-refresh URL  POST to URL (empty body, must answer 2xx) before that refresh,
                      e.g. an IdP admin endpoint that disables the account; repeatable
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
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from html.parser import HTMLParser
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import anyio
import mcp_types as types
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult
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
            [--oauth-client ID:SECRET [--oauth-issuer URL]]
            [--oauth-login USER [--oauth-redirect-uri URL] [--oauth-auth-method METHOD] [--oauth-client-metadata-url URL]
             [--oauth-refresh-check [--oauth-before-refresh URL]...]]
  client.py --stdio [--env K=V]... [--call NAME=JSON]... [--list-all] [--timeout SECS] [--max-pages N] [--mode MODE] -- COMMAND ARG..."""


# Where the authorization server sends the browser back to at the end: nothing listens there,
# the login walker stops at the redirect and hands code/state/iss to the SDK.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:33418/callback"
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
MAX_HOPS = 20


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
    oauth_jwt_client: tuple[str, str] | None = None
    oauth_issuer: str | None = None
    oauth_login: str | None = None
    oauth_redirect_uri: str = DEFAULT_REDIRECT_URI
    oauth_auth_method: str = "none"
    oauth_client_metadata_url: str | None = None
    oauth_refresh_check: bool = False
    oauth_before_refresh: list[str] = field(default_factory=list)
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
        elif arg == "--oauth-private-key-jwt":
            cred = value()
            client_id, sep, pem_file = cred.partition(":")
            if not sep or not client_id or not pem_file:
                raise UsageError(f"--oauth-private-key-jwt expects ID:PEM_FILE, got {cred!r}")
            opts.oauth_jwt_client = (client_id, pem_file)
        elif arg == "--oauth-issuer":
            opts.oauth_issuer = value()
        elif arg == "--oauth-login":
            opts.oauth_login = value()
            if not opts.oauth_login:
                raise UsageError("--oauth-login expects a user name")
        elif arg == "--oauth-redirect-uri":
            opts.oauth_redirect_uri = value()
            parts = urlsplit(opts.oauth_redirect_uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise UsageError(f"--oauth-redirect-uri expects an absolute http(s) URL, got {opts.oauth_redirect_uri!r}")
        elif arg == "--oauth-auth-method":
            opts.oauth_auth_method = value()
            if opts.oauth_auth_method not in AUTH_METHODS:
                raise UsageError(f"--oauth-auth-method expects one of {', '.join(AUTH_METHODS)}")
        elif arg == "--oauth-client-metadata-url":
            opts.oauth_client_metadata_url = value()
        elif arg == "--oauth-refresh-check":
            opts.oauth_refresh_check = True
        elif arg == "--oauth-before-refresh":
            opts.oauth_before_refresh.append(value())
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
    if opts.stdio and (opts.oauth_client or opts.oauth_jwt_client):
        raise UsageError("--oauth-client/--oauth-private-key-jwt are only valid with --url")
    if opts.oauth_client and opts.oauth_jwt_client:
        raise UsageError("--oauth-client and --oauth-private-key-jwt are exclusive")
    if opts.stdio and opts.oauth_login:
        raise UsageError("--oauth-login is only valid with --url")
    if opts.oauth_client and opts.oauth_login:
        raise UsageError("--oauth-client and --oauth-login are exclusive")
    login_only = [
        name
        for name, given in (
            ("--oauth-redirect-uri", opts.oauth_redirect_uri != DEFAULT_REDIRECT_URI),
            ("--oauth-auth-method", opts.oauth_auth_method != "none"),
            ("--oauth-client-metadata-url", opts.oauth_client_metadata_url is not None),
            ("--oauth-refresh-check", opts.oauth_refresh_check),
        )
        if given
    ]
    if login_only and not opts.oauth_login:
        raise UsageError(f"{login_only[0]} needs --oauth-login")
    if opts.oauth_before_refresh and not opts.oauth_refresh_check:
        raise UsageError("--oauth-before-refresh needs --oauth-refresh-check")
    return opts


class RecordingTokenStorage:
    """In-memory TokenStorage (the SDK's protocol) that also records each token's scope
    (and, given ``oauth``, the client_id the SDK registered or was given)."""

    def __init__(self, record: list[str | None], oauth: dict[str, Any] | None = None) -> None:
        self._tokens: Any = None
        self._client_info: Any = None
        self._record = record
        self._oauth = oauth

    async def get_tokens(self) -> Any:
        return self._tokens

    async def set_tokens(self, tokens: Any) -> None:
        self._tokens = tokens
        self._record.append(tokens.scope)

    async def get_client_info(self) -> Any:
        return self._client_info

    async def set_client_info(self, client_info: Any) -> None:
        self._client_info = client_info
        if self._oauth is not None:
            self._oauth["client_id"] = client_info.client_id


# ------------------------------------------------------------------ headless login
class WalkError(Exception):
    """The login walk could not go on (no form, an HTTP error, too many hops)."""


class AuthorizationDenied(Exception):
    """The authorization server redirected to the redirect URI with ``error=...``."""


@dataclass
class HtmlForm:
    action: str | None = None
    method: str = "get"
    fields: list[tuple[str, str]] = field(default_factory=list)
    # submit buttons (<button> of type submit, <input type=submit|image>): (name, value)
    submitters: list[tuple[str | None, str]] = field(default_factory=list)


class FormParser(HTMLParser):
    """Collects the <form>s of a page: action, method, successful controls, submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._select_chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = HtmlForm(action=a.get("action"), method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image"):
                form.submitters.append((name or None, a.get("value", "")))
            elif kind in ("button", "reset", "file") or not name:
                pass
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    form.fields.append((name, a.get("value", "on")))
            else:
                form.fields.append((name, a.get("value", "")))
        elif tag == "button":
            if (a.get("type") or "submit").lower() == "submit":
                form.submitters.append((name or None, a.get("value", "")))
        elif tag == "textarea" and name:
            form.fields.append((name, ""))
        elif tag == "select" and name:
            self._select, self._select_value, self._select_chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_value is None or ("selected" in a and not self._select_chosen):
                self._select_value = value
                self._select_chosen = "selected" in a

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            if self._form is not None and self._select_value is not None:
                self._form.fields.append((self._select, self._select_value))
            self._select = None


class _TextParser(HTMLParser):
    """The visible text of a page (for error messages)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _page_text(body: str, limit: int = 300) -> str:
    parser = _TextParser()
    try:
        parser.feed(body)
        parser.close()
        text = " ".join(" ".join(parser.parts).split())
    except Exception:  # noqa: BLE001
        text = ""
    return (text or " ".join(body.split()))[:limit]


class LoopbackCookiePolicy(DefaultCookiePolicy):
    """Like browsers, send Secure cookies to http://127.0.0.1, ::1 and localhost too (they
    count as secure contexts there); Python's default sends them over https only."""

    def return_ok_secure(self, cookie: Cookie, request: Any) -> bool:
        host = urlsplit(request.get_full_url()).hostname or ""
        if cookie.secure and host in ("127.0.0.1", "::1", "localhost"):
            return True
        return super().return_ok_secure(cookie, request)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class LoginWalker:
    """redirect_handler/callback_handler for OAuthClientProvider: a headless browser.

    It walks from the authorization URL through every redirect and HTML form (login at the
    IdP, consent at the gateway, ...) until the authorization server redirects to the redirect
    URI, and returns that redirect's code, state and iss to the SDK. One cookie jar for the
    whole run, like a browser: a re-authorization finds the sessions of the first one.
    """

    def __init__(self, http: httpx2.AsyncClient, user: str, redirect_uri: str) -> None:
        self.http = http
        self.user = user
        self.redirect_uri = redirect_uri
        self.decision = "approve"  # the button pressed on the gateway's consent form
        self.walks: list[dict[str, Any]] = []  # one per authorization: hops, iss, error
        self._result: AuthorizationCodeResult | None = None
        self._error: tuple[str, str | None] | None = None

    def _is_redirect_uri(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.redirect_uri)
        return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)

    async def redirect_handler(self, authorization_url: str) -> None:
        self._result, self._error = None, None
        hops: list[dict[str, Any]] = []
        walk: dict[str, Any] = {"hops": hops, "iss": None, "error": None}
        self.walks.append(walk)
        method, url, data = "GET", authorization_url, None
        for _ in range(MAX_HOPS):
            headers = {"content-type": "application/x-www-form-urlencoded"} if data is not None else None
            try:
                resp = await self.http.request(method, url, content=data, headers=headers)
            except httpx2.HTTPError as e:
                raise WalkError(f"{method} {_without_query(url)}: {describe(e)}") from e
            hops.append({"method": method, "url": _without_query(url), "status": resp.status_code})
            if resp.status_code in (301, 302, 303, 307, 308):
                location = resp.headers.get("location")
                if not location:
                    raise WalkError(f"{method} {_without_query(url)}: HTTP {resp.status_code} without Location")
                target = urljoin(url, location)
                if self._is_redirect_uri(target):
                    hops.append({"method": "GET", "url": _without_query(target), "status": None})
                    query = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
                    walk["iss"] = query.get("iss")
                    if "error" in query:
                        walk["error"] = {"error": query["error"], "error_description": query.get("error_description")}
                        self._error = (query["error"], query.get("error_description"))
                        return
                    self._result = AuthorizationCodeResult(
                        code=query.get("code", ""), state=query.get("state"), iss=query.get("iss")
                    )
                    return
                if resp.status_code not in (307, 308):
                    method, data = "GET", None
                url = target
                continue
            body = resp.text
            form = None
            if resp.status_code == 200 and "html" in resp.headers.get("content-type", "html"):
                parser = FormParser()
                parser.feed(body)
                parser.close()
                form = parser.forms[0] if parser.forms else None
            if form is None:
                snippet = _page_text(body)
                raise WalkError(
                    f"{method} {_without_query(url)}: HTTP {resp.status_code} and no form to submit: {snippet}"
                )
            fields = [
                (name, self.user if name == "login" else "pw" if name == "password" else value)
                for name, value in form.fields
            ]
            named = [s for s in form.submitters if s[0]]
            # The decision applies to the gateway's consent form; any other form is approved.
            preferred = self.decision if (form.action or "").endswith("/oauth/consent") else "approve"
            chosen = next((s for s in named if s[1] == preferred), named[0] if named else None)
            if chosen is not None:
                fields.append((chosen[0], chosen[1]))  # type: ignore[arg-type]
            url = urljoin(url, form.action) if form.action else url
            if form.method == "post":
                method, data = "POST", urlencode(fields)
            else:
                method, data = "GET", None
                parts = urlsplit(url)
                url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(fields), ""))
        raise WalkError(f"no redirect to {self.redirect_uri} after {MAX_HOPS} hops")

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._error is not None:
            error, description = self._error
            raise AuthorizationDenied(
                f"authorization failed: error={error}" + (f" ({description})" if description else "")
            )
        if self._result is None:
            raise WalkError("the login walk produced no authorization response")
        return self._result


def _is_ec_pem(pem: str) -> bool:
    """Whether a PKCS#8 PEM holds an EC key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return isinstance(load_pem_private_key(pem.encode(), password=None), ec.EllipticCurvePrivateKey)
    except ValueError:
        return False


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


async def setup_login(
    opts: Options, out: dict[str, Any], stack: AsyncExitStack, verify: ssl.SSLContext | bool
) -> Any:
    """The SDK's OAuthClientProvider, driven by a LoginWalker (see --oauth-login)."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata

    class RecordingOAuthClientProvider(OAuthClientProvider):
        """Also records the outcome of the refresh_token grant (for --oauth-refresh-check).
        _handle_refresh_response is the SDK's (private) hook for exactly that response."""

        refreshes: list[dict[str, Any]]
        errors: list[str]
        # After connecting: a failed (re-)authorization must not tear the transport down (the
        # SDK raises out of the request's task); send the request once more without
        # credentials instead, so that it fails (401) like any other request, as data.
        soft_fail = False

        async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            flow = super().async_auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    response = yield outgoing
                    outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return
            except Exception as e:  # noqa: BLE001
                if not self.soft_fail:
                    raise
                message = describe(e)
                self.errors.append(message)
                sys.stderr.write(f"client.py: authorization failed (recorded in oauth.errors): {message}\n")
                request.headers.pop("Authorization", None)
                yield request
            finally:
                await flow.aclose()

        async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
            entry: dict[str, Any] = {"status": response.status_code, "error": None}
            try:
                body = json.loads(await response.aread())
                if isinstance(body, dict) and isinstance(body.get("error"), str):
                    entry["error"] = body["error"]
            except (ValueError, httpx2.HTTPError):
                pass
            ok = await super()._handle_refresh_response(response)
            entry["ok"] = ok
            self.refreshes.append(entry)
            return ok

    tokens: list[str | None] = []
    oauth: dict[str, Any] = {
        "login": opts.oauth_login,
        "client_id": None,
        "hops": [],
        "iss": None,
        "tokens": tokens,
        "authorizations": 0,
        "errors": [],
    }
    out["oauth"] = oauth
    # The browser: its own client (no auth, no automatic redirects, its own cookie jar).
    browser = await stack.enter_async_context(
        httpx2.AsyncClient(
            verify=verify,
            follow_redirects=False,
            timeout=httpx2.Timeout(opts.timeout),
            cookies=CookieJar(policy=LoopbackCookiePolicy()),
        )
    )
    walker = LoginWalker(browser, opts.oauth_login or "", opts.oauth_redirect_uri)
    try:
        metadata = OAuthClientMetadata(
            client_name="mcpgate-e2e-python",
            redirect_uris=[opts.oauth_redirect_uri],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=opts.oauth_auth_method,  # type: ignore[arg-type]
        )
        provider = RecordingOAuthClientProvider(
            server_url=opts.url or "",
            client_metadata=metadata,
            storage=RecordingTokenStorage(tokens, oauth),
            redirect_handler=walker.redirect_handler,
            callback_handler=walker.callback_handler,
            client_metadata_url=opts.oauth_client_metadata_url,
        )
    except ValueError as e:  # e.g. a client metadata URL that is not https
        raise UsageError(str(e)) from None
    provider.refreshes = []
    provider.errors = oauth.setdefault("errors", [])
    provider.walker = walker  # type: ignore[attr-defined]
    provider.browser = browser  # type: ignore[attr-defined]
    return provider


def _record_walks(out: dict[str, Any], walker: LoginWalker) -> None:
    oauth = out["oauth"]
    if walker.walks:
        oauth["hops"] = walker.walks[0]["hops"]
        oauth["iss"] = walker.walks[0]["iss"]
    oauth["authorizations"] = len(walker.walks)


async def refresh_check(opts: Options, out: dict[str, Any], client: Any, auth: Any) -> None:
    """--oauth-refresh-check: expire the access token, list tools again, record what happened."""
    walker: LoginWalker = auth.walker
    for url in opts.oauth_before_refresh:
        try:
            resp = await auth.browser.post(url)
        except httpx2.HTTPError as e:
            raise Failure(f"--oauth-before-refresh {url}: {describe(e)}") from e
        if not 200 <= resp.status_code < 300:
            raise Failure(f"--oauth-before-refresh {url}: HTTP {resp.status_code}: {resp.text[:200]}")
    ctx = auth.context
    walks_before = len(walker.walks)
    refreshes_before = len(auth.refreshes)
    record: dict[str, Any] = {
        "hadRefreshToken": bool(ctx.current_tokens and ctx.current_tokens.refresh_token),
        "attempted": False,
        "ok": None,
        "status": None,
        "error": None,
        "reauthorized": False,
        "hops": None,
        "authorizationError": None,
        "listed": False,
        "listError": None,
    }
    out["oauth"]["refresh"] = record
    # what the SDK's OAuthContext.is_token_valid() checks: the next request refreshes first
    errors_before = len(auth.errors)
    ctx.token_expiry_time = time.time() - 1
    try:
        await client.list_tools()
        record["listed"] = True
    except Exception as e:  # noqa: BLE001 - the outcome is data
        record["listError"] = describe(e)
    if len(auth.refreshes) > refreshes_before:
        r = auth.refreshes[refreshes_before]
        record.update(attempted=True, ok=r["ok"], status=r["status"], error=r["error"])
    if len(walker.walks) > walks_before:
        record["reauthorized"] = True
        record["hops"] = walker.walks[walks_before]["hops"]
    record["authorizationError"] = auth.errors[errors_before] if len(auth.errors) > errors_before else None


async def run(opts: Options, out: dict[str, Any]) -> None:
    tap = Tap()
    auth: Any = None
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
            if opts.oauth_jwt_client is not None:
                from mcp.client.auth.extensions.client_credentials import (
                    PrivateKeyJWTOAuthProvider,
                    SignedJWTParameters,
                )

                client_id, pem_file = opts.oauth_jwt_client
                try:
                    with open(pem_file, encoding="utf-8") as f:
                        pem = f.read()
                except OSError as e:
                    raise Failure(f"cannot read {pem_file}: {describe(e)}") from e
                algorithm = "ES256" if "EC PRIVATE KEY" in pem or _is_ec_pem(pem) else "RS256"
                tokens = []
                out["oauth"] = {"tokens": tokens}
                http.auth = PrivateKeyJWTOAuthProvider(
                    server_url=opts.url,
                    storage=RecordingTokenStorage(tokens),
                    client_id=client_id,
                    assertion_provider=SignedJWTParameters(
                        issuer=client_id,
                        subject=client_id,
                        signing_key=pem,
                        signing_algorithm=algorithm,
                    ).create_assertion_provider(),
                    issuer=opts.oauth_issuer,
                )
            if opts.oauth_login is not None:
                auth = await setup_login(opts, out, stack, verify)
                http.auth = auth
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

        if auth is not None:
            auth.soft_fail = True
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

        if auth is not None:
            _record_walks(out, auth.walker)
            if opts.oauth_refresh_check:
                await refresh_check(opts, out, client, auth)
                _record_walks(out, auth.walker)
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
        login = _find(e, AuthorizationDenied) or _find(e, WalkError)
        if login is not None:
            sys.stderr.write(f"client.py: login failed: {describe(login)}\n")
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
