#!/usr/bin/env python3
"""A headless browser for one authorization request, for black-box tests of an
authorization server.

  browser.py --login USER --redirect-uri URI [--decision approve|deny] AUTHORIZATION_URL

It walks from AUTHORIZATION_URL through every redirect and HTML form (the IdP's login
and consent, the gateway's consent) with client.py's LoginWalker, signing in as USER,
and stops at the first redirect to the redirect URI, without following it.

stdout: one JSON document: {"code", "state", "iss", "error", "error_description", "hops",
"walk_error"} — "walk_error" says why the walk stopped short (an error page instead of a
redirect, for example: the status and text of the page are in it); exit 0 either way.
Exit 2 on a usage error.
"""

from __future__ import annotations

import json
import sys
from http.cookiejar import CookieJar

import anyio
import httpx2

from client import LoginWalker, LoopbackCookiePolicy, WalkError


async def walk(url: str, user: str, redirect_uri: str, decision: str) -> dict:
    out: dict = {"code": None, "state": None, "iss": None, "error": None,
                 "error_description": None, "hops": [], "walk_error": None}
    async with httpx2.AsyncClient(
        follow_redirects=False,
        timeout=15.0,
        cookies=CookieJar(policy=LoopbackCookiePolicy()),
    ) as http:
        walker = LoginWalker(http, user, redirect_uri)
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
    return out


def main() -> int:
    args = sys.argv[1:]
    opts = {"--login": None, "--redirect-uri": None, "--decision": "approve"}
    url = None
    i = 0
    while i < len(args):
        if args[i] in opts and i + 1 < len(args):
            opts[args[i]] = args[i + 1]
            i += 2
        elif url is None and not args[i].startswith("--"):
            url = args[i]
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    if url is None or opts["--login"] is None or opts["--redirect-uri"] is None or \
            opts["--decision"] not in ("approve", "deny"):
        sys.stderr.write(__doc__)
        return 2
    result = anyio.run(walk, url, opts["--login"], opts["--redirect-uri"], opts["--decision"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
