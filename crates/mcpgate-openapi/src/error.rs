/// Why a spec could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("the spec is empty")]
    Empty,
    /// The text is neither valid JSON nor valid YAML.
    #[error("the spec is not valid {format} (line {line}, column {column}): {message}")]
    Syntax {
        /// "JSON" or "YAML".
        format: &'static str,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// The parser's explanation.
        message: String,
    },
    /// The document is not an OpenAPI or Swagger document at all.
    #[error("not an OpenAPI document: {0}")]
    NotOpenApi(String),
    /// An OpenAPI generation this importer does not read.
    #[error("unsupported spec version ({0}); mcpgate reads Swagger 2.0, OpenAPI 3.0 and 3.1")]
    UnsupportedVersion(String),
    /// A `$ref` that cannot be followed.
    #[error("cannot resolve $ref `{reference}` at {at}: {reason}")]
    Reference {
        /// The reference as written.
        reference: String,
        /// JSON pointer of the place that holds it.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// Some other structural problem, described.
    #[error("invalid spec: {0}")]
    Invalid(String),
}
