//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! Nothing but MCP is written to stdout; logs go to stderr (the binary sets
//! that up). Each incoming line passes the same envelope check as HTTP
//! bodies: a line that is not one JSON-RPC message is answered with the
//! JSON-RPC error (`-32700`/`-32600`) by this module and never reaches the
//! SDK, which would otherwise drop it without a word.

use std::sync::Arc;

use mcpgate_core::Identity;
use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::gateway::Gateway;
use crate::http::envelope::{EnvelopeError, inspect};
use crate::mcp::McpHandler;

/// The longest line accepted from the client.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Serve one MCP connection on this process's stdin/stdout until the client
/// closes it, on behalf of `identity`.
pub async fn serve_stdio(gateway: Arc<Gateway>, identity: Identity) -> std::io::Result<()> {
    serve_lines(gateway, identity, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serve one MCP connection over any pair of byte streams carrying
/// newline-delimited JSON-RPC.
pub async fn serve_lines<R, W>(
    gateway: Arc<Gateway>,
    identity: Identity,
    input: R,
    output: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // client → (check) → to_sdk ; sdk → from_sdk → (merge with errors) → client
    let (mut to_sdk, sdk_input) = tokio::io::duplex(64 * 1024);
    let (sdk_output, from_sdk) = tokio::io::duplex(64 * 1024);
    let (errors, error_lines) = mpsc::channel::<String>(16);

    let writer = tokio::spawn(write_out(output, from_sdk, error_lines));
    let reader = tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut line = Vec::new();
        while let Ok(Some(read)) = read_bounded_line(&mut input, &mut line).await {
            let reply = match read {
                Line::Complete if line.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Complete => match inspect(&line) {
                    Ok(_) => {
                        line.push(b'\n');
                        if to_sdk.write_all(&line).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Err(EnvelopeError::Parse(detail)) => error_line(
                        -32700,
                        &format!("parse error: the line is not JSON ({detail})"),
                        Value::Null,
                    ),
                    Err(EnvelopeError::Invalid(why, id)) => {
                        error_line(-32600, &format!("invalid request: {why}"), id)
                    }
                },
                Line::TooLong => error_line(
                    -32600,
                    &format!("invalid request: a message may not exceed {MAX_LINE_BYTES} bytes"),
                    Value::Null,
                ),
            };
            if errors.send(reply).await.is_err() {
                break;
            }
        }
        // Dropping `to_sdk` tells the SDK the client has gone.
    });

    let handler = McpHandler::for_connection(gateway, identity);
    let served = match handler.serve((sdk_input, sdk_output)).await {
        Ok(service) => service
            .waiting()
            .await
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string())),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    };
    reader.abort();
    let _ = writer.await;
    served
}

/// What [`read_bounded_line`] found.
enum Line {
    /// A whole line (without its newline) is in the buffer.
    Complete,
    /// The line was longer than [`MAX_LINE_BYTES`] and has been skipped.
    TooLong,
}

/// Read one newline-terminated line into `line` without ever holding more
/// than [`MAX_LINE_BYTES`] of it; a longer line is skipped to its end so the
/// connection can go on. `None` at end of input.
async fn read_bounded_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Line>> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Some(Line::TooLong),
                (false, true) => None,
                (false, false) => Some(Line::Complete),
            });
        }
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], end + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long && line.len() + chunk.len() > MAX_LINE_BYTES {
            too_long = true;
            line.clear();
        }
        if !too_long {
            line.extend_from_slice(chunk);
        }
        input.consume(used);
        if done {
            return Ok(Some(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            }));
        }
    }
}

/// Copy the SDK's lines and our error lines to the client, whole lines only.
async fn write_out<W: AsyncWrite + Unpin>(
    mut output: W,
    from_sdk: tokio::io::DuplexStream,
    mut errors: mpsc::Receiver<String>,
) -> std::io::Result<()> {
    let mut sdk_lines = BufReader::new(from_sdk).lines();
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            line = sdk_lines.next_line() => match line? {
                Some(line) => line,
                None => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(error) => error,
                None => { errors_open = false; continue; }
            },
        };
        output.write_all(line.as_bytes()).await?;
        output.write_all(b"\n").await?;
        output.flush().await?;
    }
    Ok(())
}

fn error_line(code: i32, message: &str, id: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }).to_string()
}
