//! Redaction of secrets before anything reaches the audit log or the logs.
//!
//! Tool-call arguments and backend error bodies routinely carry credentials:
//! a `password` argument, an `Authorization` header echoed back in an error,
//! a database URL with its password, a pasted API key. The audit log is kept
//! for a long time and read by many people, so whatever reaches it must not be
//! usable to impersonate anyone. [`Redactor`] replaces such values with
//! [`REDACTED`] and leaves everything else exactly as it was.
//!
//! Two things are redacted:
//!
//! - **Values of sensitive fields**, whatever their type: members of JSON
//!   objects whose name is a sensitive field name (`password`, `api_key`,
//!   `Authorization`, `githubToken`, … and any extra names given to
//!   [`Redactor::new`]), and in free text `name=value` pairs (URL query
//!   parameters, form bodies, log fields), `"name": value` pairs (JSON
//!   embedded in text, also when escaped once more) and `Authorization:` /
//!   `Cookie:` / `X-API-Key:` header lines.
//! - **Strings that look like credentials** wherever they appear: `Bearer` /
//!   `Basic` credentials, JWTs, mcpgate API keys (`mcpg_…`), well-known key
//!   formats (Stripe/OpenAI `sk-…`, GitHub `ghp_…`, Slack `xoxb-…`, AWS access
//!   key ids, Google API keys), PEM private-key blocks and the password of a
//!   URL's userinfo (`https://user:[REDACTED]@host`).
//!
//! What is deliberately **not** redacted: there is no generic "high-entropy
//! string" detection. Identifiers, UUIDs, commit hashes, file digests and
//! opaque cursors look random too, and an audit log whose ids have been
//! blanked out can no longer answer "what happened to which object". Every
//! rule here is anchored on a name or a format that only credentials have,
//! and each accepts some misses to keep false positives rare. E-mail
//! addresses are personal data but not credentials, so they are kept.
//!
//! Known limits, so nobody relies on more than this does: a secret with no
//! recognisable name or format (say a bare random password in a sentence) is
//! not found; in free text, a `name: value` pair is only recognised when the
//! name is quoted (JSON) or is a credential header, because prose such as
//! "invalid password: too short" would otherwise lose its words; JSON object
//! keys are never redacted, only values.
//!
//! ```
//! use mcpgate_core::{REDACTED, Redactor};
//! use serde_json::json;
//!
//! let redactor = Redactor::new(["customer_pin"]);
//! let mut args = json!({
//!     "user": "ada",
//!     "password": "hunter2",
//!     "options": { "Customer-PIN": 1234, "max_tokens": 512 },
//! });
//! assert_eq!(redactor.redact_value(&mut args), 2);
//! assert_eq!(args["password"], REDACTED);
//! assert_eq!(args["options"]["max_tokens"], 512);
//!
//! let line = redactor.redact_text("GET /v1/items?api_key=abc123&page=2");
//! assert_eq!(line, "GET /v1/items?api_key=[REDACTED]&page=2");
//! ```

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// At most this many passes of [`Redactor::redact_text`] (see there).
const MAX_PASSES: usize = 4;

/// Field names whose value is always sensitive, normalised (see
/// [`normalize_field_name`]).
const SENSITIVE_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "clientsecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "xapikey",
    "authorization",
    "auth",
    "cookie",
    "setcookie",
    "session",
    "sessionid",
    "privatekey",
    "credential",
    "credentials",
    "ssn",
    "creditcard",
    "cardnumber",
    "cvv",
    "pin",
];

/// A normalised name ending in one of these is sensitive too (`db_password`,
/// `githubToken`, `X-Upstream-Api-Key`, `AWS_SECRET_ACCESS_KEY`).
///
/// Plural `tokens` is missing on purpose: `max_tokens`, `prompt_tokens` and
/// `total_tokens` are counts, the bread and butter of LLM tool arguments.
/// Names that merely start with `token` (`token_count`, `tokenizer`) never
/// match a suffix rule. Short names such as `auth`, `pin` or `pwd` are only
/// matched whole, or `author`, `spin` and `cwd`-like names would be caught.
const SENSITIVE_SUFFIXES: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "secret",
    "secrets",
    "secretkey",
    "secretaccesskey",
    "passphrase",
    "token",
    "apikey",
    "apikeys",
    "privatekey",
    "credential",
    "credentials",
    "authorization",
    "cookie",
];

/// Names that end in a sensitive suffix but are not credentials: pagination
/// cursors (`pageToken`, `next_page_token`) identify a position in a listing,
/// and keeping them lets an auditor follow a paginated read.
const SUFFIX_EXCEPTIONS: &[&str] = &["pagetoken"];

/// Header names whose whole value (to the end of the line) is a credential
/// when they appear as `Name: value` in free text.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "apikey",
    "xapikey",
    "xauthtoken",
    "privatetoken",
];

/// Replaces secrets in JSON values and free text with [`REDACTED`].
///
/// Cheap to clone and to share: it only holds the extra field names.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Extra sensitive field names, normalised.
    extra_fields: Vec<String>,
}

impl Default for Redactor {
    /// The default sensitive field names, no extras.
    fn default() -> Self {
        Self::new(std::iter::empty::<&str>())
    }
}

impl Redactor {
    /// The default field names plus `extra_fields` (compared
    /// case-insensitively, ignoring `-`/`_`, so `api_key`, `API-Key`, `apiKey`
    /// all match).
    ///
    /// Extra names are matched whole, not as suffixes.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(extra_fields: I) -> Self {
        let extra_fields = extra_fields
            .into_iter()
            .map(|name| normalize_field_name(name.as_ref()))
            .filter(|name| !name.is_empty())
            .collect();
        Self { extra_fields }
    }

    /// Whether a value stored under `name` is redacted whatever it looks like.
    ///
    /// A dotted name (`spring.datasource.password`) is also judged by its last
    /// segment.
    ///
    /// ```
    /// let redactor = mcpgate_core::Redactor::default();
    /// assert!(redactor.is_sensitive_field("GitHub-Token"));
    /// assert!(!redactor.is_sensitive_field("max_tokens"));
    /// ```
    pub fn is_sensitive_field(&self, name: &str) -> bool {
        // Asked for every member of every redacted object: short ASCII
        // names (nearly all) are normalised on the stack.
        let mut buffer = [0u8; 64];
        let name: Cow<'_, str> = match normalize_short_ascii(name, &mut buffer) {
            Some(normalized) => Cow::Borrowed(normalized),
            None => Cow::Owned(normalize_field_name(name)),
        };
        let last_segment = name.rsplit('.').next().unwrap_or_default();
        self.is_sensitive_normalized(&name) || self.is_sensitive_normalized(last_segment)
    }

    fn is_sensitive_normalized(&self, name: &str) -> bool {
        SENSITIVE_FIELDS.contains(&name)
            || self.extra_fields.iter().any(|extra| extra == name)
            || (SENSITIVE_SUFFIXES
                .iter()
                .any(|suffix| name.ends_with(suffix))
                && !SUFFIX_EXCEPTIONS
                    .iter()
                    .any(|exception| name.ends_with(exception)))
    }

    /// Replace, in place, (a) the value of every object member whose NAME is
    /// a sensitive field name (whatever the value type: string, number,
    /// object, array → the whole value becomes `"[REDACTED]"`), at any depth,
    /// and (b) any string value that LOOKS like a credential (see the module
    /// documentation), at any depth, including inside arrays. Returns how many
    /// values were redacted.
    ///
    /// A string that contains a credential is replaced whole, so that no part
    /// of a structured value is left half-edited. A `null` under a sensitive
    /// name is left alone (it hides nothing), and a value that already is
    /// [`REDACTED`] is not counted again, so redacting twice returns 0 the
    /// second time.
    pub fn redact_value(&self, value: &mut Value) -> usize {
        match value {
            Value::Object(members) => members
                .iter_mut()
                .map(|(name, member)| {
                    if self.is_sensitive_field(name) {
                        redact_whole(member)
                    } else {
                        self.redact_value(member)
                    }
                })
                .sum(),
            Value::Array(items) => items.iter_mut().map(|item| self.redact_value(item)).sum(),
            Value::String(text) => {
                if self.contains_secret(text) {
                    *text = REDACTED.to_owned();
                    1
                } else {
                    0
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
    }

    /// `text` with every credential-looking token replaced by [`REDACTED`]
    /// (for log lines, backend error bodies).
    ///
    /// Only the secret itself is replaced: `Bearer [REDACTED]`,
    /// `?api_key=[REDACTED]&page=2`, `https://ada:[REDACTED]@db`. Returns
    /// the text unchanged (borrowed) when there is nothing to redact.
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(mut redacted) = self.redact_pass(text) else {
            return Cow::Borrowed(text);
        };
        // Rules read context around a secret (a name before `=`, the `@`
        // after a password); once overlapping secrets are merged, the text
        // around a `[REDACTED]` can read differently, and a second pass could
        // take a few more bytes. Passing again until nothing changes makes
        // redacting twice a no-op. In practice the second pass finds nothing.
        for _ in 1..MAX_PASSES {
            match self.redact_pass(&redacted) {
                Some(again) => redacted = again,
                None => break,
            }
        }
        Cow::Owned(redacted)
    }

    /// One pass of [`Redactor::redact_text`]; `None` if it changed nothing.
    fn redact_pass(&self, text: &str) -> Option<String> {
        let secrets = self.secrets(text, usize::MAX);
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for secret in secrets {
            out.push_str(&text[copied..secret.start]);
            out.push_str(REDACTED);
            copied = secret.end;
        }
        out.push_str(&text[copied..]);
        (out != text).then_some(out)
    }

    /// Where [`Redactor::redact_text`] would find credentials in `text`: the
    /// byte ranges it would replace (one pass), sorted and merged. For
    /// scanners that must say where a secret is without repeating it
    /// (`mcpgate doctor`).
    ///
    /// ```
    /// let redactor = mcpgate_core::Redactor::default();
    /// let text = "token: Bearer abcdefgh12345678 rest";
    /// let spans = redactor.find_secrets(text);
    /// assert_eq!(&text[spans[0].clone()], "abcdefgh12345678");
    /// assert!(redactor.find_secrets("nothing to see").is_empty());
    /// ```
    pub fn find_secrets(&self, text: &str) -> Vec<Range<usize>> {
        self.secrets(text, usize::MAX)
    }

    /// Whether `text` contains anything [`Redactor::redact_text`] would
    /// replace.
    fn contains_secret(&self, text: &str) -> bool {
        !self.secrets(text, 1).is_empty()
    }

    /// The byte ranges of up to `limit` secrets in `text`, sorted, with
    /// overlapping or adjacent ones merged (two secrets side by side become
    /// one [`REDACTED`]).
    ///
    /// Every position is tried as an anchor except those inside a secret
    /// already found: after redaction they read `[REDACTED]`, so skipping
    /// them makes a second pass see what the first one saw. Positions
    /// between an anchor and its secret (the `user` of `user:pass@`, the
    /// name of `name=value`) are still tried. Every rule starts and ends its
    /// span on an ASCII byte or at the end of the text, so spans always fall
    /// on `char` boundaries.
    fn secrets(&self, text: &str, limit: usize) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = Vec::new();
        // Secrets that start further on, and where the one being skipped ends.
        let mut ahead: Vec<Range<usize>> = Vec::new();
        let mut covered = 0;
        let mut i = 0;
        while i < text.len() && found.len() < limit {
            ahead.retain(|secret| {
                let reached = secret.start <= i;
                if reached {
                    covered = covered.max(secret.end);
                }
                !reached
            });
            if i < covered {
                i = covered;
                continue;
            }
            if let Some(secret) = self.secret_at(text, i) {
                found.push(secret.clone());
                ahead.push(secret);
            }
            i += 1;
        }
        found.sort_by_key(|secret| secret.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
        for secret in found {
            match merged.last_mut() {
                Some(last) if secret.start <= last.end => last.end = last.end.max(secret.end),
                _ => merged.push(secret),
            }
        }
        merged
    }

    /// The secret recognised by a rule anchored at byte `i`, if any.
    ///
    /// A secret glued to the rest of a word (`sk_live_…_backup`) takes the
    /// whole word: otherwise the rest would start a new word after
    /// [`REDACTED`] and a second pass could find more than the first.
    fn secret_at(&self, text: &str, i: usize) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        let secret = self.rule_at(text, i)?;
        Some(
            secret.start..run(bytes, secret.end, |c| {
                c.is_ascii_alphanumeric() || c == b'_'
            }),
        )
    }

    fn rule_at(&self, text: &str, i: usize) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        match bytes[i] {
            b'-' => private_key_block(text, i),
            b':' => url_password(bytes, i),
            b'"' | b'\\' => self.quoted_field_value(text, i),
            c if (c.is_ascii_alphanumeric() || c == b'_') && starts_word(bytes, i) => {
                auth_scheme_credential(bytes, i)
                    .or_else(|| jwt(bytes, i))
                    .or_else(|| prefixed_key(bytes, i))
                    .or_else(|| aws_access_key_id(bytes, i))
                    .or_else(|| self.named_value(text, i))
            }
            _ => None,
        }
    }

    /// `name=value`, `name = "value"` (sensitive name) or `Name: value`
    /// (credential header, value to the end of the line), name starting at `i`.
    fn named_value(&self, text: &str, i: usize) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        let name_end = run(bytes, i, is_name_byte);
        let name = &text[i..name_end];
        match bytes.get(name_end)? {
            b'=' | b' ' | b'\t' => {
                let equals = run(bytes, name_end, is_horizontal_space);
                if bytes.get(equals) != Some(&b'=') || bytes.get(equals + 1) == Some(&b'=') {
                    return None;
                }
                if !self.is_sensitive_field(name) {
                    return None;
                }
                let value = run(bytes, equals + 1, is_horizontal_space);
                let span = match bytes.get(value)? {
                    &quote @ (b'"' | b'\'') => value + 1..closing_quote(bytes, value + 1, quote),
                    _ => value..run(bytes, value, |c| !ends_unquoted_value(c)),
                };
                non_redacted(bytes, span)
            }
            b':' => {
                let header = normalize_field_name(name);
                if !CREDENTIAL_HEADERS.contains(&header.as_str()) {
                    return None;
                }
                let value = run(bytes, name_end + 1, is_horizontal_space);
                let mut start = value;
                if header.ends_with("authorization") {
                    if let Some(credential) = auth_scheme_credential(bytes, value) {
                        return Some(credential);
                    }
                    // Keep the scheme of `Authorization: Token abc` readable.
                    let scheme_end = run(bytes, value, |c| c.is_ascii_alphabetic());
                    let credential = run(bytes, scheme_end, is_horizontal_space);
                    if scheme_end > value && credential > scheme_end {
                        start = credential;
                    }
                }
                // `starts_with`, not equality: a Bearer credential redacted by
                // an earlier pass may be followed by more text on the line.
                // Checked before looking for the end of the line, so that a
                // long line of redacted headers is not scanned once per header.
                if bytes[start..].starts_with(REDACTED.as_bytes()) {
                    return None;
                }
                // In `-H 'X-Api-Key: abc' …` the header ends at the quote that
                // opened it, otherwise at the end of the line.
                let opening_quote = i
                    .checked_sub(1)
                    .map(|q| bytes[q])
                    .filter(|&c| c == b'"' || c == b'\'');
                let line_end = |from| {
                    let end = run(bytes, from, |c| {
                        c != b'\n' && c != b'\r' && Some(c) != opening_quote
                    });
                    end - bytes[from..end]
                        .iter()
                        .rev()
                        .take_while(|c| c.is_ascii_whitespace())
                        .count()
                };
                match line_end(start) {
                    end if end > start => Some(start..end),
                    // `Authorization: Bearer` with nothing after the scheme.
                    _ => Some(value..line_end(value)).filter(|span| !span.is_empty()),
                }
            }
            _ => None,
        }
    }

    /// `"name": value` in JSON text, or `\"name\": value` in JSON that was
    /// itself put in a JSON string; `i` is at the opening quote of the name.
    ///
    /// Object and array values are left to the other rules: finding their end
    /// in possibly truncated text is guesswork.
    fn quoted_field_value(&self, text: &str, i: usize) -> Option<Range<usize>> {
        let bytes = text.as_bytes();
        let escaped = bytes[i] == b'\\';
        let quote: &[u8] = if escaped { b"\\\"" } else { b"\"" };
        if !bytes[i..].starts_with(quote) {
            return None;
        }
        let name_start = i + quote.len();
        // A field name, not a sentence: no spaces or JSON punctuation, and
        // no brackets, so that it never contains an earlier [`REDACTED`].
        let name_end = run(bytes, name_start, |c| {
            !(c.is_ascii_whitespace() || b"\"\\[]{}:,".contains(&c))
        });
        if name_end == name_start || name_end - name_start > 64 {
            return None;
        }
        if !bytes[name_end..].starts_with(quote) {
            return None;
        }
        let colon = run(bytes, name_end + quote.len(), |c| c.is_ascii_whitespace());
        if bytes.get(colon) != Some(&b':') || !self.is_sensitive_field(&text[name_start..name_end])
        {
            return None;
        }
        let value = run(bytes, colon + 1, |c| c.is_ascii_whitespace());
        let span = if bytes[value..].starts_with(quote) {
            let start = value + quote.len();
            let end = if escaped {
                closing_escaped_quote(bytes, start)
            } else {
                closing_quote(bytes, start, b'"')
            };
            start..end
        } else {
            // `null` hides nothing, as in [`Redactor::redact_value`].
            if matches!(bytes.get(value)?, b'{' | b'[' | b'"' | b'\\')
                || bytes[value..].starts_with(b"null")
            {
                return None;
            }
            value..run(bytes, value, |c| {
                !(c.is_ascii_whitespace() || matches!(c, b',' | b'}' | b']' | b'\\'))
            })
        };
        non_redacted(bytes, span)
    }
}

/// Lowercase, without `-` and `_`: `API-Key`, `api_key` and `apiKey` are all
/// `apikey`.
fn normalize_field_name(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// [`normalize_field_name`] into `buffer`, for an ASCII `name` that fits;
/// `None` otherwise.
fn normalize_short_ascii<'b>(name: &str, buffer: &'b mut [u8; 64]) -> Option<&'b str> {
    if !name.is_ascii() || name.len() > buffer.len() {
        return None;
    }
    let mut length = 0;
    for byte in name.bytes().filter(|b| *b != b'-' && *b != b'_') {
        buffer[length] = byte.to_ascii_lowercase();
        length += 1;
    }
    std::str::from_utf8(&buffer[..length]).ok()
}

/// Replaces a whole value under a sensitive name; returns 1 if it changed.
fn redact_whole(value: &mut Value) -> usize {
    match value {
        Value::Null => 0,
        Value::String(text) if text == REDACTED => 0,
        _ => {
            *value = Value::String(REDACTED.to_owned());
            1
        }
    }
}

/// `span`, unless it is empty or already exactly [`REDACTED`].
fn non_redacted(bytes: &[u8], span: Range<usize>) -> Option<Range<usize>> {
    let content = &bytes[span.clone()];
    (!content.is_empty() && content != REDACTED.as_bytes()).then_some(span)
}

/// The end of the run of bytes from `from` that satisfy `keep`.
fn run(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    from + bytes[from..].iter().take_while(|&&c| keep(c)).count()
}

/// Bytes of a field name in free text (`spring.datasource.password`).
fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// Whether a word may start at `i`: anchors such as `sk-` or `Bearer` inside a
/// longer word (`task-list`, `Unbearer`) are not credentials.
fn starts_word(bytes: &[u8], i: usize) -> bool {
    i == 0 || !is_name_byte(bytes[i - 1])
}

fn is_horizontal_space(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Where an unquoted `name=value` value stops (query strings, log fields).
fn ends_unquoted_value(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'&' | b',' | b';' | b'"' | b'\'' | b'<' | b'>')
}

/// The index of the quote closing a string that starts at `from`, skipping
/// backslash escapes; the end of the text if it is truncated.
fn closing_quote(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut j = from;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            c if c == quote => return j,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Like [`closing_quote`] for a string inside JSON-in-a-string, whose closing
/// quote is `\"`. Once more encoded, a backslash of the value is `\\\\` and a
/// quote is `\\\"`, so a run of backslashes before `"` closes the string when
/// its length is 1 modulo 4. Returns the index of the closing `\`.
fn closing_escaped_quote(bytes: &[u8], from: usize) -> usize {
    let mut j = from;
    while j < bytes.len() {
        if bytes[j] == b'\\' {
            let after = run(bytes, j, |c| c == b'\\');
            if bytes.get(after) == Some(&b'"') && (after - j) % 4 == 1 {
                return after - 1;
            }
            j = after;
        } else {
            j += 1;
        }
    }
    bytes.len()
}

/// `Bearer <token>` / `Basic <base64>` (scheme case-insensitive, credential at
/// least 8 characters); the span is the credential only.
fn auth_scheme_credential(bytes: &[u8], i: usize) -> Option<Range<usize>> {
    let scheme = [b"bearer".as_slice(), b"basic"]
        .into_iter()
        .find(|scheme| {
            bytes.len() >= i + scheme.len()
                && bytes[i..i + scheme.len()].eq_ignore_ascii_case(scheme)
        })?;
    let after_scheme = i + scheme.len();
    let start = run(bytes, after_scheme, is_horizontal_space);
    if start == after_scheme {
        return None;
    }
    // token68 (RFC 9110): letters, digits, `-._~+/`, then `=` padding.
    let body = run(bytes, start, |c| {
        c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
    });
    let mut end = run(bytes, body, |c| c == b'=');
    // A full stop ends the sentence, not the token.
    while end > start && bytes[end - 1] == b'.' {
        end -= 1;
    }
    let credential = &bytes[start..end];
    (credential.len() >= 8 && !is_plain_words(credential)).then_some(start..end)
}

/// Whether `token` is ordinary words (`authentication`, `token-based`,
/// `Scheme`, `HTTP`): prose after "Basic"/"Bearer", never a credential, which
/// would mix cases or contain a digit.
fn is_plain_words(token: &[u8]) -> bool {
    token
        .split(|c| matches!(c, b'-' | b'.' | b'/'))
        .all(|word| {
            let Some((first, rest)) = word.split_first() else {
                return true;
            };
            word.iter().all(u8::is_ascii_alphabetic)
                && (word.iter().all(u8::is_ascii_lowercase)
                    || word.iter().all(u8::is_ascii_uppercase)
                    || (first.is_ascii_uppercase() && rest.iter().all(u8::is_ascii_lowercase)))
        })
}

fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// A JWT: `eyJ…` header, payload and (possibly empty, for `alg: none`)
/// signature, base64url, separated by dots, at least 20 characters.
fn jwt(bytes: &[u8], i: usize) -> Option<Range<usize>> {
    if !bytes[i..].starts_with(b"eyJ") {
        return None;
    }
    let header_end = run(bytes, i, is_base64url);
    if bytes.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = run(bytes, header_end + 1, is_base64url);
    if payload_end == header_end + 1 || bytes.get(payload_end) != Some(&b'.') {
        return None;
    }
    let end = run(bytes, payload_end + 1, is_base64url);
    (end - i >= 20).then_some(i..end)
}

/// A key format recognised by its prefix.
struct KeyPrefix {
    prefix: &'static [u8],
    /// Which bytes may follow the prefix.
    body: fn(u8) -> bool,
    /// At least this many of them.
    min_body: usize,
    /// The body must contain a digit: `sk-` also starts hyphenated words,
    /// while a random key without a digit is vanishingly rare.
    needs_digit: bool,
}

impl KeyPrefix {
    const fn new(prefix: &'static str, body: fn(u8) -> bool, min_body: usize) -> Self {
        let prefix = prefix.as_bytes();
        Self {
            prefix,
            body,
            min_body,
            needs_digit: false,
        }
    }
}

fn is_alphanumeric(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_alphanumeric_or_underscore(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_alphanumeric_or_dash(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

const KEY_PREFIXES: &[KeyPrefix] = &[
    // mcpgate's own API keys.
    KeyPrefix::new("mcpg_", is_alphanumeric_or_underscore, 20),
    // Stripe secret and restricted keys: at least 20 characters in all.
    KeyPrefix::new("sk_live_", is_alphanumeric, 12),
    KeyPrefix::new("sk_test_", is_alphanumeric, 12),
    KeyPrefix::new("rk_live_", is_alphanumeric, 12),
    KeyPrefix::new("rk_test_", is_alphanumeric, 12),
    // OpenAI / Anthropic style (`sk-proj-…`, `sk-ant-api03-…`).
    KeyPrefix {
        needs_digit: true,
        ..KeyPrefix::new("sk-", is_base64url, 17)
    },
    // GitHub tokens (36 characters after the prefix in practice).
    KeyPrefix::new("ghp_", is_alphanumeric, 20),
    KeyPrefix::new("gho_", is_alphanumeric, 20),
    KeyPrefix::new("ghs_", is_alphanumeric, 20),
    KeyPrefix::new("ghu_", is_alphanumeric, 20),
    KeyPrefix::new("ghr_", is_alphanumeric, 20),
    KeyPrefix::new("github_pat_", is_alphanumeric_or_underscore, 20),
    // Slack tokens.
    KeyPrefix::new("xoxb-", is_alphanumeric_or_dash, 10),
    KeyPrefix::new("xoxa-", is_alphanumeric_or_dash, 10),
    KeyPrefix::new("xoxp-", is_alphanumeric_or_dash, 10),
    KeyPrefix::new("xoxr-", is_alphanumeric_or_dash, 10),
    KeyPrefix::new("xoxs-", is_alphanumeric_or_dash, 10),
    // Google API keys: `AIza` + 35 characters.
    KeyPrefix::new("AIza", is_base64url, 35),
];

fn prefixed_key(bytes: &[u8], i: usize) -> Option<Range<usize>> {
    KEY_PREFIXES.iter().find_map(|key| {
        if !bytes[i..].starts_with(key.prefix) {
            return None;
        }
        let body_start = i + key.prefix.len();
        let end = run(bytes, body_start, key.body);
        let body = &bytes[body_start..end];
        let long_enough = body.len() >= key.min_body;
        let has_digit = !key.needs_digit || body.iter().any(u8::is_ascii_digit);
        (long_enough && has_digit).then_some(i..end)
    })
}

/// An AWS access key id: `AKIA` (long-term) or `ASIA` (temporary) followed by
/// exactly 16 uppercase letters or digits.
fn aws_access_key_id(bytes: &[u8], i: usize) -> Option<Range<usize>> {
    if !(bytes[i..].starts_with(b"AKIA") || bytes[i..].starts_with(b"ASIA")) {
        return None;
    }
    let end = run(bytes, i + 4, |c| {
        c.is_ascii_uppercase() || c.is_ascii_digit()
    });
    let followed_by_word = bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
    (end - (i + 4) == 16 && !followed_by_word).then_some(i..end)
}

/// The password in a URL's userinfo (`scheme://user:password@host`); `i` is
/// at `://`. The user name stays: it says whose access was used.
fn url_password(bytes: &[u8], i: usize) -> Option<Range<usize>> {
    if !bytes[i..].starts_with(b"://") {
        return None;
    }
    let start = i + 3;
    // Also stops at `[` (IPv6 hosts come after the `@`): an authority never
    // runs across an earlier [`REDACTED`].
    let authority_end = run(bytes, start, |c| {
        !(c.is_ascii_whitespace() || b"/?#[\"'<>\\`".contains(&c))
    });
    let authority = &bytes[start..authority_end];
    let at = start + authority.iter().rposition(|&c| c == b'@')?;
    let colon = start + bytes[start..at].iter().position(|&c| c == b':')?;
    non_redacted(bytes, colon + 1..at)
}

/// A PEM private-key block, from `-----BEGIN … PRIVATE KEY-----` to its
/// `-----END …-----` line, or to the end of the text if it was cut off.
fn private_key_block(text: &str, i: usize) -> Option<Range<usize>> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    const DASHES: &str = "-----";
    if !text[i..].starts_with(BEGIN) {
        return None;
    }
    // `RSA PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`, …
    let label_start = i + BEGIN.len();
    let label_end = run(text.as_bytes(), label_start, |c| {
        c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' '
    });
    let label = &text[label_start..label_end];
    if !text[label_end..].starts_with(DASHES) || !label.contains("PRIVATE KEY") {
        return None;
    }
    let body_start = label_end + DASHES.len();
    let end = text[body_start..]
        .find(END)
        .map(|end| body_start + end + END.len())
        .and_then(|end_label| {
            text[end_label..]
                .find(DASHES)
                .map(|d| end_label + d + DASHES.len())
        })
        .unwrap_or(text.len());
    Some(i..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalised_on_the_stack_read_as_on_the_heap() {
        let long = "x".repeat(64);
        let too_long = "X-".repeat(40);
        for name in [
            "",
            "-_-",
            "API-Key",
            "api_key",
            "GitHub-Token",
            "spring.datasource.PASSWORD",
            "max_tokens",
            long.as_str(),
            too_long.as_str(),
            "Passwört",
            "K\u{212A}ey",
        ] {
            let mut buffer = [0u8; 64];
            match normalize_short_ascii(name, &mut buffer) {
                Some(normalized) => assert_eq!(normalized, normalize_field_name(name), "{name}"),
                None => assert!(!name.is_ascii() || name.len() > 64, "{name}"),
            }
        }
    }
}
