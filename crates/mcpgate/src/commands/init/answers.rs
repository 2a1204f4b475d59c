//! The answers `mcpgate init` asks for, and how a typed answer is read.
//!
//! The same parsers serve the flags and the terminal prompts, so a value is
//! accepted or refused the same way, with the same message naming the
//! allowed values.

use std::fmt;

use url::Url;

/// Where the gateway runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// On this machine, for its user.
    Local,
    /// On a server, reached over the network.
    Remote,
}

/// Who calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Users {
    /// One person.
    One,
    /// A team of people.
    Team,
    /// Machines only: services, jobs, automation.
    Services,
    /// Customers, outside the organisation.
    Customers,
}

/// Everything the recommendation depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// Where the gateway runs.
    pub runs: Runs,
    /// Who calls it.
    pub users: Users,
    /// Whether calls act on behalf of individual users.
    pub on_behalf_of_users: bool,
    /// The identity provider's issuer URL, if there is one.
    pub idp: Option<Url>,
    /// Whether compliance requires certificate (mutual TLS) authentication.
    pub certificates: bool,
    /// Roughly how many client applications or agents call it (at least 1).
    pub clients: u32,
}

impl Answers {
    /// Whether the answers describe one person on their own machine: the
    /// only case where the remaining questions do not matter.
    pub fn is_local_single_user(runs: Runs, users: Users) -> bool {
        runs == Runs::Local && users == Users::One
    }
}

/// The allowed values of `--runs`.
pub const RUNS_VALUES: &[&str] = &["local", "remote"];
/// The allowed values of `--users`.
pub const USERS_VALUES: &[&str] = &["one", "team", "services", "customers"];
/// The allowed values of a yes/no answer.
pub const YES_NO_VALUES: &[&str] = &["yes", "no"];

/// A value that is not one of the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnswer {
    /// What was given.
    pub given: String,
    /// What is accepted, and how to write it.
    pub expected: String,
}

impl fmt::Display for InvalidAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not {}", self.given, self.expected)
    }
}

fn one_of(given: &str, allowed: &[&str]) -> InvalidAnswer {
    InvalidAnswer {
        given: given.to_owned(),
        expected: format!("one of: {}", allowed.join(", ")),
    }
}

/// `local` or `remote`.
pub fn parse_runs(text: &str) -> Result<Runs, InvalidAnswer> {
    match text.trim().to_ascii_lowercase().as_str() {
        "local" => Ok(Runs::Local),
        "remote" => Ok(Runs::Remote),
        _ => Err(one_of(text.trim(), RUNS_VALUES)),
    }
}

/// `one`, `team`, `services` or `customers`.
pub fn parse_users(text: &str) -> Result<Users, InvalidAnswer> {
    match text.trim().to_ascii_lowercase().as_str() {
        "one" => Ok(Users::One),
        "team" => Ok(Users::Team),
        "services" => Ok(Users::Services),
        "customers" => Ok(Users::Customers),
        _ => Err(one_of(text.trim(), USERS_VALUES)),
    }
}

/// `yes`/`no` (also `y`/`n`).
pub fn parse_yes_no(text: &str) -> Result<bool, InvalidAnswer> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" => Ok(true),
        "no" | "n" => Ok(false),
        _ => Err(one_of(text.trim(), YES_NO_VALUES)),
    }
}

/// An issuer URL (https, or http on loopback, as `[[auth.jwt]]` accepts),
/// or `none`.
pub fn parse_idp(text: &str) -> Result<Option<Url>, InvalidAnswer> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("no") {
        return Ok(None);
    }
    let invalid = |why: &str| InvalidAnswer {
        given: text.to_owned(),
        expected: format!(
            "{why}: give your identity provider's issuer URL \
             (e.g. https://login.example.com/realms/acme), or `none`"
        ),
    };
    let url = Url::parse(text).map_err(|_| invalid("a URL"))?;
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(invalid("an https URL (http is accepted on loopback only)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("an issuer URL without query or fragment"));
    }
    Ok(Some(url))
}

/// A count of at least 1.
pub fn parse_clients(text: &str) -> Result<u32, InvalidAnswer> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(InvalidAnswer {
            given: text.trim().to_owned(),
            expected: "a whole number of at least 1".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_case_insensitively_and_trimmed() {
        assert_eq!(parse_runs(" Local\n"), Ok(Runs::Local));
        assert_eq!(parse_runs("remote"), Ok(Runs::Remote));
        assert_eq!(parse_users("TEAM"), Ok(Users::Team));
        assert_eq!(parse_users("customers"), Ok(Users::Customers));
        assert_eq!(parse_yes_no("y"), Ok(true));
        assert_eq!(parse_yes_no("No"), Ok(false));
        assert_eq!(parse_clients(" 12 "), Ok(12));
        assert_eq!(parse_idp("none"), Ok(None));
        assert_eq!(
            parse_idp("https://login.example.com/realms/acme")
                .unwrap()
                .unwrap()
                .as_str(),
            "https://login.example.com/realms/acme"
        );
        assert!(parse_idp("http://127.0.0.1:9000").unwrap().is_some());
    }

    #[test]
    fn unknown_values_name_the_allowed_ones() {
        assert_eq!(
            parse_runs("cloud").unwrap_err().to_string(),
            "`cloud` is not one of: local, remote"
        );
        assert_eq!(
            parse_users("everyone").unwrap_err().to_string(),
            "`everyone` is not one of: one, team, services, customers"
        );
        assert_eq!(
            parse_yes_no("maybe").unwrap_err().to_string(),
            "`maybe` is not one of: yes, no"
        );
        assert!(
            parse_clients("0")
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        assert!(parse_clients("many").is_err());
        let plain_http = parse_idp("http://login.example.com")
            .unwrap_err()
            .to_string();
        assert!(plain_http.contains("https URL"), "{plain_http}");
        assert!(parse_idp("login.example.com").is_err());
        assert!(parse_idp("https://login.example.com/?x=1").is_err());
    }
}
