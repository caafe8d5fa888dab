//! Mounting `/metrics` and `/debug/maps` on an axum router of your own,
//! instead of running `gomap_govern::http::serve`'s server.
//!
//! ```text
//! cargo run -p gomap-govern --features http --example mount_on_axum
//! curl http://127.0.0.1:9464/metrics
//! ```
//!
//! Your server's limits (connections, timeouts, header size) are then
//! yours to set; `http::serve` documents the ones it uses.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use gomap_govern::{http, Governed, Registry};

/// A router serving `registry` at `/metrics` (Prometheus text) and
/// `/debug/maps` (JSON); `GET` routes answer `HEAD` too. Merge it into
/// yours with `Router::merge`, or nest it under a prefix.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/debug/maps", get(debug_maps))
        .with_state(registry)
}

async fn metrics(State(registry): State<Registry>) -> Response {
    render(
        registry,
        http::render_metrics,
        "text/plain; version=0.0.4; charset=utf-8",
    )
    .await
}

async fn debug_maps(State(registry): State<Registry>) -> Response {
    render(registry, http::render_debug_json, "application/json").await
}

/// Renders a page off the async workers: it is CPU work.
async fn render(
    registry: Registry,
    page: fn(&Registry) -> String,
    content_type: &'static str,
) -> Response {
    match tokio::task::spawn_blocking(move || page(&registry)).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

// Unused where tests/axum_mount.rs includes this file for `router`.
#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let registry = Registry::global().clone();
    let mut sessions: Governed<u64, String> = Governed::builder("sessions").build();
    sessions.extend((0..1_000).map(|id| (id, format!("session {id}"))));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
        println!(
            "serving http://{0}/metrics and http://{0}/debug/maps; stop with Ctrl-C",
            listener.local_addr()?
        );
        axum::serve(listener, router(registry)).await
    })
}
