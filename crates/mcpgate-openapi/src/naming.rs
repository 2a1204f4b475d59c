//! Deterministic, valid and unique tool names.

use std::collections::HashSet;

use mcpgate_core::is_valid_tool_name;

const MAX_LEN: usize = 64;

/// Hands out tool names, in document order, so that the same spec always
/// yields the same names.
#[derive(Default)]
pub(crate) struct NameAllocator {
    used: HashSet<String>,
}

/// A name and, when it differs from what the spec asked for, why.
pub(crate) struct Allocated {
    pub(crate) name: String,
    pub(crate) changed: Option<String>,
}

impl NameAllocator {
    /// Name an operation from its `operationId`, or else from its method and
    /// path (`get /pets/{petId}` → `get_pets_petId`).
    pub(crate) fn allocate(
        &mut self,
        operation_id: Option<&str>,
        method: &str,
        path: &str,
    ) -> Allocated {
        let (wanted, from_id) = match operation_id.filter(|id| !id.trim().is_empty()) {
            Some(id) => (id.to_owned(), true),
            None => (format!("{method}_{path}"), false),
        };
        let mut reasons = Vec::new();
        let mut name = sanitise(&wanted);
        if from_id && name != wanted {
            reasons.push("it contained characters outside [a-zA-Z0-9_-]");
        }
        if name.len() > MAX_LEN {
            name = shorten(&name, MAX_LEN);
            reasons.push("it was longer than 64 characters");
        }
        if self.used.contains(&name) {
            name = self.disambiguate(&name);
            reasons.push("it collided with an earlier tool");
        }
        debug_assert!(is_valid_tool_name(&name));
        self.used.insert(name.clone());
        let changed = (!reasons.is_empty()).then(|| {
            let source = if from_id {
                format!("operationId `{wanted}`")
            } else {
                format!("`{} {path}`", method.to_ascii_uppercase())
            };
            format!("{source} became `{name}` because {}", reasons.join(" and "))
        });
        Allocated { name, changed }
    }

    fn disambiguate(&self, name: &str) -> String {
        (2..)
            .map(|n| {
                let suffix = format!("_{n}");
                let stem = shorten(name, MAX_LEN - suffix.len());
                format!("{stem}{suffix}")
            })
            .find(|candidate| !self.used.contains(candidate))
            .expect("an unused suffix exists")
    }
}

/// Replace every character outside `[a-zA-Z0-9_-]` with `_`, drop braces,
/// fold runs of `_`, and trim `_` from both ends.
fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = match c {
            '{' | '}' => continue,
            c if c.is_ascii_alphanumeric() || c == '-' => c,
            _ => '_',
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "operation".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Cut `name` to `max` characters, keeping it unique by ending it with a
/// hash of the full name.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(name));
    let keep = max - hash.len() - 1;
    format!("{}_{hash}", &name[..keep])
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_good_operation_ids() {
        let mut names = NameAllocator::default();
        let got = names.allocate(Some("listPets"), "get", "/pets");
        assert_eq!(got.name, "listPets");
        assert!(got.changed.is_none());
    }

    #[test]
    fn derives_from_method_and_path() {
        let mut names = NameAllocator::default();
        let got = names.allocate(None, "get", "/pets/{petId}/toys");
        assert_eq!(got.name, "get_pets_petId_toys");
        assert!(got.changed.is_none());
    }

    #[test]
    fn sanitises_truncates_and_disambiguates() {
        let mut names = NameAllocator::default();
        assert_eq!(names.allocate(Some("get.pet"), "get", "/a").name, "get_pet");
        let second = names.allocate(Some("get_pet"), "get", "/b");
        assert_eq!(second.name, "get_pet_2");
        assert!(second.changed.unwrap().contains("collided"));
        let long = "x".repeat(100);
        let got = names.allocate(Some(&long), "get", "/c");
        assert_eq!(got.name.len(), 64);
        assert!(is_valid_tool_name(&got.name));
        let again = names.allocate(Some(&long), "get", "/d");
        assert_ne!(again.name, got.name);
        assert_eq!(again.name.len(), 64);
        assert_eq!(names.allocate(Some("///"), "get", "/e").name, "operation");
    }
}
