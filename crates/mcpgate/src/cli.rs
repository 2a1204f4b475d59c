//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mcpgate: an MCP gateway that gives AI agents' tools real authentication,
/// authorization and an audit log.
///
/// It turns the operations of an OpenAPI spec into MCP tools and serves them
/// over stdio or Streamable HTTP, calling the REST API with the backend's own
/// credential — never the caller's.
#[derive(Debug, Parser)]
#[command(
    name = "mcpgate",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log verbosity (overridden by RUST_LOG). Logs always go to stderr.
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the configured backends as MCP tools (Streamable HTTP, or stdio).
    Serve(ServeArgs),
    /// Show the tools and security schemes an OpenAPI spec would give.
    Import(ImportArgs),
    /// Check a config file: parse it, load its specs, report warnings.
    Check(CheckArgs),
    /// Run the demo: an example REST API behind mcpgate, on this machine.
    Demo(DemoArgs),
    /// Create or upgrade the store's tables (serve also does this at start).
    Migrate(StoreArgs),
    /// Read, export and verify the audit log.
    Audit(AuditArgs),
    /// Create, list, revoke and rotate API keys.
    Keys(KeysArgs),
    /// List and revoke what the embedded authorization server granted.
    Tokens(TokensArgs),
    /// List and revoke the embedded authorization server's clients.
    Clients(ClientsArgs),
    /// Ask the authorization policy: why may (or may not) this caller call that tool?
    Authz(AuthzArgs),
    /// Recommend an authentication strategy for your deployment and write a config for it.
    Init(InitArgs),
    /// Check a config (and its specs, keys and neighbouring files) for security problems.
    Doctor(DoctorArgs),
}

/// `mcpgate init`: the answers it asks for can all be given as flags, for
/// scripts; in a terminal it asks for the ones missing.
#[derive(Debug, Args)]
#[command(
    after_help = "What it recommends (first match wins; docs/CHOOSING-A-STRATEGY.md):\n  \
    local + one person                          stdio, no authentication\n  \
    compliance needs certificates               mutual TLS\n  \
    customers, or on behalf of users, + IdP     OAuth (your IdP as authorization server)\n  \
    a team + IdP                                JWT from your IdP\n  \
    services + IdP + more than 10 clients       JWT (client-credentials tokens)\n  \
    otherwise                                   API keys (one per client or person)\n\n\
    The config has read-only mode on, scopes from the spec (or rules that give every tool\n\
    read:BACKEND / write:BACKEND), and secrets only as env: references.\n\n\
    Examples:\n  \
    mcpgate init --spec openapi.yaml\n  \
    mcpgate init --spec openapi.yaml --runs remote --users team --on-behalf-of-users no \\\n      \
    --idp none --certificates no --clients 5 --output deploy/mcpgate.toml"
)]
pub struct InitArgs {
    /// The OpenAPI spec of the API to put behind mcpgate, a file or an
    /// http(s) URL: its scopes, servers and security schemes fill in the
    /// config. Asked for in a terminal; without it a placeholder is written.
    #[arg(long, value_name = "FILE|URL")]
    pub spec: Option<String>,
    /// Where the API runs (`backends.NAME.base_url`); by default the spec's
    /// first absolute server URL.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The backend's name in the config; by default derived from the spec's title.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// Where to write the config.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Never ask: every answer must come from a flag (the default when stdin is not a terminal).
    #[arg(long)]
    pub no_input: bool,
    /// Where the gateway runs: `local` (this machine, for its user) or `remote` (a server).
    #[arg(long, value_name = "local|remote")]
    pub runs: Option<String>,
    /// Who uses it: `one` person, a `team`, `services` (machines only) or `customers`.
    #[arg(long, value_name = "WHO")]
    pub users: Option<String>,
    /// Whether calls act on behalf of individual users (`yes`/`no`).
    #[arg(long, value_name = "yes|no")]
    pub on_behalf_of_users: Option<String>,
    /// The identity provider's issuer URL, if you have one (`none` if not).
    #[arg(long, value_name = "URL|none")]
    pub idp: Option<String>,
    /// Whether compliance requires certificate (mutual TLS) authentication (`yes`/`no`).
    #[arg(long, value_name = "yes|no")]
    pub certificates: Option<String>,
    /// Roughly how many client applications or agents will call it.
    #[arg(long, value_name = "N")]
    pub clients: Option<u32>,
    /// `server.listen`; by default 127.0.0.1:8080 on a local machine,
    /// 0.0.0.0:8080 on a server (0.0.0.0:8443 with mutual TLS).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// `server.public_url`: the URL clients use for the MCP endpoint
    /// (tokens must be issued for it).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

/// `mcpgate doctor`: inline secrets, open binds, plain HTTP, writes reachable
/// with read scopes or API keys, broad grants, old or endless keys, specs
/// without security, a weakened audit log — each with where and the fix.
#[derive(Debug, Args)]
#[command(
    after_help = "Every check, its severity and its fix: docs/DOCTOR.md.\n\n\
    Examples:\n  \
    mcpgate doctor --config mcpgate.toml\n  \
    mcpgate doctor --config mcpgate.toml --json --fail-on medium > doctor.json\n\n\
    Exit status: 0 when no finding is at or above --fail-on, 1 otherwise (and on errors)."
)]
pub struct DoctorArgs {
    /// The config file.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// The lowest severity that makes the exit status non-zero.
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// Print the findings as JSON (for CI).
    #[arg(long)]
    pub json: bool,
    /// API keys created longer ago than this are reported as due for rotation
    /// (`30d`, `90d`, `12h`).
    #[arg(long, default_value = "90d", value_name = "DURATION")]
    pub rotation_period: String,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Low,
    /// Should be fixed soon.
    Medium,
    /// Fix before going to production.
    High,
    /// Anyone can get in, or secrets are exposed.
    Critical,
}

/// `mcpgate authz`.
#[derive(Debug, Args)]
pub struct AuthzArgs {
    /// The config file whose [authz] section, policies and backends are asked.
    #[arg(
        long,
        short,
        global = true,
        default_value = "mcpgate.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: AuthzCommand,
}

/// The authz subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthzCommand {
    /// Decide one call and print every rule that led to the decision.
    ///
    /// Exit status: 0 allowed, 3 denied, 1 on errors.
    #[command(after_help = "Examples:\n  \
        mcpgate authz explain --as key_3f9a1c --tool delete_item\n  \
        mcpgate authz explain --as alice --group data-team --tool update_record --args '{\"team\":\"blue\"}'\n  \
        mcpgate authz explain --as \"$TOKEN\" --tool restock_item --time 2026-11-28T22:00:00Z")]
    Explain {
        /// Who asks.
        #[command(flatten)]
        caller: CallerArgs,
        /// The tool.
        #[arg(long, value_name = "NAME")]
        tool: String,
        /// The call's arguments, as a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
        /// When the call happens (RFC 3339); now by default.
        #[arg(long, value_name = "TIME")]
        time: Option<String>,
        /// The caller's IP address, for policies that look at it.
        #[arg(long, value_name = "IP")]
        source: Option<std::net::IpAddr>,
    },
    /// List the tools a caller may call (what `tools/list` would show it).
    List {
        /// Who asks.
        #[command(flatten)]
        caller: CallerArgs,
        /// Also list the tools it may not call, with the reason.
        #[arg(long)]
        denied: bool,
    },
    /// Print the Cedar schema policies are validated against.
    Schema,
}

/// Who a question is asked for.
#[derive(Debug, Args)]
pub struct CallerArgs {
    /// An API key id (`key_…`, looked up in the store), a credential (an API
    /// key or a JWT, checked as the gateway would), or any subject name
    /// described by the options below.
    #[arg(long = "as", value_name = "WHO")]
    pub who: String,
    /// How a plain subject authenticated: none, api_key, jwt, oauth or mutual_tls.
    #[arg(long, value_name = "METHOD", default_value = "jwt")]
    pub auth_method: String,
    /// An extra scope the caller holds (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// An extra role the caller holds (repeatable).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// An identity-provider group the caller is in (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// A claim, `name=value` (repeatable), e.g. `team=blue`.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
}

/// `mcpgate keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The config file: its [store] holds the keys and [auth.api_keys] the pepper.
    #[arg(
        long,
        short,
        global = true,
        default_value = "mcpgate.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Mint a key; it is printed once and stored only as a keyed hash.
    #[command(
        after_help = "Example:\n  mcpgate keys create --name ci-reader --scopes inventory:read --expires 90d"
    )]
    Create {
        /// A name for people (who or what uses the key).
        #[arg(long)]
        name: String,
        /// Scopes the key grants, comma-separated.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Roles the key carries, comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Lifetime, e.g. `30d`; without it the key does not expire.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Environment the key is bound to; defaults to auth.api_keys.environment.
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
    },
    /// Show every key (never the secret), with its status and last use.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once, on every gateway instance (within a second).
    Revoke {
        /// The key's id (`key_…`).
        id: String,
    },
    /// Replace a key: prints the new key; the old one stays valid for the overlap.
    Rotate {
        /// The key's id (`key_…`).
        id: String,
        /// How long the old key keeps working, e.g. `24h`.
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        overlap: String,
    },
}

/// `mcpgate tokens`.
#[derive(Debug, Args)]
#[command(
    after_help = "Tokens descend from grants: one per sign-in (or client-credentials request).\n\
    Revoking a grant ends its access and refresh tokens on every gateway instance\n\
    within a second. Examples:\n  \
    mcpgate tokens list\n  \
    mcpgate tokens revoke --user alice@example.com\n  \
    mcpgate tokens revoke --grant grant_3c42…"
)]
pub struct TokensArgs {
    /// The config file: its [store] holds the grants.
    #[arg(
        long,
        short,
        global = true,
        default_value = "mcpgate.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: TokensCommand,
}

/// The token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Show every grant (never a token): who, which client, scopes, status.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also show revoked and expired grants.
        #[arg(long)]
        all: bool,
    },
    /// Revoke one grant, every grant of a user, or every grant of a client.
    Revoke {
        /// A grant id (`grant_…`).
        #[arg(long, conflicts_with_all = ["user", "client"], required_unless_present_any = ["user", "client"])]
        grant: Option<String>,
        /// A user's subject: all their grants.
        #[arg(long, conflicts_with = "client")]
        user: Option<String>,
        /// A client id: all its grants (the client may still sign users in;
        /// `mcpgate clients revoke` stops that too).
        #[arg(long)]
        client: Option<String>,
    },
}

/// `mcpgate clients`.
#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// The config file: its [store] holds the clients.
    #[arg(
        long,
        short,
        global = true,
        default_value = "mcpgate.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientsCommand,
}

/// The client subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Show registered clients and those known by their metadata documents
    /// (clients written in the config are in the config).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client: it gets no more tokens, and all its grants end.
    Revoke {
        /// The client id (`mcpc_…`, a metadata-document URL, or a configured id).
        id: String,
    },
}

/// Which store a command reads.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The config file; its [store] and [audit] sections are used.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Use this store instead of the config's: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `mcpgate audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do with the log.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show the newest records, and optionally follow new ones.
    Tail {
        /// Which store.
        #[command(flatten)]
        store: StoreArgs,
        /// How many records to show.
        #[arg(long, short = 'n', default_value_t = 20)]
        lines: i64,
        /// Keep printing records as they are written.
        #[arg(long, short)]
        follow: bool,
        /// Print each record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find records by subject, tool, decision and time.
    #[command(
        after_help = "Example:\n  mcpgate audit query --subject alice --since 1h --decision deny"
    )]
    Query {
        /// Which store.
        #[command(flatten)]
        store: StoreArgs,
        /// Only this caller.
        #[arg(long)]
        subject: Option<String>,
        /// Only this tool.
        #[arg(long)]
        tool: Option<String>,
        /// Only records this recent (`30m`, `1h`, `7d`) or since an RFC 3339 time.
        #[arg(long, value_name = "AGE|TIME")]
        since: Option<String>,
        /// Only allowed or only denied calls.
        #[arg(long, value_enum)]
        decision: Option<DecisionArg>,
        /// At most this many records (the newest).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print each record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole log (or a recent part) for a SIEM.
    Export {
        /// Which store.
        #[command(flatten)]
        store: StoreArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only records this recent (`30m`, `1h`, `7d`) or since an RFC 3339 time.
        #[arg(long, value_name = "AGE|TIME")]
        since: Option<String>,
    },
    /// Check the whole hash chain and its signed checkpoints; exit 1 and
    /// name the first bad record if anything was altered, removed or cut.
    Verify {
        /// Which store.
        #[command(flatten)]
        store: StoreArgs,
        /// The checkpoint public key (base64); defaults to the one derived
        /// from the config's audit.signing_key.
        #[arg(long, value_name = "BASE64")]
        public_key: Option<String>,
    },
    /// Print a new checkpoint signing key (for audit.signing_key) and its public key.
    Keygen,
}

/// `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionArg {
    /// Calls that were allowed.
    Allow,
    /// Calls that were refused.
    Deny,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line: `{seq, prev_hash, hash, record}`.
    Jsonl,
}

/// `mcpgate serve`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mcpgate serve --config mcpgate.toml\n  \
    mcpgate serve --config mcpgate.toml --stdio      # for a desktop MCP client\n\n\
    Send SIGHUP to reload the authorization settings ([authz], its policy files,\n\
    backends.*.read_only) without a restart; a config that does not compile is\n\
    refused and the settings in force stay.")]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Serve one MCP session on stdin/stdout instead of HTTP.
    #[arg(long)]
    pub stdio: bool,
    /// Listen here instead of server.listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Allow serving without authentication on a non-loopback address.
    /// Anyone who can reach the address can then call every tool.
    #[arg(long)]
    pub insecure_no_auth: bool,
}

/// `mcpgate import`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mcpgate import openapi.yaml\n  \
    mcpgate import https://api.example.com/openapi.json --json > tools.json")]
pub struct ImportArgs {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 file (JSON or YAML), or an http(s) URL.
    #[arg(value_name = "SPEC")]
    pub spec: String,
    /// Print a JSON document `{tools, security_schemes, warnings}` instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mcpgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
}

/// `mcpgate demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "The demo starts the example Inventory API (examples/demo/openapi.yaml) on \
    127.0.0.1 and puts mcpgate in front of it. Connect any MCP client to the printed URL, or use \
    `mcpgate demo --stdio` as the command of a desktop MCP client."
)]
pub struct DemoArgs {
    /// Port for the gateway's MCP endpoint.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Port for the demo REST API.
    #[arg(long, default_value_t = 8081)]
    pub api_port: u16,
    /// Serve MCP on stdin/stdout instead of HTTP (the API still runs on --api-port).
    #[arg(long)]
    pub stdio: bool,
    /// Where the demo keeps its audit log.
    #[arg(long, default_value = "sqlite:mcpgate-demo.db", value_name = "URL")]
    pub store: String,
    /// Read-only mode, as a real config has by default: the tools that
    /// would change the inventory are hidden and refused.
    #[arg(long)]
    pub read_only: bool,
}
