/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL is not one mcpgate understands.
    #[error("unsupported store URL `{0}`: use `sqlite:PATH` or `postgres://USER@HOST/DB`")]
    UnsupportedUrl(String),
    /// The database answered with an error, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// The database error.
        source: sqlx::Error,
    },
    /// The database was migrated by a newer mcpgate.
    #[error(
        "the database schema is at version {found}, newer than this mcpgate knows ({known}); \
         upgrade mcpgate"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}
