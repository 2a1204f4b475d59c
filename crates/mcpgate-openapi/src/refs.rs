//! Following local `$ref`s (`#/components/...`, `#/definitions/...`).

use serde_json::Value;

use crate::ImportError;

/// How many `$ref` hops one lookup may take before we call it a loop.
const MAX_HOPS: usize = 32;

/// Looks up local references inside one document.
#[derive(Clone, Copy)]
pub(crate) struct Resolver<'a> {
    root: &'a Value,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(root: &'a Value) -> Self {
        Resolver { root }
    }

    /// The value `reference` points at, following a chain of references.
    /// `at` names where the reference was found, for the error message.
    pub(crate) fn lookup(&self, reference: &str, at: &str) -> Result<&'a Value, ImportError> {
        let mut current = reference;
        for _ in 0..MAX_HOPS {
            let target = self.lookup_once(current, at)?;
            match ref_of(target) {
                Some(next) => current = next,
                None => return Ok(target),
            }
        }
        Err(reference_error(
            reference,
            at,
            "the chain of references loops or is too long",
        ))
    }

    /// `value` itself, or what it refers to when it is a `{"$ref": ...}`.
    pub(crate) fn follow(&self, value: &'a Value, at: &str) -> Result<&'a Value, ImportError> {
        match ref_of(value) {
            Some(reference) => self.lookup(reference, at),
            None => Ok(value),
        }
    }

    fn lookup_once(&self, reference: &str, at: &str) -> Result<&'a Value, ImportError> {
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(reference_error(
                reference,
                at,
                "only references inside the same document (`#/...`) are followed; \
                 bundle the spec into one file first (e.g. `redocly bundle`)",
            ));
        };
        let pointer = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(reference_error(
                reference,
                at,
                "anchors are not supported; use a JSON pointer like `#/components/schemas/Name`",
            ));
        }
        self.root
            .pointer(&pointer)
            .ok_or_else(|| reference_error(reference, at, "nothing exists at that location"))
    }
}

/// The target of `value` if it is a reference object.
pub(crate) fn ref_of(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str)
}

pub(crate) fn reference_error(reference: &str, at: &str, reason: &str) -> ImportError {
    ImportError::Reference {
        reference: reference.to_owned(),
        at: at.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Escape one segment of a JSON pointer (RFC 6901).
pub(crate) fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
