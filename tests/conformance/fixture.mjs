#!/usr/bin/env node
// Conformance fixture: an MCP server, built on the official TypeScript SDK, that implements
// everything the server scenarios of @modelcontextprotocol/conformance 0.1.16 ask for.
//
//   node fixture.mjs [--port N]     Streamable HTTP on http://127.0.0.1:N/mcp (0 = any free
//                                   port); prints "LISTENING http://127.0.0.1:PORT/mcp" on
//                                   stdout once it accepts connections.
//   node fixture.mjs --stdio        the same server over stdio (one session; logs on stderr).
//
// It uses the low-level `Server` (not `McpServer`) on purpose: every tool schema, result and
// server->client request below is written out as the exact JSON that goes on the wire, so
// what a scenario checks can be read off this file. Scenario names are in the comments.
// Needs only @modelcontextprotocol/sdk; runs on Node >= 20.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  isInitializeRequest,
} from '@modelcontextprotocol/sdk/types.js';

// ------------------------------------------------------------------------------------ data

// A 1x1 red PNG (tools-call-image, tools-call-mixed-content, resources-read-binary,
// prompts-get-with-image only check that `data`/`blob` and `mimeType` are present).
const PNG_1X1_RED =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';

// A tiny valid WAV: 8 kHz, 8-bit mono, 8 samples of silence (tools-call-audio requires the
// mimeType to be exactly "audio/wav").
const WAV_SILENCE = (() => {
  const samples = Buffer.alloc(8, 0x80);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + samples.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(8000, 24); // sample rate
  h.writeUInt32LE(8000, 28); // byte rate
  h.writeUInt16LE(1, 32); // block align
  h.writeUInt16LE(8, 34); // bits per sample
  h.write('data', 36);
  h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]).toString('base64');
})();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const noArgs = { type: 'object', properties: {} };
const text = (t) => ({ type: 'text', text: t });

// ----------------------------------------------------------------------------------- tools
// Each entry: the tool as tools/list shows it, plus `run(args, ctx)` returning a
// CallToolResult. ctx = { server, extra } (extra is the SDK's RequestHandlerExtra: it sends
// notifications and server->client requests on the stream of the tools/call being served).

const TOOLS = [
  // tools-call-simple-text
  {
    name: 'test_simple_text',
    description: 'Returns a simple text response',
    inputSchema: noArgs,
    run: async () => ({ content: [text('This is a simple text response for testing.')] }),
  },
  // tools-call-image
  {
    name: 'test_image_content',
    description: 'Returns image content (1x1 PNG)',
    inputSchema: noArgs,
    run: async () => ({ content: [{ type: 'image', data: PNG_1X1_RED, mimeType: 'image/png' }] }),
  },
  // tools-call-audio
  {
    name: 'test_audio_content',
    description: 'Returns audio content (short WAV)',
    inputSchema: noArgs,
    run: async () => ({ content: [{ type: 'audio', data: WAV_SILENCE, mimeType: 'audio/wav' }] }),
  },
  // tools-call-embedded-resource
  {
    name: 'test_embedded_resource',
    description: 'Returns an embedded text resource',
    inputSchema: noArgs,
    run: async () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  },
  // tools-call-mixed-content: needs text + image + resource items in one result
  {
    name: 'test_multiple_content_types',
    description: 'Returns text, image and embedded resource content',
    inputSchema: noArgs,
    run: async () => ({
      content: [
        text('Multiple content types test:'),
        { type: 'image', data: PNG_1X1_RED, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  },
  // tools-call-with-logging: the client first sends logging/setLevel "debug", then expects
  // >= 3 notifications/message while the call runs. They are sent on the tools/call's own
  // stream (extra.sendNotification), honouring the level the session set.
  {
    name: 'test_tool_with_logging',
    description: 'Sends three info log notifications while it runs',
    inputSchema: noArgs,
    run: async (_args, { server, extra }) => {
      const log = async (data) => {
        if (server.isMessageIgnored('info', extra.sessionId)) return;
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'conformance-fixture', data },
        });
      };
      await log('Tool execution started');
      await sleep(50);
      await log('Tool processing data');
      await sleep(50);
      await log('Tool execution completed');
      return { content: [text('Tool with logging executed successfully')] };
    },
  },
  // tools-call-error: a tool-level error (result with isError: true), not a JSON-RPC error
  {
    name: 'test_error_handling',
    description: 'Always fails with isError: true',
    inputSchema: noArgs,
    run: async () => ({
      isError: true,
      content: [text('This tool intentionally returns an error for testing')],
    }),
  },
  // tools-call-with-progress: the request carries _meta.progressToken (the SDK client turns
  // the suite's "progress-test-1" into its numeric request id); the client expects >= 3
  // notifications/progress with non-decreasing progress, echoing that token.
  {
    name: 'test_tool_with_progress',
    description: 'Reports progress 0/100, 50/100, 100/100',
    inputSchema: noArgs,
    run: async (_args, { extra }) => {
      const progressToken = extra._meta?.progressToken;
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100, message: `step ${i + 1} of 3` },
          });
        }
      }
      // Linger before answering: the SDK client handles notifications one microtask late but
      // responses at once, and drops progress for a request that has already been answered.
      // If the last progress and the result reach it in one read (same stdio chunk, or SSE
      // events a proxy wrote together), the 100/100 notification would be lost without this.
      await sleep(50);
      return { content: [text('Tool with progress executed successfully')] };
    },
  },
  // tools-call-sampling: server->client request sampling/createMessage, sent while the
  // tools/call is open (the client answers on a new POST).
  {
    name: 'test_sampling',
    description: 'Asks the client to sample an LLM completion (sampling/createMessage)',
    inputSchema: {
      type: 'object',
      properties: { prompt: { type: 'string', description: 'The prompt to send to the LLM' } },
      required: ['prompt'],
    },
    run: async (args, { extra }) => {
      const result = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: {
            messages: [{ role: 'user', content: text(String(args.prompt ?? '')) }],
            maxTokens: 100,
          },
        },
        CreateMessageResultSchema,
      );
      const reply = result.content?.type === 'text' ? result.content.text : JSON.stringify(result.content);
      return { content: [text(`LLM response: ${reply}`)] };
    },
  },
  // tools-call-elicitation: server->client request elicitation/create
  {
    name: 'test_elicitation',
    description: 'Asks the user for a username and email (elicitation/create)',
    inputSchema: {
      type: 'object',
      properties: { message: { type: 'string', description: 'The message to show the user' } },
      required: ['message'],
    },
    run: async (args, { extra }) => {
      const result = await extra.sendRequest(
        {
          method: 'elicitation/create',
          params: {
            message: String(args.message ?? ''),
            requestedSchema: {
              type: 'object',
              properties: {
                username: { type: 'string', description: "User's response" },
                email: { type: 'string', description: "User's email address" },
              },
              required: ['username', 'email'],
            },
          },
        },
        ElicitResultSchema,
      );
      return { content: [text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    },
  },
  // elicitation-sep1034-defaults: the elicitation schema must carry `default` for a string,
  // an integer, a number, a string enum and a boolean, with exactly these names and values.
  {
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicitation whose schema has default values for every primitive type (SEP-1034)',
    inputSchema: noArgs,
    run: async (_args, { extra }) =>
      elicitAndReport(extra, 'Please review and update the form fields with defaults', {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: {
            type: 'string',
            description: 'User status',
            enum: ['active', 'inactive', 'pending'],
            default: 'active',
          },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
        required: [],
      }),
  },
  // elicitation-sep1330-enums: all five enum shapes, under exactly these property names.
  {
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicitation with the five enum schema variants (SEP-1330)',
    inputSchema: noArgs,
    run: async (_args, { extra }) =>
      elicitAndReport(extra, 'Please select options from the enum fields', {
        type: 'object',
        properties: {
          untitledSingle: {
            type: 'string',
            description: 'Untitled single-select',
            enum: ['option1', 'option2', 'option3'],
          },
          titledSingle: {
            type: 'string',
            description: 'Titled single-select',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Legacy titled enum (enumNames, deprecated)',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Untitled multi-select',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Titled multi-select',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
        required: [],
      }),
  },
  // json-schema-2020-12 (PENDING in 0.1.16, not in the active suite): tools/list must keep
  // $schema, $defs and additionalProperties of this inputSchema intact. A gateway that
  // rewrites tool schemas is exactly what this catches, so the tool is served anyway.
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: {
        address: {
          type: 'object',
          properties: { street: { type: 'string' }, city: { type: 'string' } },
        },
      },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
    run: async (args) => ({ content: [text(`Received: ${JSON.stringify(args)}`)] }),
  },
  // server-sse-polling (PENDING in 0.1.16): SEP-1699 wants this tool to close its SSE stream
  // mid-call and deliver the result after the client reconnects. That needs an event store;
  // this fixture keeps no event store, so the SDK offers no closeSSEStream and the result
  // simply arrives on the open stream (the scenario then reports INFO/WARNING, no FAILURE).
  {
    name: 'test_reconnection',
    description: 'Closes its SSE stream mid-call when the transport supports resumption (SEP-1699)',
    inputSchema: noArgs,
    run: async (_args, { extra }) => {
      await sleep(100);
      extra.closeSSEStream?.();
      await sleep(100);
      return { content: [text('Reconnection test completed successfully')] };
    },
  },
];

async function elicitAndReport(extra, message, requestedSchema) {
  const result = await extra.sendRequest(
    { method: 'elicitation/create', params: { message, requestedSchema } },
    ElicitResultSchema,
  );
  return {
    content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)],
  };
}

// ------------------------------------------------------------------------------- resources
// resources-list (each needs uri + name), resources-read-text, resources-read-binary,
// resources-subscribe / resources-unsubscribe (on test://watched-resource).

const RESOURCES = [
  {
    uri: 'test://static-text',
    name: 'static-text',
    description: 'A static text resource',
    mimeType: 'text/plain',
    read: () => ({ text: 'This is the content of the static text resource.' }),
  },
  {
    uri: 'test://static-binary',
    name: 'static-binary',
    description: 'A static binary resource (1x1 PNG)',
    mimeType: 'image/png',
    read: () => ({ blob: PNG_1X1_RED }),
  },
  {
    uri: 'test://watched-resource',
    name: 'watched-resource',
    description: 'A resource clients subscribe to (resources-subscribe / -unsubscribe)',
    mimeType: 'text/plain',
    read: () => ({ text: 'Watched resource content.' }),
  },
];

// resources-templates-read: test://template/123/data must come back with "123" in the text.
const TEMPLATE = {
  uriTemplate: 'test://template/{id}/data',
  name: 'template-data',
  description: 'A templated resource; {id} is substituted into the content',
  mimeType: 'application/json',
  match: /^test:\/\/template\/([^/]+)\/data$/,
};

// --------------------------------------------------------------------------------- prompts
// prompts-list (name + description each), prompts-get-simple, prompts-get-with-args,
// prompts-get-embedded-resource, prompts-get-with-image; completion-complete completes the
// arguments of test_prompt_with_arguments.

const PROMPTS = [
  {
    name: 'test_simple_prompt',
    description: 'A simple prompt without arguments',
    get: () => [{ role: 'user', content: text('This is a simple prompt for testing.') }],
  },
  {
    name: 'test_prompt_with_arguments',
    description: 'A prompt with two required arguments',
    arguments: [
      { name: 'arg1', description: 'First test argument', required: true },
      { name: 'arg2', description: 'Second test argument', required: true },
    ],
    get: (a) => [{ role: 'user', content: text(`Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'`) }],
  },
  {
    name: 'test_prompt_with_embedded_resource',
    description: 'A prompt that embeds a resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
    get: (a) => [
      {
        role: 'user',
        content: {
          type: 'resource',
          resource: { uri: a.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
        },
      },
      { role: 'user', content: text('Please process the embedded resource above.') },
    ],
  },
  {
    name: 'test_prompt_with_image',
    description: 'A prompt that includes an image',
    get: () => [
      { role: 'user', content: { type: 'image', data: PNG_1X1_RED, mimeType: 'image/png' } },
      { role: 'user', content: text('Please analyze the image above.') },
    ],
  },
];

// Candidate values offered by completion/complete, per prompt argument.
const COMPLETIONS = {
  'test_prompt_with_arguments/arg1': ['paris', 'park', 'party', 'test', 'testValue1'],
  'test_prompt_with_arguments/arg2': ['world', 'test', 'testValue2'],
};

// ---------------------------------------------------------------------------------- server

/** One Server per session (HTTP) or per process (stdio). */
function createServer() {
  const server = new Server(
    { name: 'mcpgate-conformance-fixture', version: '1.0.0' },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: true },
        prompts: {},
        completions: {}, // completion-complete
        logging: {}, // logging-set-level (the SDK answers logging/setLevel with {} itself)
      },
      instructions: 'Conformance fixture for mcpgate: implements the MCP conformance server scenarios.',
    },
  );
  const subscriptions = new Set(); // resources-subscribe / resources-unsubscribe

  // ---- tools (tools-list, tools-call-*, elicitation-*)
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: TOOLS.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = TOOLS.find((t) => t.name === request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    return tool.run(request.params.arguments ?? {}, { server, extra });
  });

  // ---- resources
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: RESOURCES.map(({ uri, name, description, mimeType }) => ({ uri, name, description, mimeType })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: TEMPLATE.uriTemplate,
        name: TEMPLATE.name,
        description: TEMPLATE.description,
        mimeType: TEMPLATE.mimeType,
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const fixed = RESOURCES.find((r) => r.uri === uri);
    if (fixed) return { contents: [{ uri, mimeType: fixed.mimeType, ...fixed.read() }] };
    const m = TEMPLATE.match.exec(uri);
    if (m) {
      const id = decodeURIComponent(m[1]);
      return {
        contents: [
          {
            uri,
            mimeType: TEMPLATE.mimeType,
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    }
    throw new McpError(ErrorCode.InvalidParams, `Resource not found: ${uri}`);
  });
  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });

  // ---- prompts
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: PROMPTS.map(({ name, description, arguments: args }) => ({
      name,
      description,
      ...(args ? { arguments: args } : {}),
    })),
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

  // ---- completion (completion-complete: ref/prompt test_prompt_with_arguments, arg1="test")
  server.setRequestHandler(CompleteRequestSchema, async (request) => {
    const { ref, argument } = request.params;
    const key = ref.type === 'ref/prompt' ? `${ref.name}/${argument.name}` : undefined;
    const candidates = (key && COMPLETIONS[key]) || [];
    const values = candidates.filter((v) => v.startsWith(argument.value ?? ''));
    return { completion: { values, total: values.length, hasMore: false } };
  });

  return server;
}

// -------------------------------------------------------------------------- stdio transport

async function serveStdio() {
  const server = createServer();
  const transport = new StdioServerTransport();
  server.onclose = () => process.exit(0);
  await server.connect(transport);
  console.error('conformance fixture: serving over stdio');
}

// -------------------------------------------------------------- Streamable HTTP transport

// dns-rebinding-protection: a localhost server MUST answer 4xx when Host (or Origin) names
// another host, and 2xx for localhost ones. Compared by hostname, any port.
const LOCAL_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
function isLocalHost(hostHeader) {
  if (!hostHeader) return false;
  try {
    return LOCAL_HOSTNAMES.has(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return false;
  }
}
function isLocalOrigin(origin) {
  if (origin === undefined) return true; // non-browser clients send none
  try {
    return LOCAL_HOSTNAMES.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function sendJsonError(res, status, code, message) {
  if (res.headersSent) return res.end();
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readJsonBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function serveHttp(port) {
  // Stateful sessions: server-sse-multiple-streams needs an Mcp-Session-Id (it warns without
  // one) and server-sse-polling reconnects with GET + Last-Event-ID on the session.
  /** @type {Map<string, {transport: StreamableHTTPServerTransport, server: Server}>} */
  const sessions = new Map();

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/mcp') return sendJsonError(res, 404, -32601, 'Not found');
    if (!isLocalHost(req.headers.host) || !isLocalOrigin(req.headers.origin)) {
      return sendJsonError(res, 403, -32000, 'Forbidden: non-localhost Host or Origin header');
    }
    const sessionId = req.headers['mcp-session-id'];
    const session = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;

    if (req.method === 'POST') {
      let body;
      try {
        body = await readJsonBody(req);
      } catch {
        return sendJsonError(res, 400, ErrorCode.ParseError, 'Parse error: invalid JSON');
      }
      if (session) return session.transport.handleRequest(req, res, body);
      if (sessionId !== undefined) return sendJsonError(res, 404, -32001, 'Session not found');
      const isInit = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
      if (!isInit) return sendJsonError(res, 400, -32000, 'Bad Request: no valid session ID provided');

      // A new session: one Server + one transport, registered once the SDK assigns the id.
      const server = createServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, { transport, server }),
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
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
      console.error('conformance fixture: request failed:', err);
      sendJsonError(res, 500, ErrorCode.InternalError, 'Internal server error');
    });
  });
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '127.0.0.1', resolve);
  });
  const actual = httpServer.address().port;
  process.stdout.write(`LISTENING http://127.0.0.1:${actual}/mcp\n`);

  const shutdown = async () => {
    for (const { transport, server } of sessions.values()) {
      await transport.close().catch(() => {});
      await server.close().catch(() => {});
    }
    httpServer.closeAllConnections?.();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

// ------------------------------------------------------------------------------------ main

function parseArgs(argv) {
  const opts = { stdio: false, port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--stdio') opts.stdio = true;
    else if (a === '--port') opts.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) opts.port = Number(a.slice('--port='.length));
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: fixture.mjs [--port N | --stdio]\n');
      process.exit(0);
    } else {
      console.error(`fixture.mjs: unknown argument: ${a}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error('fixture.mjs: --port needs an integer 0..65535');
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.stdio) await serveStdio();
else await serveHttp(opts.port);
