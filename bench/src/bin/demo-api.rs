//! The demo Inventory REST API on its own, for the load benchmark:
//! `demo-api PORT KEY` serves `http://127.0.0.1:PORT` (requests must carry
//! `X-Demo-Key: KEY`) and prints `LISTENING` when ready. The benchmark calls
//! it directly, then through mcpgate, and reports the difference.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(key)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: demo-api PORT KEY");
    };
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("LISTENING http://{}", listener.local_addr()?);
    mcpgate_demo::DemoApi::new(key).serve(listener).await?;
    Ok(())
}
