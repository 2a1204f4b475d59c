//! The scope hierarchy: broader scopes imply narrower ones.

use std::collections::BTreeSet;

/// `scope_implies`, checked and ready to expand scope sets.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeHierarchy {
    rules: Vec<Implication>,
}

/// `from` implies each of `to`. With `wildcard`, `from` and every `to` end
/// in `*` (stripped here), and the suffix a scope has after `from` carries
/// over: `write:*` ⊃ `read:*` makes `write:orders` imply `read:orders`.
#[derive(Debug, Clone)]
struct Implication {
    from: String,
    to: Vec<String>,
    wildcard: bool,
}

impl ScopeHierarchy {
    /// Check `scope_implies` entries.
    pub(crate) fn new<'a>(
        entries: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (from, to) in entries {
            let wildcard = from.ends_with('*');
            if from.trim_end_matches('*').contains('*') || from.matches('*').count() > 1 {
                return Err(format!(
                    "authz.scope_implies: `{from}` may hold one `*`, at the end only"
                ));
            }
            for narrower in to {
                if narrower.ends_with('*') != wildcard
                    || narrower.trim_end_matches('*').contains('*')
                    || narrower.matches('*').count() > 1
                {
                    return Err(format!(
                        "authz.scope_implies: `{from}` = [\"{narrower}\"]: either both sides end in one `*` \
                         (`\"write:*\" = [\"read:*\"]`) or neither has one"
                    ));
                }
            }
            rules.push(Implication {
                from: from.trim_end_matches('*').to_owned(),
                to: to
                    .iter()
                    .map(|s| s.trim_end_matches('*').to_owned())
                    .collect(),
                wildcard,
            });
        }
        Ok(ScopeHierarchy { rules })
    }

    /// `scopes` and everything they imply, transitively. Each newly implied
    /// scope is reported to `note` with the scope that implied it.
    pub(crate) fn expand(&self, scopes: &mut BTreeSet<String>, mut note: impl FnMut(&str, &str)) {
        if self.rules.is_empty() {
            return;
        }
        let mut pending: Vec<String> = scopes.iter().cloned().collect();
        while let Some(scope) = pending.pop() {
            for rule in &self.rules {
                let suffix = if rule.wildcard {
                    match scope.strip_prefix(rule.from.as_str()) {
                        Some(suffix) => suffix,
                        None => continue,
                    }
                } else if scope == rule.from {
                    ""
                } else {
                    continue;
                };
                for narrower in &rule.to {
                    let implied = format!("{narrower}{suffix}");
                    if scopes.insert(implied.clone()) {
                        note(&implied, &scope);
                        pending.push(implied);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn hierarchy(entries: &[(&str, &[&str])]) -> Result<ScopeHierarchy, String> {
        let map: BTreeMap<String, Vec<String>> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        ScopeHierarchy::new(&map)
    }

    fn expand(h: &ScopeHierarchy, scopes: &[&str]) -> Vec<String> {
        let mut set: BTreeSet<String> = scopes.iter().map(|s| s.to_string()).collect();
        h.expand(&mut set, |_, _| {});
        set.into_iter().collect()
    }

    #[test]
    fn broader_scopes_imply_narrower_ones_transitively() {
        let h = hierarchy(&[
            ("admin", &["write"]),
            ("write", &["read"]),
            ("write:*", &["read:*"]),
        ])
        .unwrap();
        assert_eq!(expand(&h, &["admin"]), ["admin", "read", "write"]);
        assert_eq!(
            expand(&h, &["write:customers"]),
            ["read:customers", "write:customers"]
        );
        assert_eq!(expand(&h, &["read"]), ["read"], "never upwards");
        assert_eq!(expand(&h, &["administrator"]), ["administrator"]);
    }

    #[test]
    fn cycles_end() {
        let h = hierarchy(&[("a", &["b"]), ("b", &["a"])]).unwrap();
        assert_eq!(expand(&h, &["a"]), ["a", "b"]);
    }

    #[test]
    fn malformed_wildcards_are_refused() {
        assert!(hierarchy(&[("write:*", &["read"])]).is_err());
        assert!(hierarchy(&[("wr*ite", &["read"])]).is_err());
        assert!(hierarchy(&[("write", &["read:*"])]).is_err());
    }
}
