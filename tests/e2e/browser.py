#!/usr/bin/env python3
"""A headless browser for one authorization request, for black-box tests of an
authorization server and of OAuth clients that open a browser (mcp-remote).

  browser.py --login USER [--redirect-uri URI] [--decision approve|deny]
             [--follow-final] [--log FILE] AUTHORIZATION_URL

It walks from AUTHORIZATION_URL through every redirect and HTML form (the IdP's login
and consent, the gateway's consent) with client.py's LoginWalker, signing in as USER,
and stops at the first redirect to the redirect URI.

  --redirect-uri URI  where to stop (scheme, host, port and path compared); default: the
                      authorization URL's own redirect_uri parameter
  --decision D        the button pressed on the gateway's consent form (default approve)
  --follow-final      then GET that last redirect (the full URL, with code, state and iss,
                      or error) as a browser would, without following further redirects, so
                      that the client's callback server receives the authorization response.
                      The result is in "final"
  --log FILE          also append the JSON document, as one line, to FILE (for a browser
                      started by another program, whose stdout nobody reads)

stdout: one JSON document: {"login", "request", "code", "state", "iss", "error",
"error_description", "hops", "walk_error", "final"}. "request" is the authorization URL
without its query plus its client_id, redirect_uri, scope, resource and prompt parameters.
"walk_error" says why the walk stopped short (an error page instead of a redirect, for
example: the status and text of the page are in it). "final" is null without --follow-final,
else {"url" (without query), "status", "location", "text" (the start of the page's text),
"error" (why the GET failed, or null)}. Exit 0 either way; exit 2 on a usage error.

`headless-browser` beside this file runs this as the $BROWSER of `xdg-open` (see README.md).
"""

from __future__ import annotations

import json
import sys
import time
from http.cookiejar import CookieJar
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx2

from client import LoginWalker, LoopbackCookiePolicy, WalkError, _page_text, _without_query, describe


class RecordingWalker(LoginWalker):
    """A LoginWalker that remembers the full URL of the redirect to the redirect URI."""

    final_url: str | None = None

    def _is_redirect_uri(self, url: str) -> bool:
        hit = super()._is_redirect_uri(url)
        if hit:
            self.final_url = url
        return hit


def describe_request(url: str) -> dict:
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    out = {"url": _without_query(url)}
    for name in ("client_id", "redirect_uri", "scope", "resource", "prompt"):
        out[name] = query.get(name)
    return out


async def walk(url: str, user: str, redirect_uri: str, decision: str, follow_final: bool) -> dict:
    out: dict = {"login": user, "request": describe_request(url), "code": None, "state": None,
                 "iss": None, "error": None, "error_description": None, "hops": [],
                 "walk_error": None, "final": None}
    async with httpx2.AsyncClient(
        follow_redirects=False,
        timeout=15.0,
        cookies=CookieJar(policy=LoopbackCookiePolicy()),
    ) as http:
        walker = RecordingWalker(http, user, redirect_uri)
        walker.decision = decision
        try:
            await walker.redirect_handler(url)
        except WalkError as e:
            out["walk_error"] = str(e)
        walk_record = walker.walks[-1] if walker.walks else {}
        out["hops"] = walk_record.get("hops", [])
        final = next((h for h in reversed(out["hops"]) if h.get("status") is None), None)
        if walker._result is not None:  # noqa: SLF001
            out["code"] = walker._result.code  # noqa: SLF001
            out["state"] = walker._result.state  # noqa: SLF001
            out["iss"] = walker._result.iss  # noqa: SLF001
        if walker._error is not None:  # noqa: SLF001
            out["error"], out["error_description"] = walker._error  # noqa: SLF001
            out["iss"] = walk_record.get("iss")
        if final is None and out["walk_error"] is None and out["code"] is None:
            out["walk_error"] = "no redirect to the redirect URI"
        if follow_final and walker.final_url is not None and out["walk_error"] is None:
            target = walker.final_url
            record: dict = {"url": _without_query(target), "status": None, "location": None,
                            "text": None, "error": None}
            try:
                resp = await http.get(target)
                record["status"] = resp.status_code
                record["location"] = resp.headers.get("location")
                record["text"] = _page_text(resp.text)
            except httpx2.HTTPError as e:
                record["error"] = describe(e)
            out["final"] = record
    return out


def main() -> int:
    args = sys.argv[1:]
    opts = {"--login": None, "--redirect-uri": None, "--decision": "approve", "--log": None}
    flags = {"--follow-final": False}
    url = None
    i = 0
    while i < len(args):
        if args[i] in opts and i + 1 < len(args):
            opts[args[i]] = args[i + 1]
            i += 2
        elif args[i] in flags:
            flags[args[i]] = True
            i += 1
        elif url is None and not args[i].startswith("--"):
            url = args[i]
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    if url is None or not opts["--login"] or opts["--decision"] not in ("approve", "deny"):
        sys.stderr.write(__doc__)
        return 2
    redirect_uri = opts["--redirect-uri"] or dict(parse_qsl(urlsplit(url).query)).get("redirect_uri")
    started = time.time()
    if not redirect_uri:
        result: dict = {"login": opts["--login"], "request": describe_request(url),
                        "walk_error": "no --redirect-uri and no redirect_uri in the authorization URL"}
    else:
        try:
            result = anyio.run(walk, url, opts["--login"], redirect_uri, opts["--decision"],
                               flags["--follow-final"])
        except Exception as e:  # noqa: BLE001 - a browser started by another program must log why
            result = {"login": opts["--login"], "request": describe_request(url),
                      "walk_error": f"browser.py crashed: {describe(e)}"}
    result["elapsed_ms"] = int((time.time() - started) * 1000)
    text = json.dumps(result)
    if opts["--log"]:
        with open(opts["--log"], "a", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
