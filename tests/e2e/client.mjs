#!/usr/bin/env node
// Generic MCP client driver built on the official TypeScript SDK (@modelcontextprotocol/sdk).
// mcpgate's Rust end-to-end tests spawn it and assert on the single JSON document it prints.
//
//   node client.mjs --url http://127.0.0.1:PORT/mcp [--header "Name: value"]... [options]
//   node client.mjs --stdio [--env K=V]... [options] -- COMMAND ARG...
//
// options:
//   --call NAME=JSON    call tool NAME with the JSON object as arguments (repeatable, in order;
//                       a bare NAME calls it with {})
//   --list-all          also list resources, resource templates and prompts (all pages) when the
//                       server advertises the capability
//   --timeout SECS      per-request timeout (default 30)
//   --max-pages N       give up (exit 1) if a listing has more than N pages (default 100)
//   --ca FILE           (https) trust only the PEM CA certificate(s) in FILE for the server
//   --cert FILE         (https) present the PEM client certificate chain in FILE (mutual TLS)
//   --key FILE          (https) the PEM private key for --cert (both or neither)
//
// stdout: exactly one JSON document (see README.md). Exit 0 when connect + tools/list worked
// (tool-call failures are recorded as data); exit 1 with a message on stderr otherwise; exit 2
// on a usage error.

import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const USAGE = `usage:
  node client.mjs --url URL [--header "Name: value"]... [--ca FILE] [--cert FILE --key FILE] [--call NAME=JSON]... [--list-all] [--timeout SECS] [--max-pages N]
  node client.mjs --stdio [--env K=V]... [--call NAME=JSON]... [--list-all] [--timeout SECS] [--max-pages N] -- COMMAND ARG...`;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = {
    url: null,
    stdio: false,
    headers: {},
    env: {},
    calls: [],
    listAll: false,
    timeoutMs: 30_000,
    maxPages: 100,
    ca: null,
    cert: null,
    key: null,
    command: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--url':
        opts.url = value();
        break;
      case '--stdio':
        opts.stdio = true;
        break;
      case '--header': {
        const h = value();
        const colon = h.indexOf(':');
        if (colon <= 0) throw new UsageError(`--header expects "Name: value", got ${JSON.stringify(h)}`);
        opts.headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
        break;
      }
      case '--env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--env expects K=V, got ${JSON.stringify(kv)}`);
        opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--call': {
        const spec = value();
        const eq = spec.indexOf('=');
        const name = eq < 0 ? spec : spec.slice(0, eq);
        if (!name) throw new UsageError(`--call expects NAME=JSON, got ${JSON.stringify(spec)}`);
        let args = {};
        if (eq >= 0) {
          try {
            args = JSON.parse(spec.slice(eq + 1));
          } catch (e) {
            throw new UsageError(`--call ${name}: arguments are not valid JSON: ${e.message}`);
          }
        }
        opts.calls.push({ name, arguments: args });
        break;
      }
      case '--list-all':
        opts.listAll = true;
        break;
      case '--timeout': {
        const secs = Number(value());
        if (!(secs > 0)) throw new UsageError('--timeout expects a positive number of seconds');
        opts.timeoutMs = Math.round(secs * 1000);
        break;
      }
      case '--max-pages': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new UsageError('--max-pages expects a positive integer');
        opts.maxPages = n;
        break;
      }
      case '--ca':
        opts.ca = value();
        break;
      case '--cert':
        opts.cert = value();
        break;
      case '--key':
        opts.key = value();
        break;
      case '--':
        opts.command = argv.slice(i + 1);
        i = argv.length;
        break;
      case '-h':
      case '--help':
        process.stderr.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (opts.stdio === (opts.url !== null)) throw new UsageError('give exactly one of --url or --stdio');
  if (opts.stdio && opts.command.length === 0) throw new UsageError('--stdio needs "-- COMMAND ARG..."');
  if (!opts.stdio && opts.command.length > 0) throw new UsageError('"-- COMMAND" is only valid with --stdio');
  if (!opts.stdio && Object.keys(opts.env).length > 0) throw new UsageError('--env is only valid with --stdio');
  if (opts.stdio && Object.keys(opts.headers).length > 0) throw new UsageError('--header is only valid with --url');
  if (opts.stdio && (opts.ca || opts.cert || opts.key)) throw new UsageError('--ca/--cert/--key are only valid with --url');
  if ((opts.cert === null) !== (opts.key === null)) throw new UsageError('--cert and --key go together');
  return opts;
}

function sdkVersion() {
  // The SDK's "exports" map hides package.json, so walk up from a resolved module file.
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve('@modelcontextprotocol/sdk/client/index.js')));
    for (let i = 0; i < 8; i++) {
      const pj = join(dir, 'package.json');
      if (existsSync(pj)) {
        const pkg = JSON.parse(readFileSync(pj, 'utf8'));
        if (pkg.name === '@modelcontextprotocol/sdk') return pkg.version;
      }
      dir = dirname(dir);
    }
  } catch {
    // fall through
  }
  return null;
}

function orNull(v) {
  return v === undefined ? null : v;
}

function errorMessage(e) {
  if (!(e instanceof Error)) return String(e);
  // undici's fetch says only "fetch failed"; the TLS/socket reason is in the cause chain.
  let msg = e.message;
  for (let c = e.cause, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    msg += ` (cause: ${c.code ? `${c.code}: ` : ''}${c.message})`;
  }
  return msg;
}

/**
 * Taps a transport so we can see the raw JSON-RPC traffic the SDK sends and receives:
 * outgoing request ids by method and the raw responses by id. This lets the output tell a
 * JSON-RPC error sent by the server apart from an error the SDK raised locally, and gives us
 * the negotiated protocol version for every transport type.
 */
function tapTransport(transport) {
  const tap = { requests: new Map(), responses: new Map(), lastIdByMethod: new Map() };
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (message && typeof message === 'object' && 'method' in message && 'id' in message) {
      tap.requests.set(message.id, message.method);
      tap.lastIdByMethod.set(message.method, message.id);
    }
    return send(message, options);
  };
  // Protocol.connect() chains any onmessage handler already installed before it.
  transport.onmessage = (message) => {
    if (message && typeof message === 'object' && 'id' in message && ('result' in message || 'error' in message)) {
      tap.responses.set(message.id, message);
    }
  };
  // The client calls setProtocolVersion() (when present) with the negotiated version;
  // stdio has no such method, so give it one.
  const setPv = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (v) => {
    tap.protocolVersion = v;
    setPv?.(v);
  };
  return tap;
}

async function listAllPages(fetchPage, key, maxPages, what) {
  const items = [];
  let cursor;
  let pages = 0;
  for (;;) {
    if (pages >= maxPages) throw new Error(`${what}: more than ${maxPages} pages (nextCursor never ran out)`);
    const page = await fetchPage(cursor === undefined ? undefined : { cursor });
    pages += 1;
    items.push(...(page[key] ?? []));
    if (page.nextCursor === undefined || page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  return { items, pages };
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`client.mjs: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }

  const version = sdkVersion();
  const client = new Client({ name: 'mcpgate-e2e-typescript', version: version ?? '0.0.0' }, { capabilities: {} });
  let closing = false;
  client.onerror = (e) => {
    // Aborting the standalone SSE GET stream on close is reported as an error; that one is noise.
    if (!closing) process.stderr.write(`client.mjs: transport error: ${errorMessage(e)}\n`);
  };

  let transport;
  if (opts.stdio) {
    const [command, ...args] = opts.command;
    // Unlike the SDK default (a small allow-list of variables), pass our whole environment on,
    // so that the test harness can steer the child (RUST_LOG, coverage variables, ...).
    transport = new StdioClientTransport({ command, args, env: { ...process.env, ...opts.env }, stderr: 'inherit' });
  } else {
    const transportOpts = { requestInit: { headers: opts.headers } };
    if (opts.ca !== null || opts.cert !== null) {
      // Node's global fetch cannot take TLS options, so hand the SDK undici's fetch bound to an
      // Agent that trusts --ca and presents --cert/--key (the SDK's documented `fetch` option).
      let connect;
      try {
        connect = {
          ...(opts.ca !== null ? { ca: readFileSync(opts.ca) } : {}),
          ...(opts.cert !== null ? { cert: readFileSync(opts.cert), key: readFileSync(opts.key) } : {}),
        };
      } catch (e) {
        process.stderr.write(`client.mjs: cannot read TLS file: ${errorMessage(e)}\n`);
        process.exit(1);
      }
      const { Agent, fetch: undiciFetch } = await import('undici');
      const dispatcher = new Agent({ connect });
      transportOpts.fetch = (url, init) => undiciFetch(url, { ...init, dispatcher });
    }
    transport = new StreamableHTTPClientTransport(new URL(opts.url), transportOpts);
  }
  const tap = tapTransport(transport);
  const reqOpts = { timeout: opts.timeoutMs };

  const out = {
    client: 'typescript-sdk',
    sdkVersion: version,
    transport: opts.stdio ? 'stdio' : 'http',
    server: null,
    protocolVersion: null,
    handshake: 'initialize', // this SDK version only knows the initialize handshake
    capabilities: null,
    instructions: null,
    tools: [],
    pages: 0,
    calls: [],
  };

  try {
    await client.connect(transport, reqOpts);
  } catch (e) {
    process.stderr.write(`client.mjs: connect failed: ${errorMessage(e)}\n`);
    await client.close().catch(() => {});
    process.exit(1);
  }
  out.server = orNull(client.getServerVersion());
  const initId = tap.lastIdByMethod.get('initialize');
  out.protocolVersion = tap.protocolVersion ?? tap.responses.get(initId)?.result?.protocolVersion ?? null;
  out.capabilities = orNull(client.getServerCapabilities());
  out.instructions = orNull(client.getInstructions());

  try {
    const { items, pages } = await listAllPages((p) => client.listTools(p, reqOpts), 'tools', opts.maxPages, 'tools/list');
    out.pages = pages;
    out.tools = items.map((t) => ({
      name: t.name,
      title: orNull(t.title),
      description: orNull(t.description),
      inputSchema: orNull(t.inputSchema),
      outputSchema: orNull(t.outputSchema),
      annotations: orNull(t.annotations),
    }));

    if (opts.listAll) {
      const caps = out.capabilities ?? {};
      if (caps.resources) {
        const r = await listAllPages((p) => client.listResources(p, reqOpts), 'resources', opts.maxPages, 'resources/list');
        out.resources = r.items;
        const t = await listAllPages(
          (p) => client.listResourceTemplates(p, reqOpts),
          'resourceTemplates',
          opts.maxPages,
          'resources/templates/list',
        );
        out.resourceTemplates = t.items;
      } else {
        out.resources = null;
        out.resourceTemplates = null;
      }
      if (caps.prompts) {
        const p = await listAllPages((q) => client.listPrompts(q, reqOpts), 'prompts', opts.maxPages, 'prompts/list');
        out.prompts = p.items;
      } else {
        out.prompts = null;
      }
    }
  } catch (e) {
    process.stderr.write(`client.mjs: listing failed: ${errorMessage(e)}\n`);
    await client.close().catch(() => {});
    process.exit(1);
  }

  for (const call of opts.calls) {
    const entry = { name: call.name, arguments: call.arguments };
    const idBefore = tap.lastIdByMethod.get('tools/call');
    try {
      entry.result = await client.callTool({ name: call.name, arguments: call.arguments }, undefined, reqOpts);
    } catch (e) {
      const id = tap.lastIdByMethod.get('tools/call');
      const wire = id !== idBefore ? tap.responses.get(id) : undefined;
      if (wire && wire.error) {
        // A JSON-RPC error response from the server: report it exactly as sent.
        entry.error = { code: wire.error.code, message: wire.error.message };
        if (wire.error.data !== undefined) entry.error.data = wire.error.data;
      } else {
        // Raised inside the SDK (timeout, closed connection, output-schema validation, ...).
        entry.error = { code: typeof e?.code === 'number' ? e.code : null, message: errorMessage(e), clientSide: true };
        if (e?.data !== undefined) entry.error.data = e.data;
        if (wire && wire.result !== undefined) entry.rawResult = wire.result;
      }
    }
    out.calls.push(entry);
  }

  closing = true;
  if (!opts.stdio && transport.sessionId !== undefined) {
    // Client.close() alone does not end an HTTP session; send the DELETE like a tidy client.
    try {
      await transport.terminateSession();
    } catch (e) {
      process.stderr.write(`client.mjs: session DELETE failed (ignored): ${errorMessage(e)}\n`);
    }
  }
  try {
    await client.close();
  } catch (e) {
    process.stderr.write(`client.mjs: close failed (ignored): ${errorMessage(e)}\n`);
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(`client.mjs: unexpected failure: ${e?.stack ?? e}\n`);
  process.exit(1);
});
