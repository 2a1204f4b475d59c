#!/usr/bin/env node
// Drives mcpgate's admin web console (`/admin`, server-rendered HTML) with a real browser:
// Debian's chromium (/usr/bin/chromium) through npm playwright-core, headless. mcpgate's Rust
// end-to-end test runs it against a live `mcpgate serve` and asserts on the one JSON document
// it prints (see README.md, "console.mjs").
//
//   node tests/e2e/console.mjs --base https://127.0.0.1:PORT --admin-key KEY --user-key KEY2 \
//        --mcp-url https://127.0.0.1:PORT/mcp --ca CA.pem [--scopes "echo:call"] [--tool echo] \
//        [--screenshots DIR] [--chromium /usr/bin/chromium] [--timeout SECS] [--revoke-wait SECS]
//
// Steps: a non-admin key is refused at the login; the admin logs in; creates an API key;
// the official MCP client (client.mjs) uses it; the admin revokes it; the client is refused;
// the audit log (unfiltered, filtered), tools and OAuth pages are read; CSRF probes; the
// dashboard's response headers.
//
// stdout: exactly one JSON document. Exit 0 when every step ran (the outcome of each step is
// data for the caller to assert on); exit 1 when a step could not run (a missing element, a
// navigation that failed, ...) with the reason, the page's URL and text on stderr (and a
// screenshot NN-failure.png); exit 2 on a usage error.

import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Agent, fetch as undiciFetch } from 'undici';

const HERE = dirname(fileURLToPath(import.meta.url));
const USAGE = `usage: node console.mjs --base URL --admin-key KEY --user-key KEY --mcp-url URL --ca FILE
         [--scopes "echo:call"] [--tool echo] [--screenshots DIR] [--chromium PATH] [--timeout SECS]
         [--revoke-wait SECS]`;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = {
    base: null,
    adminKey: null,
    userKey: null,
    mcpUrl: null,
    ca: null,
    scopes: 'echo:call',
    tool: 'echo',
    screenshots: null,
    chromium: '/usr/bin/chromium',
    timeoutMs: 15_000,
    revokeWaitMs: 5_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--base': opts.base = value().replace(/\/+$/, ''); break;
      case '--admin-key': opts.adminKey = value(); break;
      case '--user-key': opts.userKey = value(); break;
      case '--mcp-url': opts.mcpUrl = value(); break;
      case '--ca': opts.ca = value(); break;
      case '--scopes': opts.scopes = value(); break;
      case '--tool': opts.tool = value(); break;
      case '--screenshots': opts.screenshots = resolve(value()); break;
      case '--chromium': opts.chromium = value(); break;
      case '--timeout': {
        const secs = Number(value());
        if (!(secs > 0)) throw new UsageError('--timeout expects a positive number of seconds');
        opts.timeoutMs = Math.round(secs * 1000);
        break;
      }
      case '--revoke-wait': {
        const secs = Number(value());
        if (!(secs >= 0)) throw new UsageError('--revoke-wait expects a number of seconds');
        opts.revokeWaitMs = Math.round(secs * 1000);
        break;
      }
      case '-h':
      case '--help':
        process.stderr.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  for (const [flag, key] of [['--base', 'base'], ['--admin-key', 'adminKey'], ['--user-key', 'userKey'],
    ['--mcp-url', 'mcpUrl'], ['--ca', 'ca']]) {
    if (!opts[key]) throw new UsageError(`${flag} is required`);
  }
  try {
    new URL(opts.base);
    new URL(opts.mcpUrl);
  } catch (e) {
    throw new UsageError(`--base/--mcp-url: ${e.message}`);
  }
  return opts;
}

// ------------------------------------------------------------------ helpers

/** A step could not run: the message says which element was missing, where, and what was there. */
class StepError extends Error {}

async function pageText(page, max = 3000) {
  try {
    const text = (await page.locator('body').innerText({ timeout: 2000 })).trim();
    return text.length > max ? `${text.slice(0, max)}…` : text;
  } catch {
    try {
      return (await page.content()).slice(0, max);
    } catch {
      return '(page text unavailable)';
    }
  }
}

/** The locator for `selector`, or a StepError naming the page when it matches nothing. */
async function need(page, selector, what) {
  const loc = page.locator(selector);
  if ((await loc.count()) === 0) {
    throw new StepError(
      `${what}: no element matches ${JSON.stringify(selector)} on ${page.url()}\n--- page text:\n${await pageText(page)}`,
    );
  }
  return loc.first();
}

/** Text of an element: `value` for form fields, else its text content, trimmed. */
async function readText(loc) {
  const tag = await loc.evaluate((el) => el.tagName.toLowerCase());
  if (tag === 'input' || tag === 'textarea') return (await loc.inputValue()).trim();
  return ((await loc.textContent()) ?? '').trim();
}

/** Redirect chain of a navigation response, oldest first: [{method, url, status}]. */
async function chainOf(response) {
  if (!response) return [];
  const hops = [];
  for (let req = response.request(); req; req = req.redirectedFrom()) {
    const resp = await req.response();
    hops.unshift({ method: req.method(), url: req.url(), status: resp ? resp.status() : null });
  }
  return hops;
}

/** What a page shows after a navigation: status, URL, path, title, text, redirect chain. */
async function observe(page, response) {
  const url = page.url();
  return {
    status: response ? response.status() : null,
    url,
    path: new URL(url).pathname,
    title: await page.title(),
    chain: await chainOf(response),
    scripts: await page.locator('script').count(),
    text: await pageText(page),
  };
}

async function goto(page, url) {
  const response = await page.goto(url, { waitUntil: 'load' });
  return observe(page, response);
}

/** Click `loc` (a submit button) and wait for the navigation it starts. */
async function clickAndWait(page, loc) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), loc.click()]);
  return observe(page, response);
}

/** The submit control of a form (a button, or an input of type submit). */
async function submitOf(page, formSelector, what) {
  return need(
    page,
    `${formSelector} button[type=submit], ${formSelector} button:not([type]), ${formSelector} input[type=submit]`,
    what,
  );
}

/** Rows of `tableSelector tbody tr`: {data: {data-* attributes}, cells: [texts of td/th]}. */
async function rowsOf(page, tableSelector) {
  const table = page.locator(tableSelector);
  if ((await table.count()) === 0) return null;
  return table.first().evaluate((t) => {
    const headers = [...t.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    const rows = [...t.querySelectorAll('tbody tr')].map((tr) => ({
      data: { ...tr.dataset },
      cells: [...tr.querySelectorAll('td, th')].map((c) => c.textContent.replace(/\s+/g, ' ').trim()),
    }));
    return { headers, rows };
  });
}

/** Existence and shape of an inline SVG chart. */
async function chartOf(page, selector) {
  const loc = page.locator(selector);
  if ((await loc.count()) === 0) return { exists: false };
  return loc.first().evaluate((svg) => ({
    exists: true,
    label: svg.getAttribute('aria-label') ?? svg.querySelector('title')?.textContent ?? null,
    marks: svg.querySelectorAll('rect, path, circle, line, polyline, polygon').length,
    texts: [...svg.querySelectorAll('text')].map((t) => t.textContent.trim()).slice(0, 50),
  }));
}

const PICK_HEADERS = [
  'content-type',
  'content-security-policy',
  'x-frame-options',
  'cache-control',
  'x-content-type-options',
  'referrer-policy',
  'strict-transport-security',
  'permissions-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
];

async function securityHeaders(response) {
  if (!response) return null;
  const all = await response.allHeaders();
  return Object.fromEntries(PICK_HEADERS.map((h) => [h, all[h] ?? null]));
}

/** Run client.mjs (the official TypeScript MCP SDK) with `args`; never throws. */
function runClient(args, timeoutMs) {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(HERE, 'client.mjs'), ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        let json = null;
        try {
          json = stdout.trim() ? JSON.parse(stdout) : null;
        } catch {
          json = null;
        }
        done({
          exitCode,
          signal: error?.signal ?? null,
          stderr: stderr.length > 4000 ? `${stderr.slice(0, 4000)}…` : stderr,
          stdout: json === null && stdout ? stdout.slice(0, 2000) : undefined,
          tools: json?.tools?.map((t) => t.name) ?? null,
          calls: json?.calls ?? null,
          server: json?.server ?? null,
          protocolVersion: json?.protocolVersion ?? null,
        });
      },
    );
  });
}

/** The visible text of an HTML body (tags, styles and scripts dropped), shortened. */
/**
 * One raw `initialize` POST to the MCP endpoint with `secret` as bearer token (undici, trusting
 * only --ca): the HTTP status and WWW-Authenticate that client.mjs's error message leaves out.
 */
async function probeMcp(url, ca, secret, timeoutMs) {
  const dispatcher = new Agent({ connect: { ca: readFileSync(ca) } });
  try {
    const resp = await undiciFetch(url, {
      method: 'POST',
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'console-e2e-probe', version: '0' },
        },
      }),
    });
    const body = await resp.text();
    return {
      status: resp.status,
      wwwAuthenticate: resp.headers.get('www-authenticate'),
      body: body.length > 300 ? `${body.slice(0, 300)}…` : body,
    };
  } catch (e) {
    return { status: null, error: `${e.message}${e.cause ? ` (cause: ${e.cause.code ?? ''} ${e.cause.message ?? e.cause})` : ''}` };
  } finally {
    await dispatcher.close();
  }
}

function snippet(html, max = 600) {
  const text = html
    .replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// ------------------------------------------------------------------ main

async function main(opts) {
  if (opts.screenshots) mkdirSync(opts.screenshots, { recursive: true });
  const base = opts.base;
  const out = {
    browser: null,
    playwrightCore: JSON.parse(readFileSync(join(HERE, 'node_modules/playwright-core/package.json'), 'utf8')).version,
    base,
    screenshots: [],
    console: [],
    steps: {},
  };
  let shotNo = 0;
  let current = null; // the page a failure screenshot is taken of
  const shot = async (page, name) => {
    shotNo += 1;
    if (!opts.screenshots) return null;
    const file = join(opts.screenshots, `${String(shotNo).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.screenshots.push(file);
    return file;
  };
  const clientArgs = (secret) => [
    '--url', opts.mcpUrl,
    '--ca', opts.ca,
    '--header', `Authorization: Bearer ${secret}`,
    '--call', `${opts.tool}=${JSON.stringify({ from: 'console-e2e' })}`,
    '--timeout', String(Math.max(1, Math.round(opts.timeoutMs / 1000))),
  ];

  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: ['--no-sandbox'],
  });
  out.browser = browser.version();
  const newContext = async (label) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(opts.timeoutMs);
    context.setDefaultNavigationTimeout(opts.timeoutMs);
    // Console messages show e.g. CSP violations (a console that needs no JavaScript has none).
    // Only errors and warnings (not Chromium's verbose DOM hints). A 4xx/5xx page load shows up
    // as "Failed to load resource: the server responded with a status of 403", which is expected.
    context.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        out.console.push({ context: label, type: m.type(), text: m.text() });
      }
    });
    context.on('weberror', (e) => out.console.push({ context: label, type: 'pageerror', text: String(e.error()) }));
    return context;
  };

  try {
    // 1. A valid key without the admin role is refused at the login.
    {
      const context = await newContext('user');
      const page = await context.newPage();
      current = page;
      const loginPage = await goto(page, `${base}/admin/login`);
      await (await need(page, '#login input[name=key]', 'login (non-admin)')).fill(opts.userKey);
      const after = await clickAndWait(page, await submitOf(page, '#login', 'login (non-admin)'));
      const error = page.locator('.error, .flash, [role=alert]');
      out.steps.nonAdminLogin = {
        loginPage: { status: loginPage.status, path: loginPage.path },
        ...after,
        loginFormShown: (await page.locator('#login').count()) > 0,
        errorText: (await error.count()) > 0 ? ((await error.first().textContent()) ?? '').trim() : null,
        cookies: (await context.cookies()).map(({ name, secure, httpOnly, sameSite, path }) => ({
          name, secure, httpOnly, sameSite, path,
        })),
        screenshot: await shot(page, 'non-admin-refused'),
      };
      await context.close();
    }

    // 2. The admin logs in and lands on the dashboard.
    const context = await newContext('admin');
    const page = await context.newPage();
    current = page;
    {
      const response = await page.goto(`${base}/admin/login`, { waitUntil: 'load' });
      const loginPage = await observe(page, response);
      const loginHeaders = await securityHeaders(response);
      const csrfField = (await page.locator('#login input[name=csrf_token]').count()) > 0;
      const keyInput = await need(page, '#login input[name=key]', 'login (admin)');
      const keyInputType = await keyInput.getAttribute('type');
      const loginShot = await shot(page, 'login');
      await keyInput.fill(opts.adminKey);
      const [dashResponse] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        (await submitOf(page, '#login', 'login (admin)')).click(),
      ]);
      const dashboard = await observe(page, dashResponse);
      out.steps.adminLogin = {
        loginPage: {
          status: loginPage.status,
          path: loginPage.path,
          csrfField,
          keyInputType,
          screenshot: loginShot,
        },
        dashboard: {
          ...dashboard,
          nav: await page.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))),
          screenshot: await shot(page, 'dashboard'),
        },
        cookies: (await context.cookies()).map(({ name, secure, httpOnly, sameSite, path, expires }) => ({
          name, secure, httpOnly, sameSite, path, session: expires === -1,
        })),
      };
      // 10 (recorded here: the dashboard's own response). Security headers.
      out.steps.headers = { dashboard: await securityHeaders(dashResponse), login: loginHeaders };
    }

    // 3. Create an API key.
    let keyId;
    let secret;
    let revokedAt;
    {
      const keysPage = await goto(page, `${base}/admin/keys`);
      await (await need(page, '#create-key input[name=name]', 'create key')).fill('agent-e2e');
      await (await need(page, '#create-key input[name=scopes]', 'create key')).fill(opts.scopes);
      const after = await clickAndWait(page, await submitOf(page, '#create-key', 'create key'));
      keyId = await readText(await need(page, '#new-key-id', 'created key'));
      secret = await readText(await need(page, '#new-key-secret', 'created key'));
      const row = page.locator(`table#keys tr[data-key-id=${JSON.stringify(keyId)}]`);
      out.steps.createKey = {
        keysPage: { status: keysPage.status, path: keysPage.path },
        ...after,
        id: keyId,
        secret,
        rowShown: (await row.count()) > 0,
        rowStatus: (await row.locator('td.status').count()) > 0 ? (await row.locator('td.status').first().textContent()).trim() : null,
        keys: await rowsOf(page, 'table#keys'),
        screenshot: await shot(page, 'key-created'),
      };
    }

    // 4. The new key works from a real MCP client.
    out.steps.mcpWithNewKey = {
      ...(await runClient(clientArgs(secret), opts.timeoutMs * 2)),
      probe: await probeMcp(opts.mcpUrl, opts.ca, secret, opts.timeoutMs),
    };

    // 5. Revoke it in the console.
    {
      await goto(page, `${base}/admin/keys`);
      const rowSel = `table#keys tr[data-key-id=${JSON.stringify(keyId)}]`;
      await need(page, rowSel, 'revoke');
      const button = await need(
        page,
        `${rowSel} form.revoke button, ${rowSel} form.revoke input[type=submit]`,
        'revoke',
      );
      const after = await clickAndWait(page, button);
      revokedAt = Date.now();
      const row = page.locator(rowSel);
      const status = row.locator('td.status');
      out.steps.revoke = {
        ...after,
        rowShown: (await row.count()) > 0,
        rowStatus: (await status.count()) > 0 ? ((await status.first().textContent()) ?? '').trim() : null,
        keys: await rowsOf(page, 'table#keys'),
        screenshot: await shot(page, 'key-revoked'),
      };
    }

    // 6. The revoked key is refused. The top-level fields are the first try, right after the
    // revocation; while that one still got through, the client runs again every 250 ms for up
    // to --revoke-wait seconds and `eventually` is the last try (how long revocation took).
    {
      const first = await runClient(clientArgs(secret), opts.timeoutMs * 2);
      first.afterMs = Date.now() - revokedAt;
      let last = first;
      let attempts = 1;
      while (last.exitCode === 0 && Date.now() - revokedAt < opts.revokeWaitMs) {
        await new Promise((r) => setTimeout(r, 250));
        last = await runClient(clientArgs(secret), opts.timeoutMs * 2);
        last.afterMs = Date.now() - revokedAt;
        attempts += 1;
      }
      out.steps.mcpAfterRevoke = {
        ...first,
        eventually: { ...last, attempts },
        // the HTTP answer to the revoked key, after the tries above
        probe: await probeMcp(opts.mcpUrl, opts.ca, secret, opts.timeoutMs),
      };
    }

    // 7. The audit log: unfiltered, filtered by subject (the key id), filtered by decision=deny.
    {
      const all = await goto(page, `${base}/admin/audit`);
      const charts = {
        calls: await chartOf(page, 'svg#chart-calls'),
        topTools: await chartOf(page, 'svg#chart-top-tools'),
        topDenied: await chartOf(page, 'svg#chart-top-denied'),
      };
      const allRows = await rowsOf(page, 'table#audit');
      if (allRows === null) await need(page, 'table#audit', 'audit');
      const allShot = await shot(page, 'audit');

      const filter = async (values, name) => {
        await goto(page, `${base}/admin/audit`);
        for (const field of ['subject', 'tool', 'since']) {
          await need(page, `#audit-filter [name=${field}]`, 'audit filter');
        }
        const decision = await need(page, '#audit-filter [name=decision]', 'audit filter');
        for (const [field, v] of Object.entries(values)) {
          const loc = page.locator(`#audit-filter [name=${field}]`).first();
          if (field === 'decision' && (await decision.evaluate((el) => el.tagName.toLowerCase())) === 'select') {
            await loc.selectOption(v);
          } else {
            await loc.fill(v);
          }
        }
        const after = await clickAndWait(page, await submitOf(page, '#audit-filter', 'audit filter'));
        const rows = await rowsOf(page, 'table#audit');
        if (rows === null) await need(page, 'table#audit', 'audit (filtered)');
        return {
          filter: values,
          status: after.status,
          url: after.url,
          query: Object.fromEntries(new URL(after.url).searchParams),
          decisionOptions: await decision.evaluate((el) =>
            el.tagName.toLowerCase() === 'select' ? [...el.options].map((o) => o.value) : null),
          ...rows,
          rows: rows.rows.map(({ data, cells }) => ({ seq: data.seq ?? null, data, cells })),
          charts: {
            calls: (await page.locator('svg#chart-calls').count()) > 0,
            topTools: (await page.locator('svg#chart-top-tools').count()) > 0,
            topDenied: (await page.locator('svg#chart-top-denied').count()) > 0,
          },
          screenshot: await shot(page, name),
        };
      };
      out.steps.audit = {
        status: all.status,
        path: all.path,
        scripts: all.scripts,
        headers: allRows.headers,
        rows: allRows.rows.map(({ data, cells }) => ({ seq: data.seq ?? null, data, cells })),
        charts,
        screenshot: allShot,
        bySubject: await filter({ subject: keyId }, 'audit-by-subject'),
        denied: await filter({ decision: 'deny' }, 'audit-denied'),
      };
    }

    // 8. Tools and OAuth pages.
    {
      const tools = await goto(page, `${base}/admin/tools`);
      const toolRows = await rowsOf(page, 'table#tools');
      if (toolRows === null) await need(page, 'table#tools', 'tools');
      out.steps.tools = {
        status: tools.status,
        path: tools.path,
        ...toolRows,
        screenshot: await shot(page, 'tools'),
      };
      const oauth = await goto(page, `${base}/admin/oauth`);
      out.steps.oauth = {
        status: oauth.status,
        path: oauth.path,
        text: oauth.text,
        grants: await rowsOf(page, 'table#grants'),
        clients: await rowsOf(page, 'table#clients'),
        screenshot: await shot(page, 'oauth'),
      };
    }

    // 9. CSRF: POSTs that carry the admin's cookies but no valid token must be refused.
    {
      await goto(page, `${base}/admin/keys`);
      const tokenField = page.locator('#create-key input[name=csrf_token]');
      const validToken = (await tokenField.count()) > 0 ? await tokenField.first().inputValue() : null;
      const origin = new URL(base).origin;
      const post = async (form, headers = {}) => {
        const resp = await context.request.post(`${base}/admin/keys`, { form, headers, maxRedirects: 0 });
        return {
          status: resp.status(),
          location: resp.headers().location ?? null,
          body: snippet(await resp.text()),
        };
      };
      out.steps.csrf = {
        formHasToken: validToken !== null,
        // no csrf_token at all
        noToken: await post({ name: 'csrf-test', scopes: opts.scopes }),
        // a cross-site request: foreign Origin and a made-up token
        foreignOriginWrongToken: await post(
          { name: 'csrf-test', scopes: opts.scopes, csrf_token: 'wrong-token' },
          { Origin: 'https://evil.example' },
        ),
        // a foreign Origin with the page's valid token (the Origin check alone)
        foreignOriginValidToken: validToken === null ? null : await post(
          { name: 'csrf-test', scopes: opts.scopes, csrf_token: validToken },
          { Origin: 'https://evil.example' },
        ),
        // control: the same request as the browser's form would send is accepted (creates the
        // key "csrf-control"), so the refusals above are the CSRF defence and nothing else
        control: validToken === null ? null : await post(
          { name: 'csrf-control', scopes: opts.scopes, csrf_token: validToken },
          { Origin: origin, Referer: `${base}/admin/keys` },
        ),
      };
    }

    await context.close();
  } catch (e) {
    if (current && !current.isClosed()) {
      try {
        await shot(current, 'failure');
      } catch {
        // best effort
      }
    }
    e.partial = out;
    throw e;
  } finally {
    await browser.close();
  }
  return out;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`console.mjs: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  throw e;
}
try {
  const out = await main(opts);
  process.stdout.write(JSON.stringify(out, null, 2) + '\n', () => process.exit(0));
} catch (e) {
  process.stderr.write(`console.mjs: ${e instanceof StepError ? e.message : e.stack ?? e}\n`);
  if (e?.partial) {
    // What the steps before the failure saw (e.g. the login's status and text).
    process.stderr.write(`--- observations so far:\n${JSON.stringify(e.partial, null, 1)}\n`);
  }
  process.exit(1);
}
