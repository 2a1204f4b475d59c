#!/usr/bin/env node
// A real OAuth 2.0 / OpenID Connect identity provider for mcpgate's JWT and introspection
// end-to-end tests, built on the OpenID-certified `oidc-provider` package. It issues JWT or
// opaque access tokens through the client_credentials grant with RFC 8707 resource indicators
// (aud = the resource), and introspects (RFC 7662) and revokes (RFC 7009) the opaque ones.
// With --rp-client it is also the upstream OpenID Connect provider of a relying party (mcpgate's
// embedded authorization server): interactive login by the authorization code flow.
// Test-only: plain HTTP, bound to 127.0.0.1, unauthenticated admin endpoints.
//
//   node idp.mjs [--port 0] --resource URL... --opaque-resource URL... [--alg ALG]...
//                [--rp-client ID --rp-redirect URL...] [--watch-stdin]
//   node idp.mjs --self-test
//
// options:
//   --port N        TCP port on 127.0.0.1 (default 0 = any free port)
//   --resource URL  a resource indicator (= JWT audience) JWT tokens are issued for; repeatable;
//                   the first one is the default when a token request names none
//   --opaque-resource URL  a resource indicator opaque tokens are issued for; repeatable;
//                   the default when there is no --resource (at least one of the two needed,
//                   unless --rp-client is given)
//   --alg ALG       a JWS algorithm to sign access tokens with; repeatable; one key per alg;
//                   the first one is the default (default: RS256 and ES256). Also accepted:
//                   PS256, ES384, ES512, Ed25519. With --rp-client, RS256 is added if missing
//                   (ID tokens are RS256).
//   --rp-client ID  register a confidential relying party ID (client_secret_basic, random
//                   secret): authorization_code (PKCE S256 required) + refresh_token grants,
//                   response_type code, scopes openid offline_access email profile groups
//   --rp-redirect URL  a redirect_uri of the --rp-client; repeatable; goes with --rp-client
//   --watch-stdin   exit 0 when stdin reaches EOF (lets a parent holding the pipe end us)
//   --self-test     start an instance as a child process, check it end to end, exit 0/1
//
// When ready it prints ONE JSON line on stdout (issuer, jwks_uri, token_endpoint,
// authorization_endpoint, userinfo_endpoint, introspection_endpoint, revocation_endpoint,
// discovery, clients.{service,other,gateway}.{client_id,client_secret},
// rp: {client_id, client_secret, redirect_uris} or null, accounts, admin, ...) and runs until
// SIGTERM/SIGINT (exit 0).
// All logging goes to stderr. Exit 2 on a usage error, 1 on a startup failure.
//
// Token endpoint (standard): POST {issuer}/token, grant_type=client_credentials,
// client_secret_basic or client_secret_post, optional scope and resource, plus the
// non-standard form fields `alg` to pick the signing algorithm (default: the first --alg)
// and `ttl` (1-300 s, default 300) to shorten the token's lifetime.
// Introspection: POST {issuer}/token/introspection token=... as client `gateway` (basic auth):
// it may introspect tokens whose aud is an --opaque-resource; `service` only its own tokens.
// Revocation: POST {issuer}/token/revocation token=... as client `service`.
//
// Relying party (--rp-client): GET {issuer}/auth?client_id=ID&response_type=code&redirect_uri=..
// &scope=openid email profile groups offline_access&state=..&nonce=..&code_challenge=..
// &code_challenge_method=S256 answers 303 to /interaction/UID: an HTML page whose only <form>
// (POST /interaction/UID) has inputs `prompt` (hidden), `login` and `password`. Accounts: alice
// (groups engineering, inventory-writers) and bob (groups sales); any password; any other login
// name, or a disabled account, ends the flow with error=access_denied at the redirect_uri. Then a
// consent page (POST /interaction/UID2, hidden `prompt`, buttons name=decision value=approve,
// first, or value=deny -> error=access_denied). Follow the 303s (keeping cookies): the last one
// goes to redirect_uri?code=..&state=..&iss=... Token endpoint: grant_type=authorization_code
// (client_secret_basic, code_verifier) -> access_token (opaque, for {issuer}/me), id_token (RS256;
// sub, email, email_verified, name, groups, nonce: the claims of the granted scopes are in the ID
// token too), refresh_token (only when offline_access was granted). oidc-provider drops
// offline_access without prompt=consent (OIDC Core 11), so for this client the IdP adds
// prompt=consent to an authorization request that asks for offline_access and has no prompt.
// grant_type=refresh_token rotates: each use returns a new refresh token; presenting a used one
// is invalid_grant and revokes the whole grant (as does presenting a code twice). The
// refresh_token grant looks the account up (oidc-provider 9.13.3, grants/refresh_token.js:
// validateAccount -> findAccount): for a disabled account it fails with invalid_grant (logged
// error_detail: "refresh token invalid (referenced account not found)"), without consuming the
// refresh token, so it works again once the account is enabled. Userinfo also answers 401.
//
// Admin endpoints (test-only):
//   POST /admin/rotate          new key per alg (new kid) becomes the signing key; old keys
//                               stay in the JWKS -> {"kids":[current],"previous":[old]}
//   POST /admin/drop-old-keys   only the current keys stay in the JWKS
//                               -> {"kids":[current],"dropped":[removed]}
//   GET  /admin/token?scope=..&resource=..&alg=..   does a real client_credentials request
//                               (client_secret_basic) against {issuer}/token and returns its
//                               status and JSON body unchanged
//   GET  /admin/keys            -> {"kids":[current],"previous":[old],"current":{ALG:kid}}
//   POST /admin/disable-account?sub=alice   findAccount('alice') returns nothing from now on:
//                               refresh_token grants and logins for alice fail
//                               -> {"sub":"alice","disabled":true,"disabled_accounts":[...]}
//                               (404 for a sub other than alice or bob)
//   POST /admin/enable-account?sub=alice    undoes it -> {"sub":"alice","disabled":false,...}

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { fileURLToPath } from 'node:url';

// oidc-provider and jose are loaded (in main, below) only after the console is rerouted.
let Provider;
let errors;
let oidcInteractionPolicy;
let jose;
let createMemoryAdapter;

const SCOPES = ['inventory:read', 'inventory:write', 'inventory:admin'];
const SCOPE = SCOPES.join(' ');
const CLIENT_ID = 'service';
const OTHER_CLIENT_ID = 'other';
const GATEWAY_CLIENT_ID = 'gateway';
const ACCESS_TOKEN_TTL = 300;
const DEFAULT_ALGS = ['RS256', 'ES256'];
const SUPPORTED_ALGS = new Set(['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

// the people who can log in through the relying party's (--rp-client) authorization code
// flow; any password is accepted. findAccount returns these claims (oidc-provider filters them
// by the granted scopes: email -> email, email_verified; profile -> name; groups -> groups).
const ACCOUNTS = {
  alice: {
    sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice', groups: ['engineering', 'inventory-writers'],
  },
  bob: {
    sub: 'bob', email: 'bob@example.test', email_verified: true, name: 'Bob', groups: ['sales'],
  },
};
const RP_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups'];

const log = (...a) => console.error('idp:', ...a);

class UsageError extends Error {}

function parseCli(argv) {
  const opts = {
    port: 0, resources: [], opaqueResources: [], algs: [], watchStdin: false, selfTest: false,
    rpClient: null, rpRedirects: [],
  };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    switch (a) {
      case '--port': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`invalid --port ${v}`);
        opts.port = n;
        break;
      }
      case '--resource':
      case '--opaque-resource': {
        const v = value();
        const u = URL.parse(v);
        if (!u || u.hash) throw new UsageError(`${a} must be an absolute URL without fragment: ${v}`);
        if (opts.resources.includes(v) || opts.opaqueResources.includes(v)) {
          throw new UsageError(`resource given twice: ${v}`);
        }
        (a === '--resource' ? opts.resources : opts.opaqueResources).push(v);
        break;
      }
      case '--alg': {
        const v = value();
        if (!SUPPORTED_ALGS.has(v)) throw new UsageError(`unsupported --alg ${v} (one of ${[...SUPPORTED_ALGS].join(', ')})`);
        if (!opts.algs.includes(v)) opts.algs.push(v);
        break;
      }
      case '--rp-client': {
        const v = value();
        if (opts.rpClient !== null) throw new UsageError('--rp-client given twice');
        if (!/^[\x21-\x7e]+$/.test(v) || v.includes(':')) throw new UsageError(`invalid --rp-client ${v}`);
        if ([CLIENT_ID, OTHER_CLIENT_ID, GATEWAY_CLIENT_ID].includes(v)) {
          throw new UsageError(`--rp-client ${v} clashes with a built-in client`);
        }
        opts.rpClient = v;
        break;
      }
      case '--rp-redirect': {
        const v = value();
        const u = URL.parse(v);
        if (!u || u.hash || !/^https?:$/.test(u.protocol)) {
          throw new UsageError(`--rp-redirect must be an absolute http(s) URL without fragment: ${v}`);
        }
        if (!opts.rpRedirects.includes(v)) opts.rpRedirects.push(v);
        break;
      }
      case '--watch-stdin': opts.watchStdin = true; break;
      case '--self-test': opts.selfTest = true; break;
      case '-h':
      case '--help':
        throw new UsageError('help');
      default:
        throw new UsageError(`unknown argument: ${a}`);
    }
  }
  if (!opts.algs.length) opts.algs = [...DEFAULT_ALGS];
  if ((opts.rpClient === null) !== (opts.rpRedirects.length === 0)) {
    throw new UsageError('--rp-client and --rp-redirect go together');
  }
  // ID tokens for the relying party are RS256 (the OIDC default); the first --alg stays the
  // default for access tokens
  if (opts.rpClient !== null && !opts.algs.includes('RS256')) opts.algs.push('RS256');
  if (!opts.selfTest && !opts.resources.length && !opts.opaqueResources.length && opts.rpClient === null) {
    throw new UsageError('at least one --resource or --opaque-resource (or --rp-client) is required');
  }
  return opts;
}

// oidc-provider's default prompts (login, then consent) plus one login check: a browser
// session whose account findAccount no longer returns (POST /admin/disable-account) must log
// in again. Without it oidc-provider skips the login prompt (the session has an accountId)
// and its consent checks crash on the missing grant (500).
function buildInteractionPolicy() {
  const { base, Check } = oidcInteractionPolicy;
  const policy = base();
  policy.get('login').checks.push(new Check(
    'account_unavailable',
    'the account of the session is no longer available',
    'login_required',
    (ctx) => Boolean(ctx.oidc.session.accountId) && !ctx.oidc.account,
  ));
  return policy;
}

// ------------------------------------------------------------------------------ keys

let generation = 0;

async function generateKey(alg) {
  const options = { extractable: true };
  if (alg === 'RS256' || alg === 'PS256') options.modulusLength = 2048;
  const { privateKey } = await jose.generateKeyPair(alg, options);
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = `${alg.toLowerCase()}-${generation}-${randomBytes(4).toString('hex')}`;
  jwk.alg = alg;
  jwk.use = 'sig';
  return jwk;
}

// ------------------------------------------------------------------------------ the IdP

class Idp {
  constructor(opts) {
    this.opts = opts;
    this.clientSecret = randomBytes(32).toString('base64url');
    this.otherSecret = randomBytes(32).toString('base64url');
    this.gatewaySecret = randomBytes(32).toString('base64url');
    this.rpSecret = randomBytes(32).toString('base64url');
    this.disabled = new Set(); // account ids refused by findAccount (POST /admin/disable-account)
    this.cookieKeys = [randomBytes(32).toString('base64url')];
    this.current = new Map(); // alg -> private JWK used for signing
    this.previous = []; // older private JWKs still published
    this.provider = null;
    this.callback = null;
    this.adapter = null; // one in-memory store shared by every Provider built (see buildProvider)
  }

  get kids() { return [...this.current.values()].map((k) => k.kid); }

  get previousKids() { return this.previous.map((k) => k.kid); }

  async newKeys() {
    generation += 1;
    const next = new Map();
    for (const alg of this.opts.algs) next.set(alg, await generateKey(alg));
    return next;
  }

  // oidc-provider reads `jwks` once, at construction: every key change builds a new Provider
  // behind the same http server (same issuer, same port, same client secret).
  buildProvider() {
    const { resources, opaqueResources, algs, rpClient, rpRedirects } = this.opts;
    const current = this.current;
    const { disabled } = this;
    const isRp = (client) => rpClient !== null && client?.clientId === rpClient;
    const resourceSet = new Set(resources);
    const opaqueSet = new Set(opaqueResources);
    const scopeSet = new Set(SCOPES);
    const defaultResource = resources[0] ?? opaqueResources[0];
    const audiences = (token) => [token.aud].flat().filter((a) => typeof a === 'string');

    const provider = new Provider(this.issuer, {
      clients: [{
        client_id: CLIENT_ID,
        client_secret: this.clientSecret,
        // basic is the registered method; oidc-provider accepts client_secret_post for it too
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: SCOPE,
        // unused (no ID tokens here) but validated: the default RS256 needs an RSA key
        id_token_signed_response_alg: algs[0],
      }, {
        // a second service, for "somebody else's token" tests
        client_id: OTHER_CLIENT_ID,
        client_secret: this.otherSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: SCOPE,
        id_token_signed_response_alg: algs[0],
      }, {
        // the resource server (mcpgate) authenticating to the introspection endpoint;
        // it gets no tokens itself
        client_id: GATEWAY_CLIENT_ID,
        client_secret: this.gatewaySecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: algs[0],
      }, ...(rpClient === null ? [] : [{
        // the relying party (mcpgate's embedded authorization server federating its logins
        // here): authorization code (PKCE required, see pkce below) + refresh tokens
        client_id: rpClient,
        client_secret: this.rpSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: rpRedirects,
        scope: RP_SCOPES.join(' '),
        id_token_signed_response_alg: 'RS256',
      }])],
      // a client's `scope` must be a subset of the provider's `scopes`, else every token
      // request fails with invalid_client_metadata. The scopes keyed in `claims` (email,
      // profile, groups) are added to these by oidc-provider.
      scopes: ['openid', 'offline_access', ...SCOPES],
      claims: {
        acr: null,
        sid: null,
        auth_time: null,
        iss: null,
        openid: ['sub'],
        ...(rpClient === null ? {} : {
          email: ['email', 'email_verified'],
          profile: ['name'],
          groups: ['groups'],
        }),
      },
      // put the claims of the granted scopes into the ID token too, not only into userinfo
      conformIdTokenClaims: false,
      findAccount: async (ctx, id) => {
        if (typeof id !== 'string' || !Object.hasOwn(ACCOUNTS, id) || disabled.has(id)) return undefined;
        return { accountId: id, claims: async () => structuredClone(ACCOUNTS[id]) };
      },
      // login and consent pages: served by Idp.interaction (devInteractions stay disabled)
      interactions: { policy: buildInteractionPolicy(), url: (ctx, interaction) => `/interaction/${interaction.uid}` },
      // PKCE (S256) for every authorization request; oidc-provider's default asks it only of
      // public clients
      pkce: { required: () => true },
      // the default, spelled out: a refresh token when the grant includes offline_access
      issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
        && code.scopes.has('offline_access'),
      // every refresh_token grant consumes the refresh token and returns a new one; presenting
      // a consumed one fails with invalid_grant and revokes the whole grant
      rotateRefreshToken: true,
      jwks: { keys: [...current.values(), ...this.previous] },
      cookies: { keys: this.cookieKeys },
      // the resource server's accessTokenTTL (300 s or the `ttl` form field); a plain number
      // here would win over it
      ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL },
      // opaque tokens live in the adapter; by default every Provider gets a fresh in-memory
      // store, which would forget them at each key rotation. Share one store instead.
      adapter: this.adapter,
      clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
      enabledJWA: { idTokenSigningAlgValues: algs },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: {
          enabled: true,
          // the default lets any confidential client introspect any token. Here: `gateway`
          // may introspect tokens for the opaque resources (it is their resource server),
          // every other client only its own tokens. A refusal is {"active":false}.
          allowedPolicy: async (ctx, client, token) => {
            if (client.clientId === GATEWAY_CLIENT_ID) return audiences(token).some((a) => opaqueSet.has(a));
            return token.clientId === client.clientId;
          },
        },
        revocation: {
          enabled: true,
          // like the default: a client revokes only its own tokens (else 400 invalid_request)
          allowedPolicy: async (ctx, client, token) => {
            if (token.clientId !== client.clientId) {
              throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
            }
            return true;
          },
        },
        resourceIndicators: {
          enabled: true,
          // the relying party's tokens are for the userinfo endpoint (no resource)
          defaultResource: async (ctx, client) => (isRp(client) ? undefined : defaultResource),
          useGrantedResource: async () => true,
          getResourceServerInfo: async (ctx, resourceIndicator, client) => {
            const opaque = opaqueSet.has(resourceIndicator);
            if (!opaque && !resourceSet.has(resourceIndicator)) {
              throw new errors.InvalidTarget(`unknown resource indicator ${resourceIndicator}`);
            }
            // oidc-provider keeps only the params a grant knows (ctx.oidc.params); the raw
            // parsed form body still carries our non-standard `alg` field.
            const requested = ctx.oidc?.body?.alg;
            const alg = requested === undefined || requested === '' ? algs[0] : String(requested);
            if (!current.has(alg)) {
              throw new errors.InvalidRequest(`unsupported alg ${alg} (this IdP signs with ${algs.join(', ')})`);
            }
            // oidc-provider silently drops requested scopes the resource server does not
            // have; be strict like most real IdPs and refuse them instead.
            const scopeParam = ctx.oidc?.params?.scope;
            if (typeof scopeParam === 'string' && !isRp(client)) {
              for (const s of scopeParam.split(' ').filter(Boolean)) {
                if (!scopeSet.has(s)) throw new errors.InvalidScope('requested scope is not allowed', s);
              }
            }
            // non-standard `ttl` form field: a shorter lifetime, for expiry tests
            const ttlParam = ctx.oidc?.body?.ttl;
            let ttl = ACCESS_TOKEN_TTL;
            if (ttlParam !== undefined && ttlParam !== '') {
              ttl = Number(ttlParam);
              if (!/^\d+$/.test(String(ttlParam)) || ttl < 1 || ttl > ACCESS_TOKEN_TTL) {
                throw new errors.InvalidRequest(`invalid ttl ${ttlParam} (1-${ACCESS_TOKEN_TTL})`);
              }
            }
            if (opaque) {
              return {
                scope: SCOPE,
                audience: resourceIndicator,
                accessTokenTTL: ttl,
                accessTokenFormat: 'opaque',
              };
            }
            return {
              scope: SCOPE,
              audience: resourceIndicator,
              accessTokenTTL: ttl,
              accessTokenFormat: 'jwt',
              // explicit kid: after a rotation several keys share the alg
              jwt: { sign: { alg, kid: current.get(alg).kid } },
            };
          },
        },
      },
      // JWTs get sub = client_id from oidc-provider; an opaque client_credentials token has no
      // account, so introspection would show no `sub` without this
      extraTokenClaims: async (ctx, token) => (token.clientId === rpClient ? undefined : {
        groups: ['data-team'],
        ...(token.resourceServer?.accessTokenFormat === 'opaque' ? { sub: token.clientId } : {}),
      }),
    });

    provider.on('server_error', (ctx, err) => log('server_error', err));
    // error_detail is what oidc-provider keeps from the client, e.g. "refresh token invalid
    // (referenced account not found)"
    provider.on('grant.error', (ctx, err) => log('token error:', err.error, err.error_description || '', err.error_detail || ''));
    provider.on('authorization.error', (ctx, err) => log('authorization error:', err.error, err.error_description || '', err.error_detail || ''));
    provider.on('grant.success', (ctx) => {
      const e = ctx.oidc.entities ?? {};
      const t = e.ClientCredentials ?? e.AccessToken;
      log('issued token', JSON.stringify({
        grant_type: ctx.oidc.params?.grant_type,
        client: ctx.oidc.client?.clientId,
        account: e.Account?.accountId,
        aud: t?.aud ?? t?.resourceServer?.audience,
        scope: t?.scope,
        format: t?.resourceServer?.accessTokenFormat,
        refresh_token: e.RefreshToken ? (e.RotatedRefreshToken ? 'rotated' : 'issued') : undefined,
      }));
    });

    this.provider = provider;
    this.callback = provider.callback();
  }

  async listen() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, '127.0.0.1', resolve);
    });
    const { port } = this.server.address();
    this.issuer = `http://127.0.0.1:${port}`;
    this.current = await this.newKeys();
    this.adapter = createMemoryAdapter();
    this.buildProvider();
  }

  handle(req, res) {
    const path = (req.url || '/').split('?')[0];
    if (path === '/admin' || path.startsWith('/admin/')) {
      this.admin(req, res, path).catch((err) => {
        log('admin error', err);
        sendJson(res, 500, { error: 'server_error', error_description: String(err?.message || err) });
      });
      return;
    }
    if (!this.callback) {
      sendJson(res, 503, { error: 'temporarily_unavailable' });
      return;
    }
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(path);
    if (interaction) {
      this.interaction(req, res, interaction[1]).catch((err) => {
        log('interaction error', err);
        if (!res.headersSent) sendHtml(res, 500, 'Error', `<p>${escapeHtml(String(err?.message || err))}</p>`);
        else res.end();
      });
      return;
    }
    if (path === '/auth' && (req.method || 'GET') === 'GET' && this.opts.rpClient !== null) {
      // oidc-provider follows OIDC Core 11: it drops offline_access (so: no refresh token)
      // unless the request has prompt=consent. Many IdPs don't insist; be lenient for the
      // relying party and add prompt=consent when it asks for offline_access without a prompt.
      const u = new URL(req.url, this.issuer);
      const q = u.searchParams;
      if (q.get('client_id') === this.opts.rpClient && !q.has('prompt')
        && (q.get('scope') ?? '').split(' ').includes('offline_access')) {
        q.set('prompt', 'consent');
        req.url = `${u.pathname}?${q}`;
      }
    }
    this.callback(req, res);
  }

  // The login and consent pages of the authorization code flow (what oidc-provider's
  // devInteractions do, but refusing unknown and disabled accounts and offering "deny").
  // GET shows the form for the interaction's prompt; POST submits it. Either way the user agent
  // goes back (303) to oidc-provider's /auth/:uid, which continues the flow.
  async interaction(req, res, uid) {
    const method = req.method || 'GET';
    if (method !== 'GET' && method !== 'POST') {
      for await (const chunk of req) void chunk; // eslint-disable-line no-unused-vars
      return sendHtml(res, 405, 'Method not allowed', '<p>GET or POST only</p>');
    }
    const body = method === 'POST' ? await readForm(req) : null;
    const { provider } = this;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      return sendHtml(res, 400, 'Error', `<p>interaction not found: ${escapeHtml(err?.error_description || err?.message || String(err))}</p>`);
    }
    if (details.uid !== uid) return sendHtml(res, 400, 'Error', '<p>interaction mismatch</p>');
    const { prompt, params } = details;
    const deny = (description) => provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: description,
    }, { mergeWithLastSubmission: false });

    if (method === 'GET') {
      const action = `/interaction/${uid}`;
      if (prompt.name === 'login') {
        const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
        return sendHtml(res, 200, 'Sign-in', `<p>Sign in to continue to ${escapeHtml(params.client_id)}</p>
<form method="post" action="${action}" autocomplete="off">
  <input type="hidden" name="prompt" value="login">
  <label>Login <input type="text" name="login" value="${escapeHtml(hint)}" required></label>
  <label>Password <input type="password" name="password" required></label>
  <button type="submit">Sign-in</button>
</form>`);
      }
      if (prompt.name === 'consent') {
        const scopes = [...(prompt.details.missingOIDCScope ?? [])].join(' ');
        return sendHtml(res, 200, 'Authorize', `<p>${escapeHtml(params.client_id)} asks for: ${escapeHtml(scopes || '(previously granted)')}</p>
<form method="post" action="${action}">
  <input type="hidden" name="prompt" value="consent">
  <button type="submit" name="decision" value="approve">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>`);
      }
      return sendHtml(res, 501, 'Not implemented', `<p>prompt ${escapeHtml(prompt.name)}</p>`);
    }

    if (prompt.name === 'login') {
      const login = body.get('login') ?? '';
      if (!Object.hasOwn(ACCOUNTS, login) || this.disabled.has(login)) {
        log('login refused for', JSON.stringify(login));
        return deny(`login refused for ${login}`);
      }
      log('login', login, 'for client', params.client_id);
      return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    }
    if (prompt.name === 'consent') {
      if (body.get('decision') === 'deny') return deny('End-User denied the authorization');
      const { grantId, session } = details;
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      // offline_access is among the missing OIDC scopes when it was asked for
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
      const result = { consent: { grantId: await grant.save() } };
      log('consent for', session.accountId, 'client', params.client_id, 'scope', grant.getOIDCScope());
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    }
    return sendHtml(res, 501, 'Not implemented', `<p>prompt ${escapeHtml(prompt.name)}</p>`);
  }

  async admin(req, res, path) {
    const method = req.method || 'GET';
    // drain any request body
    for await (const chunk of req) void chunk; // eslint-disable-line no-unused-vars
    const route = `${method} ${path}`;
    switch (route) {
      case 'POST /admin/rotate': {
        const next = await this.newKeys();
        this.previous = [...this.current.values(), ...this.previous];
        this.current = next;
        this.buildProvider();
        log('rotated keys; current', this.kids.join(','), 'previous', this.previousKids.join(','));
        return sendJson(res, 200, { kids: this.kids, previous: this.previousKids });
      }
      case 'POST /admin/drop-old-keys': {
        const dropped = this.previousKids;
        this.previous = [];
        this.buildProvider();
        log('dropped old keys', dropped.join(','));
        return sendJson(res, 200, { kids: this.kids, dropped });
      }
      case 'POST /admin/disable-account':
      case 'POST /admin/enable-account': {
        const sub = new URL(req.url, this.issuer).searchParams.get('sub');
        if (!sub) return sendJson(res, 400, { error: 'invalid_request', error_description: 'sub is required' });
        if (!Object.hasOwn(ACCOUNTS, sub)) return sendJson(res, 404, { error: 'unknown_account', sub });
        if (path === '/admin/disable-account') this.disabled.add(sub);
        else this.disabled.delete(sub);
        log(path === '/admin/disable-account' ? 'disabled account' : 'enabled account', sub);
        return sendJson(res, 200, { sub, disabled: this.disabled.has(sub), disabled_accounts: [...this.disabled] });
      }
      case 'GET /admin/keys':
        return sendJson(res, 200, {
          kids: this.kids,
          previous: this.previousKids,
          current: Object.fromEntries([...this.current].map(([alg, k]) => [alg, k.kid])),
        });
      case 'GET /admin/token': {
        const q = new URL(req.url, this.issuer).searchParams;
        const form = new URLSearchParams({ grant_type: 'client_credentials' });
        for (const [k, v] of q) if (['scope', 'resource', 'alg', 'ttl'].includes(k)) form.append(k, v);
        const r = await fetch(`${this.issuer}/token`, {
          method: 'POST',
          headers: {
            authorization: basicAuth(CLIENT_ID, this.clientSecret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: form,
        });
        const text = await r.text();
        res.writeHead(r.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(text);
        return undefined;
      }
      default:
        if (['/admin/rotate', '/admin/drop-old-keys', '/admin/keys', '/admin/token',
          '/admin/disable-account', '/admin/enable-account'].includes(path)) {
          return sendJson(res, 405, { error: 'method_not_allowed' });
        }
        return sendJson(res, 404, { error: 'not_found' });
    }
  }

  readyInfo() {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks`,
      token_endpoint: `${this.issuer}/token`,
      authorization_endpoint: `${this.issuer}/auth`,
      userinfo_endpoint: `${this.issuer}/me`,
      introspection_endpoint: `${this.issuer}/token/introspection`,
      revocation_endpoint: `${this.issuer}/token/revocation`,
      discovery: `${this.issuer}/.well-known/openid-configuration`,
      clients: {
        service: { client_id: CLIENT_ID, client_secret: this.clientSecret },
        other: { client_id: OTHER_CLIENT_ID, client_secret: this.otherSecret },
        gateway: { client_id: GATEWAY_CLIENT_ID, client_secret: this.gatewaySecret },
      },
      rp: this.opts.rpClient === null ? null : {
        client_id: this.opts.rpClient,
        client_secret: this.rpSecret,
        redirect_uris: this.opts.rpRedirects,
      },
      accounts: Object.keys(ACCOUNTS),
      admin: `${this.issuer}/admin`,
      resources: this.opts.resources,
      opaque_resources: this.opts.opaqueResources,
      algs: this.opts.algs,
      scopes: SCOPES,
      kids: Object.fromEntries([...this.current].map(([alg, k]) => [alg, k.kid])),
    };
  }
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(data);
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function sendHtml(res, status, title, body) {
  const data = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(data);
}

async function readForm(req) {
  let data = '';
  for await (const chunk of req) {
    data += chunk;
    if (data.length > 65536) throw new Error('request body too large');
  }
  return new URLSearchParams(data);
}

// RFC 6749 2.3.1: form-urlencode id and secret before base64.
function basicAuth(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function serve(opts) {
  const idp = new Idp(opts);
  await idp.listen();
  const stop = (sig) => {
    log(`${sig}: shutting down`);
    idp.server.closeAllConnections?.();
    idp.server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (opts.watchStdin) {
    process.stdin.on('end', () => stop('stdin EOF'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }
  log(`listening on ${idp.issuer}; resources ${opts.resources.join(' ')}; opaque resources ${opts.opaqueResources.join(' ')}; algs ${opts.algs.join(' ')}`
    + `${opts.rpClient === null ? '' : `; rp client ${opts.rpClient} redirect ${opts.rpRedirects.join(' ')}`}`);
  process.stdout.write(`${JSON.stringify(idp.readyInfo())}\n`);
}

// ------------------------------------------------------------------------------ self-test

// A user agent for the self-test: runs the authorization code flow (PKCE S256) the way a
// browser would: cookies kept, redirects followed by hand, the first <form> of each HTML page
// filled in (login, password, the first submit button) and posted, until the IdP redirects to
// the redirect URI. Returns { code, state, iss, error, error_description, verifier, nonce,
// hops, location } or { status, html } when a page has no form.
async function authorize(info, {
  clientId, redirectUri, login = 'alice', scope = 'openid email profile groups offline_access',
  pkce = true, decision = 'approve', extra = {}, jar = new Map(),
}) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const q = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope, state, nonce, ...extra,
  });
  if (pkce) {
    q.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    q.set('code_challenge_method', 'S256');
  }
  let url = `${info.authorization_endpoint}?${q}`;
  let init = { method: 'GET' };
  const hops = [];
  for (let hop = 0; hop < 20; hop += 1) {
    const headers = { ...(init.headers ?? {}) };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { ...init, headers, redirect: 'manual' });
    hops.push(`${init.method} ${new URL(url).pathname} ${r.status}`);
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)
        || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (gone) jar.delete(name); else jar.set(name, pair.slice(eq + 1).trim());
    }
    if (r.status >= 300 && r.status < 400) {
      await r.arrayBuffer();
      const location = new URL(r.headers.get('location'), url).href;
      if (location.startsWith(redirectUri)) {
        const p = new URL(location).searchParams;
        return {
          code: p.get('code'), state: p.get('state'), sentState: state, iss: p.get('iss'),
          error: p.get('error'), error_description: p.get('error_description'), verifier, nonce, hops, location,
        };
      }
      url = location;
      init = { method: 'GET' };
      continue;
    }
    const html = await r.text();
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
    if (r.status !== 200 || !form) return { status: r.status, html, hops };
    const attr = (tag, name) => new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1];
    const body = new URLSearchParams();
    for (const [tag] of form[2].matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(tag, 'name');
      if (!name) continue;
      if (name === 'login') body.append(name, login);
      else if (name === 'password') body.append(name, 'pw');
      else body.append(name, attr(tag, 'value') ?? '');
    }
    const buttons = [...form[2].matchAll(/<button\b[^>]*>/gi)].map(([tag]) => [attr(tag, 'name'), attr(tag, 'value')])
      .filter(([n]) => n);
    const button = buttons.find(([, v]) => v === decision) ?? buttons[0];
    if (button) body.append(button[0], button[1] ?? '');
    url = new URL(attr(form[1], 'action') ?? url, url).href;
    init = {
      method: (attr(form[1], 'method') ?? 'GET').toUpperCase(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    };
  }
  throw new Error(`authorization flow did not end after 20 hops: ${hops.join(', ')}`);
}

async function selfTest() {
  const resources = ['http://127.0.0.1:18081/mcp', 'http://127.0.0.1:18082/mcp'];
  const opaqueResources = ['http://127.0.0.1:18083/mcp', 'http://127.0.0.1:18084/mcp'];
  const algs = ['RS256', 'ES256', 'EdDSA'];
  let passed = 0;
  let failed = 0;
  const check = (cond, what, detail) => {
    if (cond) {
      passed += 1;
      console.error(`ok - ${what}`);
    } else {
      failed += 1;
      console.error(`FAIL - ${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    }
    return cond;
  };

  const args = [fileURLToPath(import.meta.url), '--port', '0'];
  for (const r of resources) args.push('--resource', r);
  for (const r of opaqueResources) args.push('--opaque-resource', r);
  for (const a of algs) args.push('--alg', a);
  const rpId = 'rp';
  const rpRedirects = ['http://127.0.0.1:18090/callback', 'http://127.0.0.1:18091/other'];
  args.push('--rp-client', rpId);
  for (const r of rpRedirects) args.push('--rp-redirect', r);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let childErr = '';
  child.stderr.on('data', (d) => { childErr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const watchdog = setTimeout(() => {
    console.error('FAIL - self-test timed out after 60 s');
    child.kill('SIGKILL');
    process.exit(1);
  }, 60_000);

  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i !== -1) resolve(buf.slice(0, i));
      });
      child.on('exit', (code) => reject(new Error(`idp exited early (${code}):\n${childErr}`)));
    });
    const info = JSON.parse(line);
    console.error(`ready line: ${line}`);
    const { issuer } = info;
    check(/^http:\/\/127\.0\.0\.1:\d+$/.test(issuer), 'issuer is http://127.0.0.1:<port>', issuer);
    check(info.jwks_uri && info.token_endpoint && info.admin
      && info.discovery === `${issuer}/.well-known/openid-configuration`, 'ready line has the endpoints', info);
    const { client_id: cid, client_secret: secret } = info.clients?.service ?? {};
    check(cid === 'service' && typeof secret === 'string' && secret.length > 20, 'ready line has the service client');
    const gw = info.clients?.gateway ?? {};
    const other = info.clients?.other ?? {};
    check(gw.client_id === 'gateway' && typeof gw.client_secret === 'string' && gw.client_secret.length > 20
      && gw.client_secret !== secret, 'ready line has the gateway client');
    check(other.client_id === 'other' && typeof other.client_secret === 'string' && other.client_secret.length > 20,
      'ready line has the other client');
    check(info.introspection_endpoint === `${issuer}/token/introspection`
      && info.revocation_endpoint === `${issuer}/token/revocation`, 'ready line has introspection and revocation endpoints', info);
    check(JSON.stringify(info.opaque_resources) === JSON.stringify(opaqueResources)
      && JSON.stringify(info.resources) === JSON.stringify(resources), 'ready line lists resources and opaque_resources', info);

    const getJson = async (url, init) => {
      const r = await fetch(url, init);
      return { status: r.status, body: await r.json() };
    };
    const token = async (params, { auth = 'basic', id = cid, sec = secret } = {}) => {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      for (const [k, v] of Object.entries(params)) {
        for (const x of [v].flat()) form.append(k, x);
      }
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      if (auth === 'basic') headers.authorization = basicAuth(id, sec);
      else { form.append('client_id', id); form.append('client_secret', sec); }
      return getJson(info.token_endpoint, { method: 'POST', headers, body: form });
    };
    const jwksNow = async () => (await getJson(info.jwks_uri)).body.keys;
    const verify = async (jwt, aud) => jose.jwtVerify(jwt, jose.createLocalJWKSet({ keys: await jwksNow() }), {
      issuer, audience: aud, typ: 'at+jwt',
    });

    // discovery + JWKS
    const disco = await getJson(info.discovery);
    check(disco.status === 200 && disco.body.issuer === issuer, 'discovery issuer matches', disco.body.issuer);
    check(disco.body.jwks_uri === info.jwks_uri, 'discovery jwks_uri matches', disco.body.jwks_uri);
    check(disco.body.token_endpoint === info.token_endpoint, 'discovery token_endpoint matches', disco.body.token_endpoint);
    check(disco.body.introspection_endpoint === info.introspection_endpoint
      && disco.body.revocation_endpoint === info.revocation_endpoint, 'discovery introspection/revocation endpoints match', disco.body);
    check(disco.body.grant_types_supported?.includes('client_credentials'), 'discovery lists client_credentials', disco.body.grant_types_supported);
    check(['client_secret_basic', 'client_secret_post'].every((m) => disco.body.token_endpoint_auth_methods_supported?.includes(m)),
      'discovery lists client_secret_basic and client_secret_post', disco.body.token_endpoint_auth_methods_supported);
    let keys = await jwksNow();
    const kids0 = Object.fromEntries(algs.map((a) => [a, keys.find((k) => k.alg === a)?.kid]));
    check(keys.length === algs.length && algs.every((a) => kids0[a]), 'JWKS has one key per alg, each with a kid', keys.map((k) => [k.alg, k.kid]));
    check(JSON.stringify(kids0) === JSON.stringify(info.kids), 'ready line kids match the JWKS', info.kids);
    check(keys.every((k) => !('d' in k) && !('p' in k) && k.use === 'sig'), 'JWKS publishes public signing keys only');

    // tokens: two resources x every alg, client_secret_basic
    const oldTokens = [];
    for (const resource of resources) {
      for (const alg of algs) {
        const r = await token({ scope: 'inventory:read inventory:write', resource, alg });
        const what = `token for ${resource} ${alg}`;
        if (!check(r.status === 200 && typeof r.body.access_token === 'string', `${what}: issued`, r.body)) continue;
        check(r.body.token_type === 'Bearer' && r.body.expires_in > 290 && r.body.expires_in <= 300
          && r.body.scope === 'inventory:read inventory:write', `${what}: token response fields`, r.body);
        const h = jose.decodeProtectedHeader(r.body.access_token);
        const p = jose.decodeJwt(r.body.access_token);
        check(h.alg === alg && h.kid === kids0[alg] && h.typ === 'at+jwt', `${what}: header alg/kid/typ`, h);
        check(p.iss === issuer && p.aud === resource && p.scope === 'inventory:read inventory:write'
          && p.client_id === cid && p.sub === cid && typeof p.jti === 'string'
          && Number.isInteger(p.iat) && p.exp - p.iat === 300, `${what}: claims`, p);
        check(JSON.stringify(p.groups) === '["data-team"]', `${what}: groups claim`, p.groups);
        try {
          await verify(r.body.access_token, resource);
          check(true, `${what}: signature verifies against the JWKS`);
        } catch (e) {
          check(false, `${what}: signature verifies against the JWKS`, String(e));
        }
        oldTokens.push({ jwt: r.body.access_token, resource, alg });
      }
    }

    // defaults, client_secret_post, all scopes
    {
      const r = await token({ scope: 'inventory:admin' });
      const p = r.status === 200 ? jose.decodeJwt(r.body.access_token) : {};
      const h = r.status === 200 ? jose.decodeProtectedHeader(r.body.access_token) : {};
      check(p.aud === resources[0] && h.alg === algs[0] && p.scope === 'inventory:admin',
        'no resource/alg: defaults to the first --resource and the first --alg', { status: r.status, body: r.body, p, h });
    }
    {
      const r = await token({ scope: 'inventory:read inventory:write inventory:admin', resource: resources[1], alg: 'ES256' }, { auth: 'post' });
      const p = r.status === 200 ? jose.decodeJwt(r.body.access_token) : {};
      check(p.aud === resources[1] && p.scope === 'inventory:read inventory:write inventory:admin',
        'client_secret_post works, all three scopes', r.body);
    }
    {
      const r = await token({ resource: resources[0] });
      const p = r.status === 200 ? jose.decodeJwt(r.body.access_token) : {};
      check(r.status === 200 && p.scope === undefined, 'no scope requested: token without scope claim', { body: r.body, p });
    }

    // errors
    {
      const r = await token({ scope: 'inventory:read' }, { sec: 'wrong' });
      check(r.status === 401 && r.body.error === 'invalid_client', 'wrong secret: 401 invalid_client', r);
    }
    {
      const r = await token({ scope: 'inventory:delete', resource: resources[0] });
      check(r.status === 400 && r.body.error === 'invalid_scope', 'unknown scope: 400 invalid_scope', r);
    }
    {
      const r = await token({ scope: 'openid inventory:read', resource: resources[0] });
      check(r.status === 400 && r.body.error === 'invalid_scope', 'scope outside the client\'s allowance (openid): 400 invalid_scope', r);
    }
    {
      const r = await token({ scope: 'inventory:read', resource: 'http://127.0.0.1:1/other' });
      check(r.status === 400 && r.body.error === 'invalid_target', 'unknown resource: 400 invalid_target', r);
    }
    {
      const r = await token({ scope: 'inventory:read', resource: resources });
      check(r.status === 400 && r.body.error === 'invalid_target', 'two resources in one request: 400 invalid_target', r);
    }
    {
      const r = await token({ scope: 'inventory:read', alg: 'HS256' });
      check(r.status === 400 && r.body.error === 'invalid_request', 'unsupported alg: 400 invalid_request', r);
    }

    // admin/token convenience
    {
      const q = new URLSearchParams({ scope: 'inventory:read', resource: resources[1], alg: 'EdDSA' });
      const r = await getJson(`${info.admin}/token?${q}`);
      const p = r.status === 200 ? jose.decodeJwt(r.body.access_token) : {};
      const h = r.status === 200 ? jose.decodeProtectedHeader(r.body.access_token) : {};
      check(p.aud === resources[1] && h.alg === 'EdDSA' && p.scope === 'inventory:read', 'GET /admin/token', r.body);
      const bad = await getJson(`${info.admin}/token?resource=${encodeURIComponent('http://x.test/')}`);
      check(bad.status === 400 && bad.body.error === 'invalid_target', 'GET /admin/token passes errors through', bad);
    }

    // opaque tokens, introspection (RFC 7662), revocation (RFC 7009)
    const form = (params) => {
      const f = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) f.append(k, v);
      return f;
    };
    const introspect = async (tok, { id = gw.client_id, sec = gw.client_secret, extra = {} } = {}) => getJson(info.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(id, sec), 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ token: tok, ...extra }),
    });
    const revoke = async (tok, { id = cid, sec = secret } = {}) => {
      const r = await fetch(info.revocation_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth(id, sec), 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ token: tok }),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    };
    const opaqueTokens = {};
    for (const resource of opaqueResources) {
      const r = await token({ scope: 'inventory:read inventory:write', resource });
      const what = `opaque token for ${resource}`;
      if (!check(r.status === 200 && typeof r.body.access_token === 'string', `${what}: issued`, r.body)) continue;
      const tok = r.body.access_token;
      opaqueTokens[resource] = tok;
      check(r.body.token_type === 'Bearer' && r.body.expires_in > 290 && r.body.expires_in <= 300
        && r.body.scope === 'inventory:read inventory:write', `${what}: token response fields`, r.body);
      check(/^[A-Za-z0-9_-]{20,}$/.test(tok) && !tok.startsWith('mcpg_'), `${what}: opaque (no dots, not a JWT)`, tok.length);
      const i = await introspect(tok);
      const b = i.body;
      check(i.status === 200 && b.active === true && b.aud === resource && b.scope === 'inventory:read inventory:write'
        && b.client_id === cid && b.sub === cid && b.iss === issuer && b.token_type === 'Bearer'
        && Number.isInteger(b.exp) && b.exp - b.iat === 300 && b.exp > Date.now() / 1000,
      `${what}: gateway introspects it: active, aud, scope, client_id, sub, iss, exp, token_type`, i);
      check(!JSON.stringify(b).includes(tok), `${what}: introspection response does not echo the token`, b);
      const own = await introspect(tok, { id: cid, sec: secret });
      check(own.body.active === true && own.body.aud === resource, `${what}: its own client may introspect it`, own);
      const o = await introspect(tok, { id: other.client_id, sec: other.client_secret });
      check(o.status === 200 && JSON.stringify(o.body) === '{"active":false}', `${what}: another client (other) may not introspect it`, o);
    }
    {
      const r = await token({ scope: 'inventory:read', resource: opaqueResources[0] }, { id: other.client_id, sec: other.client_secret });
      const i = r.status === 200 ? await introspect(r.body.access_token) : {};
      check(i.body?.active === true && i.body.client_id === 'other' && i.body.sub === 'other' && i.body.scope === 'inventory:read',
        'opaque token of client other: gateway introspects it (sub/client_id other)', { r, i });
      const s2 = r.status === 200 ? await introspect(r.body.access_token, { id: cid, sec: secret }) : {};
      check(JSON.stringify(s2.body) === '{"active":false}', 'service may not introspect other\'s token', s2);
    }
    {
      const r = await token({ resource: opaqueResources[1] });
      const i = r.status === 200 ? await introspect(r.body.access_token) : {};
      check(i.body?.active === true && i.body.scope === undefined, 'opaque token without scope: introspection has no scope', i);
    }
    {
      const r = await token({ scope: 'inventory:read', resource: resources[0] });
      const i = r.status === 200 ? await introspect(r.body.access_token) : {};
      check(i.status === 400 && i.body.error === 'unsupported_token_type', 'a JWT token cannot be introspected: 400 unsupported_token_type', i);
    }
    {
      const i = await introspect(randomBytes(32).toString('base64url'));
      check(i.status === 200 && JSON.stringify(i.body) === '{"active":false}', 'unknown token: {"active":false}', i);
      const bad = await introspect(opaqueTokens[opaqueResources[0]], { sec: 'wrong' });
      check(bad.status === 401 && bad.body.error === 'invalid_client', 'gateway with a wrong secret: 401 invalid_client', bad);
      const tokForGw = await token({ scope: 'inventory:read', resource: opaqueResources[0] }, { id: gw.client_id, sec: gw.client_secret });
      check(tokForGw.status >= 400 && tokForGw.body.error, 'gateway cannot get tokens itself', tokForGw);
    }
    {
      // revocation
      const r = await token({ scope: 'inventory:read', resource: opaqueResources[0] });
      const tok = r.body.access_token;
      const before = await introspect(tok);
      check(before.body.active === true, 'to-be-revoked token is active');
      const byGw = await revoke(tok, { id: gw.client_id, sec: gw.client_secret });
      check(byGw.status === 400 && byGw.body?.error === 'invalid_request', 'gateway may not revoke service\'s token: 400', byGw);
      check((await introspect(tok)).body.active === true, 'still active after the refused revocation');
      const rv = await revoke(tok);
      check(rv.status === 200, 'service revokes its token: 200', rv);
      const after = await introspect(tok);
      check(after.status === 200 && JSON.stringify(after.body) === '{"active":false}', 'revoked token: {"active":false}', after);
      const again = await revoke(tok);
      check(again.status === 200, 'revoking again (unknown token): 200', again);
      const jwtTok = await token({ scope: 'inventory:read', resource: resources[0] });
      const rj = await revoke(jwtTok.body.access_token);
      check(rj.status === 400 && rj.body?.error === 'unsupported_token_type', 'a JWT token cannot be revoked: 400 unsupported_token_type', rj);
    }
    {
      // ttl + expiry
      const r = await token({ scope: 'inventory:read', resource: opaqueResources[0], ttl: '1' });
      check(r.status === 200 && r.body.expires_in === 1, 'ttl=1: expires_in 1', r.body);
      const i = await introspect(r.body.access_token);
      check(i.body.active === true && i.body.exp - i.body.iat === 1, 'ttl=1 token: active, exp = iat + 1', i.body);
      const q = new URLSearchParams({ scope: 'inventory:read', resource: resources[0], ttl: '2' });
      const viaAdmin = await getJson(`${info.admin}/token?${q}`);
      const p = viaAdmin.status === 200 ? jose.decodeJwt(viaAdmin.body.access_token) : {};
      check(p.exp - p.iat === 2, 'ttl=2 through /admin/token: JWT exp = iat + 2', viaAdmin.body);
      for (const bad of ['0', '301', 'x']) {
        const b = await token({ resource: opaqueResources[0], ttl: bad });
        check(b.status === 400 && b.body.error === 'invalid_request', `ttl=${bad}: 400 invalid_request`, b);
      }
      await new Promise((res) => { setTimeout(res, 2100); });
      const later = await introspect(r.body.access_token);
      check(later.status === 200 && JSON.stringify(later.body) === '{"active":false}', 'expired token: {"active":false}', later);
    }

    // the relying party: authorization code + PKCE through the login and consent forms,
    // ID token claims, userinfo, refresh token rotation, disabled accounts
    const rp = info.rp ?? {};
    let bobRefresh;
    {
      check(rp.client_id === rpId && typeof rp.client_secret === 'string' && rp.client_secret.length > 20
        && JSON.stringify(rp.redirect_uris) === JSON.stringify(rpRedirects), 'ready line has the rp client', rp);
      check(info.authorization_endpoint === `${issuer}/auth` && info.userinfo_endpoint === `${issuer}/me`
        && disco.body.authorization_endpoint === info.authorization_endpoint
        && disco.body.userinfo_endpoint === info.userinfo_endpoint, 'ready line and discovery: authorization and userinfo endpoints', info);
      check(['email', 'profile', 'groups', 'offline_access'].every((x) => disco.body.scopes_supported?.includes(x))
        && disco.body.claims_supported?.includes('groups') && disco.body.grant_types_supported?.includes('refresh_token')
        && disco.body.code_challenge_methods_supported?.includes('S256')
        && disco.body.authorization_response_iss_parameter_supported === true,
      'discovery: rp scopes, groups claim, refresh_token, S256, iss parameter', disco.body);
      const rpForm = (params) => new URLSearchParams(params);
      const rpToken = async (params, { id = rp.client_id, sec = rp.client_secret } = {}) => getJson(info.token_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth(id, sec), 'content-type': 'application/x-www-form-urlencoded' },
        body: rpForm(params),
      });
      const idTokenClaims = async (jwt, nonce) => {
        const { payload, protectedHeader } = await jose.jwtVerify(jwt, jose.createLocalJWKSet({ keys: await jwksNow() }), {
          issuer, audience: rp.client_id,
        });
        if (nonce !== undefined && payload.nonce !== nonce) throw new Error(`nonce ${payload.nonce} != ${nonce}`);
        return { payload, protectedHeader };
      };
      const exchange = async (a, redirectUri = rpRedirects[0]) => rpToken({
        grant_type: 'authorization_code', code: a.code, redirect_uri: redirectUri, code_verifier: a.verifier,
      });
      const refresh = async (rt) => rpToken({ grant_type: 'refresh_token', refresh_token: rt });
      const admin = async (what, sub) => getJson(`${info.admin}/${what}?sub=${encodeURIComponent(sub)}`, { method: 'POST' });

      const a = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0] });
      check(a.code && a.state === a.sentState && a.iss === issuer && !a.error,
        'alice: login form + consent form -> redirect with code, state and iss', a);
      check(/^GET \/auth 303,GET \/interaction\/[\w-]+ 200,POST \/interaction\/[\w-]+ 303,GET \/auth\/[\w-]+ 303,GET \/interaction\/[\w-]+ 200,POST \/interaction\/[\w-]+ 303,GET \/auth\/[\w-]+ 303$/
        .test(a.hops?.join(',')), 'alice: auth -> login page -> post -> resume -> consent page -> post -> resume -> redirect_uri', a.hops);
      const t = await exchange(a);
      const tb = t.body;
      check(t.status === 200 && typeof tb.access_token === 'string' && typeof tb.refresh_token === 'string'
        && typeof tb.id_token === 'string' && tb.token_type === 'Bearer'
        && tb.scope?.split(' ').sort().join(' ') === 'email groups offline_access openid profile',
      'alice: code exchange (client_secret_basic, PKCE verifier): access, refresh and ID tokens, all scopes', t);
      try {
        const { payload, protectedHeader } = await idTokenClaims(tb.id_token, a.nonce);
        check(protectedHeader.alg === 'RS256' && protectedHeader.kid === info.kids.RS256, 'alice: ID token is RS256 with the current kid', protectedHeader);
        check(payload.sub === 'alice' && payload.email === 'alice@example.test' && payload.email_verified === true
          && payload.name === 'Alice' && JSON.stringify(payload.groups) === '["engineering","inventory-writers"]',
        'alice: ID token carries sub, email, email_verified, name, groups', payload);
      } catch (e) {
        check(false, 'alice: ID token verifies', String(e));
      }
      const ui = await getJson(info.userinfo_endpoint, { headers: { authorization: `Bearer ${tb.access_token}` } });
      check(ui.status === 200 && ui.body.sub === 'alice' && JSON.stringify(ui.body.groups) === '["engineering","inventory-writers"]'
        && ui.body.email === 'alice@example.test', 'alice: userinfo', ui);

      const r1 = await refresh(tb.refresh_token);
      check(r1.status === 200 && typeof r1.body.access_token === 'string' && typeof r1.body.refresh_token === 'string'
        && r1.body.refresh_token !== tb.refresh_token && typeof r1.body.id_token === 'string',
      'alice: refresh_token grant: new access token, rotated refresh token, ID token', r1);
      if (r1.status === 200) {
        try {
          const { payload } = await idTokenClaims(r1.body.id_token);
          check(payload.sub === 'alice' && JSON.stringify(payload.groups) === '["engineering","inventory-writers"]',
            'alice: refreshed ID token carries groups', payload);
        } catch (e) {
          check(false, 'alice: refreshed ID token verifies', String(e));
        }
      }
      const rt = r1.body.refresh_token;
      const dis = await admin('disable-account', 'alice');
      check(dis.status === 200 && dis.body.sub === 'alice' && dis.body.disabled === true, 'POST /admin/disable-account?sub=alice', dis);
      const r2 = await refresh(rt);
      check(r2.status === 400 && r2.body.error === 'invalid_grant', 'disabled alice: refresh_token grant fails 400 invalid_grant', r2);
      await new Promise((res) => { setTimeout(res, 50); });
      check(childErr.includes('refresh token invalid (referenced account not found)'),
        'the refresh failed in findAccount (error_detail: referenced account not found)');
      const uiDis = await getJson(info.userinfo_endpoint, { headers: { authorization: `Bearer ${r1.body.access_token}` } });
      check(uiDis.status === 401 && uiDis.body.error === 'invalid_token', 'disabled alice: userinfo 401 invalid_token', uiDis);
      const aDis = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0] });
      check(aDis.error === 'access_denied' && !aDis.code && aDis.iss === issuer, 'disabled alice: login refused -> redirect with error=access_denied', aDis);
      const en = await admin('enable-account', 'alice');
      check(en.status === 200 && en.body.disabled === false, 'POST /admin/enable-account?sub=alice', en);
      const r3 = await refresh(rt);
      check(r3.status === 200 && r3.body.refresh_token !== rt, 'enabled again: the same refresh token works (the failure did not consume it)', r3);
      const reuse = await refresh(tb.refresh_token);
      check(reuse.status === 400 && reuse.body.error === 'invalid_grant', 'reusing a rotated refresh token: 400 invalid_grant', reuse);
      const afterReuse = await refresh(r3.body.refresh_token);
      check(afterReuse.status === 400 && afterReuse.body.error === 'invalid_grant', 'after reuse the whole grant is revoked', afterReuse);
      {
        const c = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0] });
        const first = await exchange(c);
        const second = await exchange(c);
        check(first.status === 200 && second.status === 400 && second.body.error === 'invalid_grant', 'code used twice: 400 invalid_grant', second);
        const rtAfter = await refresh(first.body.refresh_token);
        check(rtAfter.status === 400 && rtAfter.body.error === 'invalid_grant', 'code used twice: the grant is revoked (its refresh token fails)', rtAfter);
      }
      {
        // one browser (cookie jar): single sign-on, then the account is disabled mid-session
        const jar = new Map();
        const first = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], jar });
        const sso = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], jar, scope: 'openid groups' });
        check(first.code && sso.code && sso.hops.length === 1, 'same browser, granted scopes: no login or consent page again', sso.hops);
        await admin('disable-account', 'alice');
        const gone = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], jar, scope: 'openid groups' });
        check(gone.error === 'access_denied' && gone.hops.some((h) => /^GET \/interaction\/\S+ 200$/.test(h)),
          'same browser, account disabled: login page again, login refused -> access_denied', gone);
        const none = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], jar, scope: 'openid', extra: { prompt: 'none' } });
        check(none.error === 'login_required', 'same browser, account disabled, prompt=none: login_required', none);
        await admin('enable-account', 'alice');
      }
      const unknownSub = await admin('disable-account', 'mallory');
      check(unknownSub.status === 404, 'disable-account for an unknown sub: 404', unknownSub);

      const b = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[1], login: 'bob' });
      const bt = b.code ? await exchange(b, rpRedirects[1]) : {};
      let bobClaims = {};
      try { bobClaims = (await idTokenClaims(bt.body.id_token, b.nonce)).payload; } catch (e) { bobClaims = { error: String(e) }; }
      check(bt.status === 200 && bobClaims.sub === 'bob' && JSON.stringify(bobClaims.groups) === '["sales"]'
        && bobClaims.email === 'bob@example.test' && bobClaims.name === 'Bob', 'bob (second redirect URI): ID token claims', { b, bobClaims });
      bobRefresh = bt.body?.refresh_token;
      const noOffline = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], scope: 'openid groups' });
      const nt = noOffline.code ? await exchange(noOffline) : {};
      check(nt.status === 200 && nt.body.refresh_token === undefined && nt.body.scope === 'openid groups',
        'without offline_access: no refresh token', nt);
      const explicit = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], extra: { prompt: 'consent' } });
      const et = explicit.code ? await exchange(explicit) : {};
      check(et.status === 200 && typeof et.body.refresh_token === 'string', 'offline_access with an explicit prompt=consent: refresh token', et);
      const mallory = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], login: 'mallory' });
      check(mallory.error === 'access_denied' && !mallory.code, 'unknown login name: access_denied', mallory);
      const denied = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], decision: 'deny' });
      check(denied.error === 'access_denied' && !denied.code, 'consent denied: access_denied', denied);
      const noPkce = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0], pkce: false });
      check(noPkce.error === 'invalid_request' && /PKCE/.test(noPkce.error_description ?? ''), 'no PKCE: invalid_request', noPkce);
      const plain = await authorize(info, {
        clientId: rp.client_id, redirectUri: rpRedirects[0], pkce: false, extra: { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' },
      });
      check(plain.error === 'invalid_request', 'PKCE method plain: invalid_request', plain);
      const badVerifier = await authorize(info, { clientId: rp.client_id, redirectUri: rpRedirects[0] });
      const bv = await exchange({ ...badVerifier, verifier: randomBytes(32).toString('base64url') });
      check(bv.status === 400 && bv.body.error === 'invalid_grant', 'wrong code_verifier: 400 invalid_grant', bv);
      const badRedirect = await authorize(info, { clientId: rp.client_id, redirectUri: 'http://127.0.0.1:18099/evil' });
      check(badRedirect.status === 400 && !badRedirect.code, 'unregistered redirect_uri: 400 error page, no redirect', { status: badRedirect.status, hops: badRedirect.hops });
      const wrongSecret = await rpToken({ grant_type: 'refresh_token', refresh_token: bobRefresh ?? 'x' }, { sec: 'wrong' });
      check(wrongSecret.status === 401 && wrongSecret.body.error === 'invalid_client', 'rp with a wrong secret: 401 invalid_client', wrongSecret);
      const ccForRp = await rpToken({ grant_type: 'client_credentials' });
      check(ccForRp.status === 400 && typeof ccForRp.body.error === 'string' && !ccForRp.body.access_token,
        'rp may not use client_credentials', ccForRp);
      const svcCode = await authorize(info, { clientId: cid, redirectUri: rpRedirects[0] });
      check(svcCode.status === 400 && !svcCode.code, 'service cannot use the authorization endpoint', { status: svcCode.status, hops: svcCode.hops });
      // the refresh path after a rotation is checked below with bobRefresh
    }

    // rotation
    const rot = await getJson(`${info.admin}/rotate`, { method: 'POST' });
    check(rot.status === 200 && rot.body.kids.length === algs.length
      && JSON.stringify([...rot.body.previous].sort()) === JSON.stringify(Object.values(kids0).sort())
      && rot.body.kids.every((k) => !Object.values(kids0).includes(k)), 'POST /admin/rotate: new kids, old ones previous', rot.body);
    keys = await jwksNow();
    const kidsNow = new Set(keys.map((k) => k.kid));
    check(keys.length === 2 * algs.length && [...rot.body.kids, ...rot.body.previous].every((k) => kidsNow.has(k)),
      'JWKS after rotate has old and new kids', [...kidsNow]);
    const disco2 = await getJson(info.discovery);
    check(disco2.body.issuer === issuer && disco2.body.token_endpoint === info.token_endpoint, 'issuer and port unchanged after rotate');
    for (const alg of algs) {
      const r = await token({ scope: 'inventory:read', resource: resources[1], alg });
      const h = r.status === 200 ? jose.decodeProtectedHeader(r.body.access_token) : {};
      check(h.alg === alg && rot.body.kids.includes(h.kid) && !Object.values(kids0).includes(h.kid), `after rotate: ${alg} token carries the new kid`, { h, body: r.body });
      if (r.status === 200) {
        try { await verify(r.body.access_token, resources[1]); check(true, `after rotate: new ${alg} token verifies`); } catch (e) { check(false, `after rotate: new ${alg} token verifies`, String(e)); }
      }
    }
    {
      const tok = opaqueTokens[opaqueResources[0]];
      const i = tok ? await introspect(tok) : {};
      check(i.body?.active === true, 'after rotate: opaque tokens issued earlier still introspect active', i);
    }
    {
      const r = await getJson(info.token_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth(info.rp.client_id, info.rp.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: bobRefresh ?? 'x' }),
      });
      const h = r.status === 200 ? jose.decodeProtectedHeader(r.body.id_token) : {};
      check(r.status === 200 && h.alg === 'RS256' && rot.body.kids.includes(h.kid),
        'after rotate: bob\'s refresh token still works; the new ID token has the new RS256 kid', { r, h });
    }
    for (const t of oldTokens.slice(0, algs.length)) {
      try { await verify(t.jwt, t.resource); check(true, `after rotate: old ${t.alg} token still verifies`); } catch (e) { check(false, `after rotate: old ${t.alg} token still verifies`, String(e)); }
    }

    // drop old keys
    const drop = await getJson(`${info.admin}/drop-old-keys`, { method: 'POST' });
    check(drop.status === 200 && JSON.stringify(drop.body.kids) === JSON.stringify(rot.body.kids)
      && drop.body.dropped.length === algs.length, 'POST /admin/drop-old-keys', drop.body);
    keys = await jwksNow();
    check(keys.length === algs.length && keys.every((k) => rot.body.kids.includes(k.kid)), 'JWKS after drop has only the current kids', keys.map((k) => k.kid));
    try {
      await verify(oldTokens[0].jwt, oldTokens[0].resource);
      check(false, 'after drop: old token no longer verifies');
    } catch (e) {
      check(e.code === 'ERR_JWKS_NO_MATCHING_KEY', 'after drop: old token no longer verifies (no matching key)', e.code);
    }
    {
      const r = await token({ scope: 'inventory:write', resource: resources[0], alg: 'ES256' });
      try { await verify(r.body.access_token, resources[0]); check(true, 'after drop: new tokens still issued and verify'); } catch (e) { check(false, 'after drop: new tokens still issued and verify', String(e)); }
    }
    {
      const r = await fetch(`${info.admin}/rotate`);
      check(r.status === 405, 'GET /admin/rotate: 405');
    }
  } catch (e) {
    check(false, 'self-test ran to the end', e?.stack || String(e));
  }

  child.kill('SIGTERM');
  const { code, signal } = await exited;
  check(code === 0, 'SIGTERM: idp exits 0', { code, signal });

  // an instance without an RSA key (oidc-provider's client defaults assume RS256)
  {
    const c2 = spawn(process.execPath, [fileURLToPath(import.meta.url), '--resource', resources[0], '--alg', 'ES256'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let err2 = '';
    c2.stderr.on('data', (d) => { err2 += d; });
    const exited2 = new Promise((resolve) => c2.on('exit', (c) => resolve(c)));
    try {
      const line = await new Promise((resolve, reject) => {
        let buf = '';
        c2.stdout.on('data', (d) => {
          buf += d;
          const i = buf.indexOf('\n');
          if (i !== -1) resolve(buf.slice(0, i));
        });
        c2.on('exit', (c) => reject(new Error(`idp exited early (${c}):\n${err2}`)));
      });
      const info = JSON.parse(line);
      const r = await fetch(`${info.admin}/token?scope=inventory:read`);
      const body = await r.json();
      const h = r.status === 200 ? jose.decodeProtectedHeader(body.access_token) : {};
      check(h.alg === 'ES256' && h.kid === info.kids.ES256, '--alg ES256 only: tokens are ES256', body);
    } catch (e) {
      check(false, '--alg ES256 only: starts and issues tokens', e?.stack || String(e));
    }
    c2.kill('SIGINT');
    check((await exited2) === 0, 'SIGINT: idp exits 0');
  }

  // only a relying party (no --resource) and no RSA key asked for: RS256 is added for ID tokens
  {
    const redirect = 'http://127.0.0.1:18092/cb';
    const c3 = spawn(process.execPath, [fileURLToPath(import.meta.url), '--rp-client', 'mcpgate', '--rp-redirect', redirect, '--alg', 'ES256'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let err3 = '';
    c3.stderr.on('data', (d) => { err3 += d; });
    const exited3 = new Promise((resolve) => c3.on('exit', (c) => resolve(c)));
    try {
      const line = await new Promise((resolve, reject) => {
        let buf = '';
        c3.stdout.on('data', (d) => {
          buf += d;
          const i = buf.indexOf('\n');
          if (i !== -1) resolve(buf.slice(0, i));
        });
        c3.on('exit', (c) => reject(new Error(`idp exited early (${c}):\n${err3}`)));
      });
      const info = JSON.parse(line);
      check(JSON.stringify(info.algs) === '["ES256","RS256"]' && info.kids.RS256 && info.rp?.client_id === 'mcpgate'
        && info.resources.length === 0, '--rp-client without --resource, --alg ES256: starts, RS256 added', info);
      const a = await authorize(info, { clientId: 'mcpgate', redirectUri: redirect, login: 'bob' });
      const t = a.code ? await fetch(info.token_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth('mcpgate', info.rp.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: a.code, redirect_uri: redirect, code_verifier: a.verifier }),
      }).then((r) => r.json()) : {};
      const h = t.id_token ? jose.decodeProtectedHeader(t.id_token) : {};
      const p = t.id_token ? jose.decodeJwt(t.id_token) : {};
      check(h.alg === 'RS256' && h.kid === info.kids.RS256 && p.sub === 'bob' && typeof t.refresh_token === 'string',
        '--rp-client only: bob logs in, RS256 ID token, refresh token', { a, t, h });
    } catch (e) {
      check(false, '--rp-client only: starts and logs in', e?.stack || String(e));
    }
    c3.kill('SIGTERM');
    check((await exited3) === 0, '--rp-client only: SIGTERM exits 0');
  }

  // usage errors
  for (const [argv, what] of [
    [['--rp-client', 'x'], '--rp-client without --rp-redirect'],
    [['--rp-redirect', 'http://127.0.0.1:1/cb'], '--rp-redirect without --rp-client'],
    [['--rp-client', 'service', '--rp-redirect', 'http://127.0.0.1:1/cb'], '--rp-client clashing with a built-in client'],
    [['--rp-client', 'x', '--rp-redirect', 'http://127.0.0.1:1/cb#f'], '--rp-redirect with a fragment'],
    [['--port', '0'], 'no --resource, --opaque-resource or --rp-client'],
  ]) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv], { encoding: 'utf8', timeout: 10_000 });
    check(r.status === 2 && r.stdout === '', `usage error: ${what}: exit 2`, { status: r.status, stderr: r.stderr.split('\n')[0] });
  }
  clearTimeout(watchdog);
  if (failed) console.error(`--- idp stderr ---\n${childErr}`);
  process.stdout.write(`idp self-test: ${passed} passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
}

// ------------------------------------------------------------------------------ main

let opts;
try {
  opts = parseCli(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  const head = fileURLToPath(import.meta.url);
  const usage = (await import('node:fs')).readFileSync(head, 'utf8').split('\n')
    .slice(1).filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n').split('\nWhen ready')[0];
  if (e.message === 'help') {
    process.stderr.write(`${usage}\n`);
    process.exit(0);
  }
  process.stderr.write(`idp: ${e.message}\n\n${usage}\n`);
  process.exit(2);
}

// oidc-provider prints its NOTICEs with console.info (stdout). Stdout is reserved for the
// single ready line, so route every console method to stderr before loading it.
for (const m of ['log', 'info', 'debug']) console[m] = console.error;
({ default: Provider, errors, interactionPolicy: oidcInteractionPolicy } = await import('oidc-provider'));
// not a documented export, but the package has no "exports" map: the stock in-memory adapter
({ createMemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js'));
jose = await import('jose');

if (opts.selfTest) {
  await selfTest();
} else {
  try {
    await serve(opts);
  } catch (e) {
    log('startup failed:', e?.stack || e);
    process.exit(1);
  }
}
