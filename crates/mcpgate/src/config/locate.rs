//! Turning "where" into `file:line`: keys of the config's TOML (for errors
//! from rules that span several keys, and for `mcpgate doctor`), and text
//! found in other files.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Every key of a TOML document with its line, and every string value with
/// its key path: the config as written, before (and whether or not) it
/// loads.
#[derive(Debug, Default)]
pub struct TomlIndex {
    /// How the file is named in findings.
    file: String,
    /// Dotted key path (`auth.jwt[0].leeway`) → 1-based line of the key.
    lines: BTreeMap<String, usize>,
    /// (key path, value, line) of every string value, in file order.
    strings: Vec<(String, String, usize)>,
}

impl TomlIndex {
    /// Index `text`; a document that does not parse gives an empty index
    /// (the load error is reported on its own).
    pub fn parse(text: &str, file: &str) -> Self {
        let mut index = TomlIndex {
            file: file.to_owned(),
            ..TomlIndex::default()
        };
        if let Ok(table) = DeTable::parse(text) {
            index.walk_table(text, "", table.get_ref());
        }
        index.strings.sort_by_key(|(_, _, line)| *line);
        index
    }

    fn walk_table(&mut self, text: &str, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            self.lines
                .entry(path.clone())
                .or_insert_with(|| line_of(text, key.span().start));
            self.walk_value(text, path, value);
        }
    }

    fn walk_value(&mut self, text: &str, path: String, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::String(string) => {
                let line = line_of(text, value.span().start);
                self.strings.push((path, string.to_string(), line));
            }
            DeValue::Table(table) => self.walk_table(text, &path, table),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.lines
                        .entry(item_path.clone())
                        .or_insert_with(|| line_of(text, item.span().start));
                    self.walk_value(text, item_path, item);
                }
            }
            _ => {}
        }
    }

    /// `file:line` of the key at `path`, or of the nearest enclosing key
    /// written in the file, or just the file.
    pub fn at(&self, path: &str) -> String {
        match self.line(path) {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }

    /// The line of the key at `path`, or of the nearest enclosing key
    /// written in the file.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }

    /// The file, for findings about the config as a whole.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Every string value: (key path, value, line).
    pub fn strings(&self) -> &[(String, String, usize)] {
        &self.strings
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    super::line_and_column(text, offset).0
}

/// The line where `needle` first occurs in `text`.
pub fn find_line(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.find(needle).map(|offset| line_of(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[server]\nlisten = \"0.0.0.0:8080\"\n\n[[auth.jwt]]\nissuer = \"https://idp\"\nleeway = \"1h\"\n\n[backends.shop]\ncredential = { kind = \"bearer\", value = \"tok\" }\n";

    #[test]
    fn keys_have_lines_and_missing_keys_fall_back_to_their_section() {
        let index = TomlIndex::parse(CONFIG, "m.toml");
        assert_eq!(index.at("server.listen"), "m.toml:2");
        assert_eq!(index.at("auth.jwt[0].leeway"), "m.toml:6");
        assert_eq!(index.at("backends.shop"), "m.toml:8");
        assert_eq!(index.at("backends.shop.read_only"), "m.toml:8");
        assert_eq!(index.at("audit.signing_key"), "m.toml");
        let strings: Vec<(&str, &str, usize)> = index
            .strings()
            .iter()
            .map(|(p, v, l)| (p.as_str(), v.as_str(), *l))
            .collect();
        assert!(strings.contains(&("backends.shop.credential.value", "tok", 9)));
    }

    #[test]
    fn broken_toml_gives_an_empty_index_not_a_panic() {
        let index = TomlIndex::parse("[server\nlisten = ", "m.toml");
        assert!(index.strings().is_empty());
        assert_eq!(index.at("server.listen"), "m.toml");
        assert_eq!(find_line("a\nb\nc", "c"), Some(3));
        assert_eq!(find_line("a", ""), None);
        assert_eq!(line_of("ab", 99), 1);
    }
}
