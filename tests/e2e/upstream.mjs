#!/usr/bin/env node
// A small MCP *server* on the official TypeScript SDK (@modelcontextprotocol/sdk), used by
// mcpgate's Rust end-to-end tests as an "upstream" behind the gateway.
//
//   node upstream.mjs --stdio [options]      serve over stdio (stdout carries only MCP
//                                            messages; logs go to stderr)
//   node upstream.mjs --port N [options]     Streamable HTTP on http://127.0.0.1:N/mcp
//                                            (0 = any free port), stateful sessions
//                                            (Mcp-Session-Id); prints exactly one line
//                                            "LISTENING http://127.0.0.1:PORT/mcp" on stdout
//                                            once it accepts connections.
// options:
//   --record FILE           (HTTP) append one JSON line per incoming HTTP request:
//                           {"method","path","headers" (lower-case names),"body" (parsed
//                           JSON, or null)}; written before any check, so refused requests
//                           are recorded too
//   --require-token TOKEN   (HTTP) answer 401 with a JSON body to any request that lacks
//                           "Authorization: Bearer TOKEN", before MCP handling
//   --starts-file FILE      append this process' pid and a newline to FILE at start-up, so a
//                           test can count (re)starts
//   --stderr-banner TEXT    write TEXT and a newline to stderr at start-up
//
// Tools: echo, add, admin_reset, crash, hang, pid, whoami, ask, slow_progress, toggle_extra
// (and extra_tool while toggled on). Resource test://upstream/readme, prompt greet.
// Like tests/conformance/fixture.mjs it uses the low-level `Server`, so what goes on the
// wire can be read off this file. Needs only @modelcontextprotocol/sdk; Node >= 20.
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  isInitializeRequest,
} from '@modelcontextprotocol/sdk/types.js';

const LOG_PREFIX = 'upstream.mjs:';
const log = (...args) => console.error(LOG_PREFIX, ...args);

// ------------------------------------------------------------------------------ arguments

const USAGE = `usage:
  node upstream.mjs --stdio [--starts-file FILE] [--stderr-banner TEXT]
  node upstream.mjs --port N [--record FILE] [--require-token TOKEN] [--starts-file FILE] [--stderr-banner TEXT]`;

function parseArgs(argv) {
  const opts = {
    stdio: false,
    port: null,
    record: null,
    requireToken: null,
    startsFile: null,
    stderrBanner: null,
  };
  const valued = {
    '--port': 'port',
    '--record': 'record',
    '--require-token': 'requireToken',
    '--starts-file': 'startsFile',
    '--stderr-banner': 'stderrBanner',
  };
  const usageError = (msg) => {
    console.error(`${LOG_PREFIX} ${msg}\n${USAGE}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--stdio' && inline === undefined) {
      opts.stdio = true;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (Object.hasOwn(valued, arg)) {
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= argv.length) usageError(`${arg} needs a value`);
        value = argv[++i];
      }
      opts[valued[arg]] = value;
    } else {
      usageError(`unknown argument: ${argv[i]}`);
    }
  }
  if (opts.port !== null) {
    const n = Number(opts.port);
    if (!/^\d+$/.test(opts.port) || !Number.isInteger(n) || n > 65535) {
      usageError('--port needs an integer 0..65535');
    }
    opts.port = n;
  }
  if (opts.stdio && opts.port !== null) usageError('--stdio and --port exclude each other');
  if (!opts.stdio && opts.port === null) usageError('one of --stdio or --port N is required');
  if (opts.stdio && (opts.record !== null || opts.requireToken !== null)) {
    log('--record and --require-token apply to HTTP mode only; ignored with --stdio');
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// ------------------------------------------------------------------------------ state

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (t) => ({ type: 'text', text: t });
const toolError = (msg) => ({ isError: true, content: [text(msg)] });
const noArgs = { type: 'object', properties: {} };

/** Whether toggle_extra has switched extra_tool on (process-wide, shared by all sessions). */
let extraToolEnabled = false;
/** Every connected Server (one per HTTP session, or the single stdio one). */
const liveServers = new Set();

// ------------------------------------------------------------------------------ tools
// Each entry: the tool as tools/list shows it, plus `run(args, ctx)` returning a
// CallToolResult; ctx = { server, extra } (extra: the SDK's RequestHandlerExtra, whose
// sendNotification / sendRequest go out on the stream of the tools/call being served).

const TOOLS = [
  {
    name: 'echo',
    description: 'Echoes its text argument back as "echo: <text>"',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string', description: 'The text to echo' } },
      required: ['text'],
    },
    // The gateway must NOT trust this hint (it comes from the upstream).
    annotations: { readOnlyHint: true },
    run: async (args) => {
      if (typeof args.text !== 'string') return toolError('echo: argument "text" must be a string');
      return { content: [text(`echo: ${args.text}`)] };
    },
  },
  {
    name: 'add',
    description: 'Adds two numbers; the sum also comes back as structuredContent {sum}',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
    outputSchema: {
      type: 'object',
      properties: { sum: { type: 'number' } },
      required: ['sum'],
    },
    run: async (args) => {
      const { a, b } = args;
      if (typeof a !== 'number' || typeof b !== 'number') {
        return toolError('add: arguments "a" and "b" must be numbers');
      }
      const sum = a + b;
      return { content: [text(String(sum))], structuredContent: { sum } };
    },
  },
  {
    name: 'admin_reset',
    description: 'Pretends to reset everything (a tool to hide with exclude filters)',
    inputSchema: noArgs,
    run: async () => ({ content: [text('reset done')] }),
  },
  {
    name: 'crash',
    description: 'Makes the upstream process exit with code 1 without answering',
    inputSchema: noArgs,
    run: async () => {
      log('crash tool called: exiting with code 1');
      process.exit(1);
    },
  },
  {
    name: 'hang',
    description: 'Never answers',
    inputSchema: noArgs,
    run: () => new Promise(() => {}),
  },
  {
    name: 'pid',
    description: "Returns the upstream process' pid",
    inputSchema: noArgs,
    run: async () => ({ content: [text(String(process.pid))] }),
  },
  {
    name: 'env',
    description: "Returns the JSON of the upstream process' environment variables (names and values)",
    inputSchema: noArgs,
    run: async () => ({ content: [text(JSON.stringify(process.env))] }),
  },
  {
    name: 'whoami',
    description:
      'HTTP: returns the JSON of the headers of the HTTP request that carried this call; stdio: "stdio"',
    inputSchema: noArgs,
    run: async (_args, { extra }) => {
      if (opts.stdio) return { content: [text('stdio')] };
      return { content: [text(JSON.stringify(extra.requestInfo?.headers ?? {}))] };
    },
  },
  {
    name: 'ask',
    description: 'Asks the client a question (elicitation/create) and returns "answer: <answer>"',
    inputSchema: {
      type: 'object',
      properties: { question: { type: 'string', description: 'The question to ask' } },
      required: ['question'],
    },
    run: async (args, { server, extra }) => {
      if (typeof args.question !== 'string') return toolError('ask: argument "question" must be a string');
      if (!server.getClientCapabilities()?.elicitation) {
        return toolError('ask: the client did not declare the elicitation capability');
      }
      // extra.sendRequest (not server.elicitInput) so that over HTTP the request goes out on
      // the SSE stream of this tools/call, not on the session's standalone GET stream.
      let result;
      try {
        result = await extra.sendRequest(
          {
            method: 'elicitation/create',
            params: {
              message: args.question,
              requestedSchema: {
                type: 'object',
                properties: { answer: { type: 'string' } },
                required: ['answer'],
              },
            },
          },
          ElicitResultSchema,
        );
      } catch (err) {
        return toolError(`ask: elicitation failed: ${err?.message ?? err}`);
      }
      if (result.action !== 'accept') return { content: [text('declined')] };
      return { content: [text(`answer: ${result.content?.answer}`)] };
    },
  },
  {
    name: 'slow_progress',
    description:
      'With a progress token: sends progress 1/3, 2/3, 3/3 (30 ms apart); always sends one info log message "working"; answers "done"',
    inputSchema: noArgs,
    run: async (_args, { server, extra }) => {
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        for (let progress = 1; progress <= 3; progress++) {
          if (progress > 1) await sleep(30);
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 3 },
          });
        }
      }
      // Honour a level set with logging/setLevel (none set: everything is sent).
      if (!server.isMessageIgnored?.('info', extra.sessionId)) {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'upstream', data: 'working' },
        });
      }
      // Linger: the SDK client drops progress that arrives after the request's answer, and
      // handles notifications a microtask later than responses.
      await sleep(50);
      return { content: [text('done')] };
    },
  },
  {
    name: 'toggle_extra',
    description: 'Adds extra_tool (or removes it, on the next call) and sends notifications/tools/list_changed',
    inputSchema: noArgs,
    run: async (_args, { server, extra }) => {
      extraToolEnabled = !extraToolEnabled;
      // To the calling session: on this call's own stream (delivered for sure, before the
      // result). To every other session: on its standalone stream (dropped if it has none).
      await extra.sendNotification({ method: 'notifications/tools/list_changed' });
      for (const other of liveServers) {
        if (other !== server) await other.sendToolListChanged().catch(() => {});
      }
      return { content: [text(extraToolEnabled ? 'extra_tool added' : 'extra_tool removed')] };
    },
  },
];

const EXTRA_TOOL = {
  name: 'extra_tool',
  description: 'Present only while toggle_extra has switched it on',
  inputSchema: noArgs,
  run: async () => ({ content: [text('extra')] }),
};

function currentTools() {
  return extraToolEnabled ? [...TOOLS, EXTRA_TOOL] : TOOLS;
}

// ------------------------------------------------------------------ resources, prompts

const RESOURCES = [
  {
    uri: 'test://upstream/readme',
    name: 'readme',
    description: "The upstream's readme",
    mimeType: 'text/plain',
    text: 'upstream readme',
  },
];

const PROMPTS = [
  {
    name: 'greet',
    description: 'Greets someone by name',
    arguments: [{ name: 'name', description: 'Who to greet', required: true }],
    get: (a) => [{ role: 'user', content: text(`Hello, ${a.name}!`) }],
  },
];

// ------------------------------------------------------------------------------ server

/** One Server per HTTP session, or one for the stdio process. */
function createServer() {
  const server = new Server(
    { name: 'mcpgate-e2e-upstream', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        logging: {}, // the SDK answers logging/setLevel itself
        resources: {},
        prompts: {},
      },
    },
  );
  server.onerror = (err) => log('server error:', err?.message ?? err);

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: currentTools().map(({ run, ...tool }) => tool),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = currentTools().find((t) => t.name === request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    return tool.run(request.params.arguments ?? {}, { server, extra });
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: RESOURCES.map(({ text: _t, ...r }) => r),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const r = RESOURCES.find((x) => x.uri === uri);
    if (!r) throw new McpError(ErrorCode.InvalidParams, `Resource not found: ${uri}`);
    return { contents: [{ uri, mimeType: r.mimeType, text: r.text }] };
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: PROMPTS.map(({ get, ...p }) => p),
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const prompt = PROMPTS.find((p) => p.name === request.params.name);
    if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    const args = request.params.arguments ?? {};
    for (const a of prompt.arguments ?? []) {
      if (a.required && args[a.name] === undefined) {
        throw new McpError(ErrorCode.InvalidParams, `Missing required argument: ${a.name}`);
      }
    }
    return { description: prompt.description, messages: prompt.get(args) };
  });

  return server;
}

// ------------------------------------------------------------------------------ stdio

async function serveStdio() {
  const server = createServer();
  const transport = new StdioServerTransport();
  server.onclose = () => process.exit(0);
  // The SDK's stdio transport does not watch for end of input: exit when stdin closes.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  await server.connect(transport);
  liveServers.add(server);
  log(`serving over stdio (pid ${process.pid})`);
}

// ------------------------------------------------------------------- Streamable HTTP

function sendJsonError(res, status, code, message, headers = {}) {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function record(req, body) {
  if (!opts.record) return;
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const line = JSON.stringify({ method: req.method, headers: req.headers, body, path });
  try {
    appendFileSync(opts.record, `${line}\n`);
  } catch (err) {
    log('cannot write --record file:', err.message);
  }
}

function authorized(req) {
  if (opts.requireToken === null) return true;
  const h = req.headers.authorization;
  if (typeof h !== 'string') return false;
  const m = /^Bearer +(.*)$/i.exec(h.trim());
  return m !== null && m[1] === opts.requireToken;
}

async function serveHttp(port) {
  /** @type {Map<string, {transport: StreamableHTTPServerTransport, server: Server}>} */
  const sessions = new Map();

  async function handle(req, res) {
    // Read (and record) the body first, whatever happens next.
    let raw = '';
    if (req.method === 'POST') raw = await readBody(req);
    let body = null;
    let bodyOk = true;
    if (req.method === 'POST') {
      try {
        body = JSON.parse(raw);
      } catch {
        bodyOk = false;
      }
    }
    record(req, body);

    if (!authorized(req)) {
      return sendJsonError(res, 401, -32001, 'Unauthorized: missing or wrong bearer token', {
        'WWW-Authenticate': 'Bearer realm="mcpgate-e2e-upstream"',
      });
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/mcp') return sendJsonError(res, 404, -32601, 'Not found');

    const sessionId = req.headers['mcp-session-id'];
    const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;

    if (req.method === 'POST') {
      if (!bodyOk) return sendJsonError(res, 400, ErrorCode.ParseError, 'Parse error: invalid JSON');
      if (session) return session.transport.handleRequest(req, res, body);
      if (sessionId !== undefined) return sendJsonError(res, 404, -32001, 'Session not found');
      const isInit = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
      if (!isInit) return sendJsonError(res, 400, -32000, 'Bad Request: no valid session ID provided');

      // A new session: one Server + one transport, registered once the SDK assigns the id.
      const server = createServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
          liveServers.add(server);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        liveServers.delete(server);
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, body);
    }

    if (req.method === 'GET' || req.method === 'DELETE') {
      // GET opens the standalone SSE stream; DELETE ends the session.
      if (!session) {
        return sessionId === undefined
          ? sendJsonError(res, 400, -32000, 'Bad Request: no valid session ID provided')
          : sendJsonError(res, 404, -32001, 'Session not found');
      }
      return session.transport.handleRequest(req, res);
    }

    res.writeHead(405, { Allow: 'GET, POST, DELETE' }).end();
  }

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log('request failed:', err);
      sendJsonError(res, 500, ErrorCode.InternalError, 'Internal server error');
    });
  });
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '127.0.0.1', resolve);
  });
  const actual = httpServer.address().port;
  process.stdout.write(`LISTENING http://127.0.0.1:${actual}/mcp\n`);
  log(`serving Streamable HTTP on http://127.0.0.1:${actual}/mcp (pid ${process.pid})`);

  return async () => {
    for (const { transport, server } of sessions.values()) {
      await transport.close().catch(() => {});
      await server.close().catch(() => {});
    }
    httpServer.closeAllConnections?.();
    await new Promise((resolve) => httpServer.close(resolve));
  };
}

// ------------------------------------------------------------------------------ main

// One failing request must not take the process down (only `crash` may).
process.on('unhandledRejection', (err) => log('unhandled rejection:', err));
process.on('uncaughtException', (err) => log('uncaught exception:', err));
// A reader of our stdout going away (EPIPE) must not become an uncaught exception loop.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
});

if (opts.stderrBanner !== null) process.stderr.write(`${opts.stderrBanner}\n`);
if (opts.startsFile !== null) {
  try {
    appendFileSync(opts.startsFile, `${process.pid}\n`);
  } catch (err) {
    log('cannot write --starts-file:', err.message);
  }
}

let stopHttp = null;
let stopping = false;
const shutdown = (signal) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  setTimeout(() => process.exit(0), 1000).unref();
  Promise.resolve(stopHttp?.())
    .catch(() => {})
    .finally(() => process.exit(0));
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

if (opts.stdio) {
  await serveStdio();
} else {
  try {
    stopHttp = await serveHttp(opts.port);
  } catch (err) {
    log(`cannot listen on 127.0.0.1:${opts.port}:`, err.message);
    process.exit(1);
  }
}
