//! The API key format as a client and an operator meet it: keys are minted
//! per environment, round-trip through `parse`, and any typo, truncation or
//! foreign string is refused before a database is ever asked.

use std::collections::HashSet;

use mcpgate_auth::api_key::{
    KEY_PREFIX, KeyFormatError, generate, hashes_match, key_hash, new_key_id, parse,
};
use secrecy::ExposeSecret;

const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 secret characters and 6 checksum characters.
const BODY_LEN: usize = 49;

fn mint(environment: &str) -> String {
    generate(environment)
        .expect("a valid environment")
        .secret
        .expose_secret()
        .to_owned()
}

fn replace_at(key: &str, index: usize, replacement: char) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    chars[index] = replacement;
    chars.into_iter().collect()
}

#[test]
fn generated_keys_round_trip_through_parse() {
    for environment in ["prod", "staging", "dev", "eu1", "0", "abcdefghijklmnop"] {
        let new = generate(environment).unwrap();
        assert_eq!(new.environment, environment);
        let key = new.secret.expose_secret();

        let prefix = format!("{KEY_PREFIX}{environment}_");
        assert!(key.starts_with(&prefix), "{environment}");
        assert_eq!(key.len(), prefix.len() + BODY_LEN);
        assert!(key[prefix.len()..].chars().all(|c| BASE62.contains(c)));

        let parsed = parse(key).unwrap();
        assert_eq!(parsed.environment, environment);
        assert_eq!(parsed.key, key);
    }
}

#[test]
fn keys_are_random_and_never_repeat() {
    let keys: HashSet<String> = (0..200).map(|_| mint("prod")).collect();
    assert_eq!(keys.len(), 200);
    // Every position of the secret varies, so none is stuck at a constant
    // (a sign of a short or badly encoded random value).
    let secret_start = "mcpg_prod_".len();
    for position in secret_start..secret_start + 43 {
        let seen: HashSet<u8> = keys.iter().map(|k| k.as_bytes()[position]).collect();
        assert!(seen.len() > 1, "position {position} never changes");
    }
}

#[test]
fn the_secret_is_kept_out_of_debug_output() {
    let new = generate("prod").unwrap();
    let debug = format!("{new:?}");
    assert!(!debug.contains(new.secret.expose_secret()), "{debug}");
    assert!(debug.contains("prod"));
}

#[test]
fn every_single_character_typo_is_caught() {
    for environment in ["prod", "dev", "x9"] {
        for _ in 0..3 {
            let key = mint(environment);
            let separator = KEY_PREFIX.len() + environment.len();
            for (index, original) in key.char_indices() {
                for replacement in BASE62.chars().chain(['_', '-', ' ', 'é']) {
                    if replacement == original {
                        continue;
                    }
                    let typo = replace_at(&key, index, replacement);
                    let error = parse(&typo).expect_err(&format!("{typo} was accepted"));
                    let expected = if index < KEY_PREFIX.len() {
                        KeyFormatError::NotAnMcpgateKey
                    } else if index < separator {
                        if replacement.is_ascii_lowercase() || replacement.is_ascii_digit() {
                            KeyFormatError::BadChecksum
                        } else {
                            KeyFormatError::BadEnvironment
                        }
                    } else if index == separator {
                        KeyFormatError::Malformed
                    } else if BASE62.contains(replacement) {
                        KeyFormatError::BadChecksum
                    } else {
                        KeyFormatError::Malformed
                    };
                    assert_eq!(error, expected, "{key} with {replacement:?} at {index}");
                }
            }
        }
    }
}

#[test]
fn swapping_neighbouring_characters_is_caught() {
    let key = mint("prod");
    let bytes = key.as_bytes();
    for index in "mcpg_prod_".len()..key.len() - 1 {
        if bytes[index] == bytes[index + 1] {
            continue;
        }
        let mut swapped = bytes.to_vec();
        swapped.swap(index, index + 1);
        let swapped = String::from_utf8(swapped).unwrap();
        assert_eq!(parse(&swapped).unwrap_err(), KeyFormatError::BadChecksum);
    }
}

#[test]
fn truncated_or_extended_keys_are_malformed() {
    let key = mint("staging");
    for len in 0..key.len() {
        let truncated = &key[..len];
        let error = parse(truncated).unwrap_err();
        if len < KEY_PREFIX.len() {
            assert_eq!(error, KeyFormatError::NotAnMcpgateKey, "{truncated}");
        } else {
            assert_ne!(error, KeyFormatError::NotAnMcpgateKey, "{truncated}");
        }
    }
    for extra in ["0", "z", "_", "00", "\n", " "] {
        let extended = format!("{key}{extra}");
        assert_eq!(parse(&extended).unwrap_err(), KeyFormatError::Malformed);
    }
    // Surrounding whitespace is the caller's to trim, not the parser's.
    assert_eq!(
        parse(&format!(" {key}")).unwrap_err(),
        KeyFormatError::NotAnMcpgateKey
    );
}

#[test]
fn foreign_credentials_are_not_mcpgate_keys() {
    let key = mint("prod");
    let body = &key["mcpg_".len()..];
    for foreign in [
        "",
        "mcpg",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "Bearer mcpg_prod_x",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        &format!("MCPG_{body}"),
        &format!("mcpgx{body}"),
        &format!("mcp_{body}"),
    ] {
        assert_eq!(
            parse(foreign).unwrap_err(),
            KeyFormatError::NotAnMcpgateKey,
            "{foreign}"
        );
    }
}

#[test]
fn environments_must_be_short_lower_case_alphanumerics() {
    let body = &mint("dev")["mcpg_dev_".len()..];
    for bad in [
        "",
        "Prod",
        "PROD",
        "stag-ing",
        "my_env",
        "prod ",
        "pród",
        "abcdefghijklmnopq",
    ] {
        assert_eq!(
            generate(bad).unwrap_err(),
            KeyFormatError::BadEnvironment,
            "{bad:?}"
        );
        let presented = format!("{KEY_PREFIX}{bad}_{body}");
        assert_eq!(
            parse(&presented).unwrap_err(),
            KeyFormatError::BadEnvironment,
            "{bad:?}"
        );
    }
}

#[test]
fn a_key_moved_to_another_environment_fails_its_checksum() {
    let key = mint("staging");
    let moved = key.replacen("staging", "prod", 1);
    assert_eq!(parse(&moved).unwrap_err(), KeyFormatError::BadChecksum);
}

#[test]
fn hostile_input_is_refused_without_panicking() {
    let key = mint("prod");
    let megabyte = 1 << 20;
    let inputs = [
        "a".repeat(megabyte),
        "_".repeat(megabyte),
        format!("{KEY_PREFIX}{}", "a".repeat(megabyte)),
        format!("{KEY_PREFIX}{}", "_".repeat(megabyte)),
        // A valid key's tail after a megabyte of environment.
        format!(
            "{KEY_PREFIX}{}{}",
            "a".repeat(megabyte),
            &key["mcpg_".len()..]
        ),
        "é".repeat(megabyte / 2),
        format!("{KEY_PREFIX}{}", "é".repeat(100)),
        format!("{KEY_PREFIX}prod_{}", "é".repeat(BODY_LEN)),
        // Multi-byte characters placed so that the body and separator
        // offsets land inside them.
        format!("{KEY_PREFIX}é_{}", "€".repeat(17)),
        format!("{KEY_PREFIX}{}_{}", "€", &key[key.len() - BODY_LEN..]),
        format!("{}\u{0}", &key),
        "\u{0}".repeat(70),
        "mcpg_\u{1F600}".to_owned(),
    ];
    for input in &inputs {
        assert!(parse(input).is_err(), "accepted {} bytes", input.len());
    }
    // Any prefix of any of them, cut on a char boundary, is refused too.
    let sample = format!("{KEY_PREFIX}ü_{}", "€".repeat(20));
    for (end, _) in sample.char_indices() {
        assert!(parse(&sample[..end]).is_err());
    }
}

#[test]
fn key_hash_is_a_deterministic_peppered_hmac() {
    let key = mint("prod");
    let other_key = mint("prod");
    let hash = key_hash(b"pepper one", &key);

    assert_eq!(hash.len(), 64);
    assert!(
        hash.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_eq!(hash, key_hash(b"pepper one", &key));
    assert_ne!(hash, key_hash(b"pepper two", &key));
    assert_ne!(hash, key_hash(b"pepper one", &other_key));
    assert_ne!(hash, key_hash(b"", &key));
}

#[test]
fn key_hash_matches_rfc_4231_hmac_sha256() {
    // RFC 4231, test case 2.
    assert_eq!(
        key_hash(b"Jefe", "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn hashes_match_compares_whole_hashes() {
    let key = mint("prod");
    let stored = key_hash(b"pepper", &key);

    assert!(hashes_match(&stored, &key_hash(b"pepper", &key)));
    assert!(!hashes_match(&stored, &key_hash(b"pepper", &mint("prod"))));
    assert!(!hashes_match(&stored, &key_hash(b"other", &key)));

    // One differing character, first or last.
    assert!(!hashes_match(
        &stored,
        &replace_at(&stored, 0, flip(&stored, 0))
    ));
    assert!(!hashes_match(
        &stored,
        &replace_at(&stored, 63, flip(&stored, 63))
    ));

    // Different lengths never match, even when one is a prefix of the other.
    assert!(!hashes_match(&stored, &stored[..63]));
    assert!(!hashes_match(&stored, &format!("{stored}0")));
    assert!(!hashes_match(&stored, ""));
    assert!(hashes_match("", ""));
}

fn flip(hash: &str, index: usize) -> char {
    if hash.as_bytes()[index] == b'0' {
        '1'
    } else {
        '0'
    }
}

#[test]
fn key_ids_are_random_and_shaped_for_display() {
    let ids: HashSet<String> = (0..100).map(|_| new_key_id().unwrap()).collect();
    assert_eq!(ids.len(), 100);
    for id in &ids {
        let hex = id.strip_prefix("key_").expect("key_ prefix");
        assert_eq!(hex.len(), 16);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_eq!(
            parse(id).unwrap_err(),
            KeyFormatError::NotAnMcpgateKey,
            "an id is never mistaken for a key"
        );
    }
}

#[test]
fn errors_say_what_to_do_and_never_echo_the_key() {
    let key = mint("prod");
    let typo = replace_at(&key, 20, if key.as_bytes()[20] == b'0' { '1' } else { '0' });
    let error = parse(&typo).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("copy it again"), "{message}");
    assert!(!message.contains(&typo[10..]), "{message}");
    assert!(
        KeyFormatError::Malformed
            .to_string()
            .contains("whole key was copied")
    );
}
