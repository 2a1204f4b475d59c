//! Answers → the authentication strategy to use, with the reason.
//!
//! A pure function, so that the whole decision table can be tested and
//! documented (docs/CHOOSING-A-STRATEGY.md). The first row that matches
//! wins:
//!
//! | # | answers | strategy |
//! |---|---|---|
//! | 1 | runs `local`, users `one` | stdio, no authentication |
//! | 2 | compliance needs certificates | mutual TLS |
//! | 3 | customers, or calls on behalf of users, with an IdP | OAuth (the IdP as authorization server) |
//! | 4 | customers, or calls on behalf of users, no IdP | API keys, one per user, until there is one |
//! | 5 | a team, with an IdP | JWT from the IdP |
//! | 6 | a team, no IdP | API keys, one per person |
//! | 7 | services or one remote person, with an IdP, more than 10 clients | JWT (client credentials) |
//! | 8 | services or one remote person, otherwise | API keys |

use super::answers::{Answers, Users};

/// Above this many clients, static keys become a chore to rotate.
pub const MANY_CLIENTS: u32 = 10;

/// The authentication strategies `init` can write a config for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// No network listener: a desktop client starts `mcpgate serve --stdio`.
    Stdio,
    /// API keys minted with `mcpgate keys create`.
    ApiKeys,
    /// Client certificates verified in the TLS handshake.
    MutualTls,
    /// JWT access tokens from the organisation's identity provider.
    Jwt,
    /// OAuth access tokens for this gateway, issued by the identity
    /// provider acting as authorization server.
    OAuth,
}

impl Strategy {
    /// The name shown to people.
    pub fn title(self) -> &'static str {
        match self {
            Strategy::Stdio => "stdio, no authentication (local, single user)",
            Strategy::ApiKeys => "API keys",
            Strategy::MutualTls => "mutual TLS (client certificates)",
            Strategy::Jwt => "JWT access tokens from your identity provider",
            Strategy::OAuth => "OAuth, with your identity provider as the authorization server",
        }
    }
}

/// What `init` recommends, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// The strategy.
    pub strategy: Strategy,
    /// Which row of the decision table matched (1-based; see the module doc).
    pub rule: u8,
    /// Why, in a sentence or three.
    pub reason: String,
    /// Caveats and what to do later.
    pub notes: Vec<String>,
}

/// The note every OAuth recommendation carries: what exists today, and what
/// does not.
pub const FEDERATION_NOT_BUILT: &str = "Federation through mcpgate's own authorization server \
    (one sign-in for several identity providers, consent, tokens issued by mcpgate) is planned, \
    not built: today your identity provider issues the tokens and mcpgate is the resource server \
    that checks them.";

/// Recommend a strategy for `answers`.
pub fn recommend(answers: &Answers) -> Recommendation {
    let has_idp = answers.idp.is_some();
    let many = answers.clients > MANY_CLIENTS;
    let for_users = answers.on_behalf_of_users || answers.users == Users::Customers;
    let who = if answers.users == Users::Customers {
        "your customers"
    } else {
        "users"
    };
    let mut notes = Vec::new();

    if Answers::is_local_single_user(answers.runs, answers.users) {
        if answers.certificates {
            notes.push(
                "Certificate authentication is for network connections; over stdio there is \
                 none, and the operating-system account is the boundary. If the gateway moves \
                 to a server, run `mcpgate init --runs remote` again."
                    .to_owned(),
            );
        }
        return Recommendation {
            strategy: Strategy::Stdio,
            rule: 1,
            reason: "It runs on this machine for one person: a desktop MCP client starts \
                     `mcpgate serve --stdio` itself, so there is no network listener to protect \
                     and the caller is the operating-system user who started it. No \
                     authentication is needed, and none is configured."
                .to_owned(),
            notes,
        };
    }

    if answers.certificates {
        if for_users {
            notes.push(format!(
                "A client certificate identifies the client, not the person it acts for: \
                 calls are attributed to the certificate. Per-user attribution for {who} needs \
                 tokens from an identity provider ([[auth.jwt]])."
            ));
        }
        if many {
            notes.push(format!(
                "{} clients means {} certificates: issue them from an automated CA with short \
                 lifetimes, and publish revocation lists (server.tls.crls).",
                answers.clients, answers.clients
            ));
        }
        return Recommendation {
            strategy: Strategy::MutualTls,
            rule: 2,
            reason: "Compliance requires certificate authentication: every client presents a \
                     certificate from your CA, verified in the TLS handshake before any request \
                     is read, so a foreign or revoked certificate never reaches the gateway. \
                     Certificates get read-only scopes; grant more to particular subjects with \
                     a role."
                .to_owned(),
            notes,
        };
    }

    if for_users {
        if has_idp {
            notes.push(FEDERATION_NOT_BUILT.to_owned());
            return Recommendation {
                strategy: Strategy::OAuth,
                rule: 3,
                reason: format!(
                    "Calls act for {who}: each person signs in at your identity provider and \
                     grants the agent an access token for this gateway only (its audience), so \
                     every call is theirs, with their scopes, and a missing scope gets a 403 the \
                     client can step up from. That is OAuth as the MCP specification prescribes \
                     for HTTP: your identity provider is the authorization server, mcpgate the \
                     resource server that publishes where to get tokens (RFC 9728)."
                ),
                notes,
            };
        }
        notes.push(
            "When you have an identity provider, run `mcpgate init --idp URL` again to move \
             to OAuth."
                .to_owned(),
        );
        return Recommendation {
            strategy: Strategy::ApiKeys,
            rule: 4,
            reason: format!(
                "Calls act for {who}, which calls for OAuth, but OAuth needs an authorization \
                 server to sign people in and issue tokens, and you have no identity provider \
                 (mcpgate's own authorization server is planned, not built). Until you have \
                 one: one API key per person, named after them, scoped, read-only by default \
                 and expiring, so the audit log attributes every call to its key."
            ),
            notes,
        };
    }

    if answers.users == Users::Team {
        if has_idp {
            return Recommendation {
                strategy: Strategy::Jwt,
                rule: 5,
                reason: "A team of people with an identity provider: each person's access \
                         token names them, so every call is attributed to a person in the audit \
                         log, identity-provider groups map to roles, and removing someone at the \
                         identity provider removes their access here. No shared secrets to hand \
                         out."
                    .to_owned(),
                notes,
            };
        }
        notes.push(
            "When you have an identity provider, run `mcpgate init --idp URL` again: tokens \
             that name each person replace keys you hand out and rotate yourself."
                .to_owned(),
        );
        return Recommendation {
            strategy: Strategy::ApiKeys,
            rule: 6,
            reason: "A team without an identity provider: one API key per person, named after \
                     them, so the audit log attributes every call; scoped, read-only by default, \
                     expiring, rotated with overlap and revocable on every instance within a \
                     second."
                .to_owned(),
            notes,
        };
    }

    // Services, or one person reaching a remote gateway.
    if has_idp && many {
        return Recommendation {
            strategy: Strategy::Jwt,
            rule: 7,
            reason: format!(
                "Many clients ({}) and an identity provider: each client gets short-lived access \
                 tokens from it (the client-credentials grant), so there are no long-lived \
                 secrets to rotate by hand; mcpgate checks issuer, audience, expiry and scopes.",
                answers.clients
            ),
            notes,
        };
    }
    if many {
        notes.push(format!(
            "{} clients means {} keys to rotate: an identity provider issuing short-lived \
             client-credentials tokens scales better (`mcpgate init --idp URL`).",
            answers.clients, answers.clients
        ));
    }
    notes.push(
        "For high-value automation (anything that writes to production), consider mutual TLS: \
         `mcpgate init --certificates yes`."
            .to_owned(),
    );
    Recommendation {
        strategy: Strategy::ApiKeys,
        rule: 8,
        reason: "Service-to-service: one API key per client, scoped, read-only by default, \
                 expiring and rotated with overlap; stored only as a keyed hash, and revocable \
                 on every instance within a second."
            .to_owned(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::init::answers::Runs;

    const ALL_RUNS: [Runs; 2] = [Runs::Local, Runs::Remote];
    const ALL_USERS: [Users; 4] = [Users::One, Users::Team, Users::Services, Users::Customers];
    /// Both sides of MANY_CLIENTS and the extremes.
    const CLIENT_COUNTS: [u32; 4] = [1, MANY_CLIENTS, MANY_CLIENTS + 1, u32::MAX];

    /// Every combination of answers that matters (2 × 4 × 2 × 2 × 2 × 4 = 256).
    fn every_answer() -> Vec<Answers> {
        let idps = [
            None,
            Some(url::Url::parse("https://login.example.com").unwrap()),
        ];
        let mut all = Vec::new();
        for runs in ALL_RUNS {
            for users in ALL_USERS {
                for on_behalf_of_users in [false, true] {
                    for idp in &idps {
                        for certificates in [false, true] {
                            for clients in CLIENT_COUNTS {
                                all.push(Answers {
                                    runs,
                                    users,
                                    on_behalf_of_users,
                                    idp: idp.clone(),
                                    certificates,
                                    clients,
                                });
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// The decision table as docs/CHOOSING-A-STRATEGY.md writes it: each
    /// row is a condition over the answers; the first that holds wins.
    fn table_row(a: &Answers) -> (u8, Strategy) {
        let local_one = a.runs == Runs::Local && a.users == Users::One;
        let for_users = a.users == Users::Customers || a.on_behalf_of_users;
        let idp = a.idp.is_some();
        let rows: [(bool, Strategy); 8] = [
            (local_one, Strategy::Stdio),
            (a.certificates, Strategy::MutualTls),
            (for_users && idp, Strategy::OAuth),
            (for_users && !idp, Strategy::ApiKeys),
            (a.users == Users::Team && idp, Strategy::Jwt),
            (a.users == Users::Team && !idp, Strategy::ApiKeys),
            (idp && a.clients > 10, Strategy::Jwt),
            (true, Strategy::ApiKeys),
        ];
        let (index, (_, strategy)) = rows
            .iter()
            .enumerate()
            .find(|(_, (holds, _))| *holds)
            .expect("the last row always holds");
        (index as u8 + 1, *strategy)
    }

    #[test]
    fn every_combination_follows_the_documented_table() {
        let all = every_answer();
        assert_eq!(all.len(), 256);
        let mut rows_seen = [0usize; 8];
        for answers in &all {
            let got = recommend(answers);
            let (rule, strategy) = table_row(answers);
            assert_eq!(
                (got.rule, got.strategy),
                (rule, strategy),
                "for {answers:?}"
            );
            rows_seen[rule as usize - 1] += 1;
            assert!(got.reason.len() > 80, "a real reason for {answers:?}");
        }
        // Every row is reachable (the table has no dead rows).
        assert!(rows_seen.iter().all(|&n| n > 0), "{rows_seen:?}");
    }

    #[test]
    fn only_a_local_single_user_goes_without_authentication() {
        for answers in every_answer() {
            let stdio = recommend(&answers).strategy == Strategy::Stdio;
            assert_eq!(
                stdio,
                answers.runs == Runs::Local && answers.users == Users::One,
                "{answers:?}"
            );
        }
    }

    #[test]
    fn certificates_always_win_off_the_local_machine() {
        for answers in every_answer().into_iter().filter(|a| a.certificates) {
            let got = recommend(&answers);
            if got.strategy != Strategy::Stdio {
                assert_eq!(got.strategy, Strategy::MutualTls, "{answers:?}");
            } else {
                assert!(
                    got.notes
                        .iter()
                        .any(|n| n.contains("over stdio there is none")),
                    "the stdio answer says why certificates do not apply: {got:?}"
                );
            }
        }
    }

    #[test]
    fn tokens_are_recommended_only_with_an_identity_provider() {
        for answers in every_answer() {
            let got = recommend(&answers);
            if matches!(got.strategy, Strategy::Jwt | Strategy::OAuth) {
                assert!(answers.idp.is_some(), "{answers:?} → {got:?}");
            }
        }
    }

    #[test]
    fn oauth_says_what_is_not_built() {
        for answers in every_answer() {
            let got = recommend(&answers);
            let mentions = got.notes.iter().any(|n| n == FEDERATION_NOT_BUILT)
                || got.reason.contains("planned, not built");
            if got.strategy == Strategy::OAuth || got.rule == 4 {
                assert!(mentions, "{answers:?} → {got:?}");
            }
        }
    }

    #[test]
    fn reasons_and_notes_fit_the_answers() {
        let base = Answers {
            runs: Runs::Remote,
            users: Users::Services,
            on_behalf_of_users: false,
            idp: None,
            certificates: false,
            clients: 3,
        };
        let keys = recommend(&base);
        assert_eq!((keys.rule, keys.strategy), (8, Strategy::ApiKeys));
        assert!(keys.notes.iter().any(|n| n.contains("--certificates yes")));
        assert!(!keys.notes.iter().any(|n| n.contains("keys to rotate")));

        let many = recommend(&Answers {
            clients: 40,
            ..base.clone()
        });
        assert!(
            many.notes
                .iter()
                .any(|n| n.contains("40 clients means 40 keys")),
            "{many:?}"
        );

        let customers = recommend(&Answers {
            users: Users::Customers,
            idp: Some(url::Url::parse("https://login.example.com").unwrap()),
            ..base.clone()
        });
        assert_eq!(customers.strategy, Strategy::OAuth);
        assert!(customers.reason.contains("your customers"), "{customers:?}");

        let mtls_for_users = recommend(&Answers {
            certificates: true,
            on_behalf_of_users: true,
            clients: 500,
            ..base
        });
        assert_eq!(mtls_for_users.strategy, Strategy::MutualTls);
        assert_eq!(mtls_for_users.notes.len(), 2, "{mtls_for_users:?}");
    }
}
