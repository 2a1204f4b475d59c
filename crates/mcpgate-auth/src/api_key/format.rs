//! The API key format: how a key is minted, recognised, checked and hashed.
//!
//! No storage and no HTTP here: only what can be decided from the key string
//! itself and a server-side pepper.
//!
//! # Format
//!
//! ```text
//! mcpg_dev_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf3aUIUF
//! └─┬─┘└┬┘ └────────────────────┬────────────────────┘└──┬─┘
//!   │   │                       │                        └ checksum: 6 base62 chars
//!   │   │                       └ secret: 43 base62 chars (32 random bytes)
//!   │   └ environment: 1–16 chars of [a-z0-9], then `_`
//!   └ prefix `mcpg_`
//! ```
//!
//! (That key is a documentation example: its 32 "random" bytes are 0, 1, …,
//! 31. It parses, but no server ever minted it.)
//!
//! - **Prefix** `mcpg_` makes a leaked key recognisable to secret scanners
//!   and to people reading a log, in the spirit of GitHub's `ghp_` tokens.
//! - **Environment** (`prod`, `staging`, `dev`, …) travels in the key, so a
//!   key pasted into the wrong deployment can be named as such. Being lower
//!   case letters and digits, it can never contain the `_` that ends it.
//! - **Secret**: 32 bytes from the operating system's random number
//!   generator, written big-endian in base62 and left-padded with `0` to a
//!   fixed 43 characters. 62⁴² < 2²⁵⁶ < 62⁴³, so 43 is the shortest fixed
//!   width that holds every 256-bit value.
//! - **Checksum**: CRC-32 (the zlib/PNG one, `CRC-32/ISO-HDLC`) of everything
//!   before it, `mcpg_<env>_<secret>`, in base62 left-padded to 6 characters
//!   (62⁶ > 2³²). It lets [`parse`] reject typos, truncation and garbage
//!   without a database lookup: CRC-32 catches every change confined to 32
//!   consecutive bits, so every single-character typo and every swap of two
//!   neighbouring characters. It is not a MAC: anyone can compute it, so it
//!   guards against accidents, never against an attacker.
//!
//! The base62 alphabet is `0-9A-Za-z`, in that order. The whole key is ASCII
//! letters, digits and `_`, so it survives copy and paste, URLs, shells and
//! double-click selection intact.
//!
//! # Storage
//!
//! The server never stores a key. It stores [`key_hash`], HMAC-SHA256 of the
//! key under a server-side pepper, and looks keys up by that hash. A slow
//! password hash is unnecessary because the secret already has 256 bits of
//! entropy; the pepper, kept outside the database, means a stolen database
//! alone cannot even confirm that a leaked key belongs to this deployment.
//! Keys are named in logs and listings by an id from [`new_key_id`], which
//! is random rather than derived from the key.

use std::fmt;

use crc::{CRC_32_ISO_HDLC, Crc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use secrecy::zeroize::Zeroize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every mcpgate API key starts with.
pub const KEY_PREFIX: &str = "mcpg_";

/// Longest environment name, in bytes.
const MAX_ENVIRONMENT_LEN: usize = 16;
/// Random bytes in a key's secret part.
const SECRET_BYTES: usize = 32;
/// Base62 characters of the secret part: the fewest that hold 256 bits.
const SECRET_LEN: usize = 43;
/// Base62 characters of the checksum: the fewest that hold 32 bits.
const CHECKSUM_LEN: usize = 6;
/// Everything after the environment's closing `_`.
const BODY_LEN: usize = SECRET_LEN + CHECKSUM_LEN;
/// Random bytes in a key id.
const KEY_ID_BYTES: usize = 8;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// A freshly minted key: the secret (shown to its owner once, then only its
/// [`key_hash`] is kept) and the facts derived from it.
#[derive(Debug)]
pub struct NewApiKey {
    /// The whole key, `mcpg_<env>_<body>`. Redacted by `Debug`; read it with
    /// [`secrecy::ExposeSecret`] only to show it to its owner and to hash it.
    pub secret: SecretString,
    /// The environment the key was minted for.
    pub environment: String,
}

/// A presented key whose format and checksum are correct. This says nothing
/// about whether the key exists or is revoked: look up its [`key_hash`] for
/// that.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    /// The environment named in the key, e.g. `prod`.
    pub environment: &'a str,
    /// The whole key as presented (a secret: never log it).
    pub key: &'a str,
}

impl fmt::Debug for ParsedKey<'_> {
    // The key is a credential; keep it out of logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("environment", &self.environment)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Why a key could not be minted, or why a presented string is not a
/// well-formed mcpgate API key. No variant carries the presented text, so
/// these are safe to log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFormatError {
    /// The string does not start with [`KEY_PREFIX`]: it may be another kind
    /// of credential.
    #[error("not an mcpgate API key: it does not start with `{KEY_PREFIX}`")]
    NotAnMcpgateKey,
    /// The environment is empty, longer than 16 characters, or has a
    /// character other than `a-z` and `0-9`.
    #[error(
        "bad API key environment: it must be 1 to 16 characters of lower-case letters `a-z` and digits `0-9`"
    )]
    BadEnvironment,
    /// The part after the environment is not 49 base62 characters.
    #[error(
        "malformed mcpgate API key: expected `{KEY_PREFIX}<environment>_` and then 49 letters and digits; check that the whole key was copied"
    )]
    Malformed,
    /// The key is well formed but its checksum does not match: it was
    /// mistyped, truncated and padded, or altered.
    #[error(
        "mcpgate API key checksum does not match: the key was mistyped or altered; copy it again from where it was issued"
    )]
    BadChecksum,
    /// The operating system's random number generator failed.
    #[error("could not read the operating system's random number generator: {0}")]
    Random(String),
}

/// Mints a new key for `environment` from 32 bytes of OS randomness.
///
/// Fails with [`KeyFormatError::BadEnvironment`] if `environment` is not 1–16
/// characters of `[a-z0-9]`, and with [`KeyFormatError::Random`] if the OS
/// random number generator fails.
///
/// ```
/// use mcpgate_auth::api_key::{generate, parse};
/// use secrecy::ExposeSecret;
///
/// let new = generate("prod").unwrap();
/// let parsed = parse(new.secret.expose_secret()).unwrap();
/// assert_eq!(parsed.environment, "prod");
/// ```
pub fn generate(environment: &str) -> Result<NewApiKey, KeyFormatError> {
    check_environment(environment)?;
    let mut random = [0u8; SECRET_BYTES];
    getrandom::fill(&mut random).map_err(random_failed)?;
    let key = assemble(environment, &random);
    random.zeroize();
    Ok(NewApiKey {
        secret: SecretString::from(key),
        environment: environment.to_owned(),
    })
}

/// Checks a presented key's prefix, environment, length, alphabet and
/// checksum, and returns its environment.
///
/// Cheap and total: it looks at no more than the prefix and the last 66
/// bytes, never panics, and rejects huge or non-ASCII input with an error.
/// Passing it only means the key is well formed; whether it exists is a
/// lookup of its [`key_hash`].
///
/// ```
/// use mcpgate_auth::api_key::{KeyFormatError, parse};
///
/// let key = "mcpg_dev_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf3aUIUF";
/// assert_eq!(parse(key).unwrap().environment, "dev");
///
/// let typo = "mcpg_dev_003aUlTJC7tj1CTQj2uNU3MFagCXG9LRKRcwGkBIDlf3aUIUF";
/// assert_eq!(parse(typo).unwrap_err(), KeyFormatError::BadChecksum);
/// assert_eq!(parse("ghp_abc").unwrap_err(), KeyFormatError::NotAnMcpgateKey);
/// ```
pub fn parse(presented: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
    let rest = presented
        .strip_prefix(KEY_PREFIX)
        .ok_or(KeyFormatError::NotAnMcpgateKey)?;
    // The body has a fixed length, so the environment's closing `_` sits at
    // a known offset from the end: find it without scanning the input.
    let bytes = rest.as_bytes();
    let separator = bytes
        .len()
        .checked_sub(BODY_LEN + 1)
        .ok_or(KeyFormatError::Malformed)?;
    let body = &bytes[separator + 1..];
    if bytes[separator] != b'_' || !body.iter().all(|&b| base62_value(b).is_some()) {
        return Err(KeyFormatError::Malformed);
    }
    // `separator` indexes an ASCII `_`, so it is a char boundary.
    let environment = rest.get(..separator).ok_or(KeyFormatError::Malformed)?;
    check_environment(environment)?;

    // Everything from here on is ASCII, so byte offsets are safe.
    let (signed, checksum) = presented
        .as_bytes()
        .split_at(presented.len() - CHECKSUM_LEN);
    if decode_checksum(checksum) != Some(CRC32.checksum(signed)) {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(ParsedKey {
        environment,
        key: presented,
    })
}

/// HMAC-SHA256 of `key` under `pepper`, as 64 lowercase hex characters: what
/// the server stores and looks keys up by.
///
/// ```
/// use mcpgate_auth::api_key::key_hash;
///
/// let hash = key_hash(b"server pepper", "mcpg_dev_...");
/// assert_eq!(hash.len(), 64);
/// assert_eq!(hash, key_hash(b"server pepper", "mcpg_dev_..."));
/// ```
pub fn key_hash(pepper: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper)
        .expect("HMAC accepts keys of any length; only fixed-key MACs reject one");
    mac.update(key.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether two [`key_hash`] values are equal, in time that does not depend
/// on where they differ. Hashes of different lengths are unequal; only their
/// lengths, never their contents, are compared then.
///
/// ```
/// use mcpgate_auth::api_key::{hashes_match, key_hash};
///
/// let stored = key_hash(b"pepper", "mcpg_dev_...");
/// assert!(hashes_match(&stored, &key_hash(b"pepper", "mcpg_dev_...")));
/// assert!(!hashes_match(&stored, &key_hash(b"pepper", "mcpg_prod_...")));
/// ```
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A new public id for a key: `key_` and 16 random lowercase hex characters.
///
/// Ids name keys in listings, logs and revocation requests. They are
/// assigned at creation and stored next to the key's hash, and are random so
/// that nothing about the secret can be learned from them.
///
/// ```
/// let id = mcpgate_auth::api_key::new_key_id().unwrap();
/// assert!(id.starts_with("key_") && id.len() == 20);
/// ```
pub fn new_key_id() -> Result<String, KeyFormatError> {
    let mut random = [0u8; KEY_ID_BYTES];
    getrandom::fill(&mut random).map_err(random_failed)?;
    Ok(format!("key_{}", hex::encode(random)))
}

fn random_failed(error: getrandom::Error) -> KeyFormatError {
    KeyFormatError::Random(error.to_string())
}

fn check_environment(environment: &str) -> Result<(), KeyFormatError> {
    let valid = (1..=MAX_ENVIRONMENT_LEN).contains(&environment.len())
        && environment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(KeyFormatError::BadEnvironment)
    }
}

/// Builds `mcpg_<environment>_<secret><checksum>` from already-checked parts.
fn assemble(environment: &str, random: &[u8; SECRET_BYTES]) -> String {
    // Sized up front so the secret is never left behind in a reallocation.
    let mut key = String::with_capacity(KEY_PREFIX.len() + environment.len() + 1 + BODY_LEN);
    key.push_str(KEY_PREFIX);
    key.push_str(environment);
    key.push('_');
    push_base62(&mut key, random, SECRET_LEN);
    let checksum = CRC32.checksum(key.as_bytes());
    push_base62(&mut key, &checksum.to_be_bytes(), CHECKSUM_LEN);
    key
}

/// Appends the big-endian number `value` as exactly `width` base62 digits,
/// left-padded with `0`. `value` must fit; it always does for the two fixed
/// uses above (32 bytes in 43 digits, 4 bytes in 6).
fn push_base62(out: &mut String, value: &[u8], width: usize) {
    let mut number = [0u8; SECRET_BYTES];
    let mut digits = [0u8; SECRET_LEN];
    let number_len = value.len().min(SECRET_BYTES);
    let width = width.min(SECRET_LEN);
    number[..number_len].copy_from_slice(&value[..number_len]);

    // Schoolbook long division by 62, least significant digit first.
    for digit in digits[..width].iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in &mut number[..number_len] {
            let dividend = (remainder << 8) | u32::from(*byte);
            // remainder < 62, so dividend < 62 * 256 and the quotient fits.
            *byte = (dividend / 62) as u8;
            remainder = dividend % 62;
        }
        *digit = BASE62[remainder as usize];
    }
    debug_assert!(
        number.iter().all(|&b| b == 0),
        "value does not fit in {width} base62 digits"
    );
    out.extend(digits[..width].iter().copied().map(char::from));
    number.zeroize();
    digits.zeroize();
}

fn base62_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'Z' => Some(byte - b'A' + 10),
        b'a'..=b'z' => Some(byte - b'a' + 36),
        _ => None,
    }
}

/// The checksum's value, or `None` if it is not base62 or exceeds 32 bits
/// (six base62 digits reach 62⁶ − 1 ≈ 2³⁵·⁷).
fn decode_checksum(digits: &[u8]) -> Option<u32> {
    let value = digits.iter().try_fold(0u64, |value, &byte| {
        Some(value * 62 + u64::from(base62_value(byte)?))
    })?;
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documentation example: "random" bytes 0, 1, …, 31 for `dev`.
    const DOC_EXAMPLE: &str = "mcpg_dev_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf3aUIUF";

    fn sequential_bytes() -> [u8; SECRET_BYTES] {
        std::array::from_fn(|i| i as u8)
    }

    fn base62(value: &[u8], width: usize) -> String {
        let mut out = String::new();
        push_base62(&mut out, value, width);
        out
    }

    /// Multiplies a little-endian number in u32 limbs by `factor`.
    fn mul_small(limbs: &mut Vec<u32>, factor: u32) {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }

    fn bits(limbs: &[u32]) -> u32 {
        let top = limbs.last().copied().unwrap_or(0);
        (limbs.len() as u32 - 1) * 32 + (32 - top.leading_zeros())
    }

    #[test]
    fn forty_three_base62_digits_are_the_fewest_that_hold_256_bits() {
        // 62^n has at least 257 bits (so exceeds 2^256 − 1) exactly when
        // every 256-bit value fits in n digits.
        let mut power = vec![1u32];
        for _ in 0..SECRET_LEN - 1 {
            mul_small(&mut power, 62);
        }
        assert!(bits(&power) <= 256, "62^42 must not cover 2^256");
        mul_small(&mut power, 62);
        assert!(bits(&power) > 256, "62^43 must cover 2^256");
    }

    #[test]
    fn six_base62_digits_are_the_fewest_that_hold_32_bits() {
        assert!(62u64.pow(CHECKSUM_LEN as u32) > 1 << 32);
        assert!(62u64.pow(CHECKSUM_LEN as u32 - 1) < 1 << 32);
    }

    #[test]
    fn base62_is_fixed_width_and_left_padded() {
        assert_eq!(base62(&[0; 32], SECRET_LEN), "0".repeat(SECRET_LEN));
        assert_eq!(base62(&[0, 0, 0, 61], CHECKSUM_LEN), "00000z");
        assert_eq!(base62(&[0, 0, 0, 62], CHECKSUM_LEN), "000010");
        assert_eq!(base62(&u32::MAX.to_be_bytes(), CHECKSUM_LEN), "4gfFC3");
        let max = base62(&[0xff; 32], SECRET_LEN);
        assert_eq!(max.len(), SECRET_LEN);
        assert!(max.bytes().all(|b| base62_value(b).is_some()));
    }

    #[test]
    fn checksum_round_trips_through_base62() {
        for value in [0, 1, 61, 62, 0xdead_beef, u32::MAX] {
            let text = base62(&value.to_be_bytes(), CHECKSUM_LEN);
            assert_eq!(decode_checksum(text.as_bytes()), Some(value));
        }
        // Six digits can spell numbers above u32::MAX; those are not checksums.
        assert_eq!(decode_checksum(b"zzzzzz"), None);
        assert_eq!(decode_checksum(b"4gfFC4"), None);
    }

    #[test]
    fn uses_the_standard_crc32() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn the_documented_example_is_what_assemble_builds() {
        assert_eq!(assemble("dev", &sequential_bytes()), DOC_EXAMPLE);
        let parsed = parse(DOC_EXAMPLE).unwrap();
        assert_eq!(parsed.environment, "dev");
        assert_eq!(parsed.key, DOC_EXAMPLE);
    }

    #[test]
    fn parsed_key_debug_hides_the_key() {
        let debug = format!("{:?}", parse(DOC_EXAMPLE).unwrap());
        assert!(!debug.contains("003aUlTJC7"), "{debug}");
        assert!(debug.contains("dev"), "{debug}");
    }
}
