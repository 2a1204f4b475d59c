//! A small migration runner: versioned SQL files compiled into the binary,
//! applied in order, each in its own transaction, recorded in
//! `mcpgate_migrations`.
//!
//! Our own rather than sqlx's so that the SQL ships inside the binary
//! without the sqlx macros, and so that a database migrated by a newer
//! mcpgate is refused instead of half-understood.

/// One schema change.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// The SQLite migrations, in order.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "audit log",
        sql: include_str!("../migrations/sqlite/0001_audit.sql"),
    },
    Migration {
        version: 2,
        name: "api keys",
        sql: include_str!("../migrations/sqlite/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "oauth",
        sql: include_str!("../migrations/shared/0003_oauth.sql"),
    },
];

/// The PostgreSQL migrations, in order.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "audit log",
        sql: include_str!("../migrations/postgres/0001_audit.sql"),
    },
    Migration {
        version: 2,
        name: "api keys",
        sql: include_str!("../migrations/postgres/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "oauth",
        sql: include_str!("../migrations/shared/0003_oauth.sql"),
    },
];

/// The statements of a migration file, split on `;` at line ends.
pub(crate) fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|statement| {
            statement
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|statement| !statement.trim().is_empty())
}
