//! `/metrics` (Prometheus text exposition) and `/debug/maps` (JSON) over
//! HTTP, for a registry (feature `http`).
//!
//! ```no_run
//! use gomap_govern::{http, Registry};
//!
//! let server = http::serve(Registry::global(), "127.0.0.1:9464".parse().unwrap()).unwrap();
//! println!("scrape http://{}/metrics", server.addr());
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use metrics_exporter_prometheus::PrometheusBuilder;
use serde::Serialize;
use tiny_http::{Header, Method, Request, Response};

use crate::registry::{Event, MapReport, Registry, Totals};

/// The body of `/debug/maps`.
#[derive(Serialize)]
struct DebugMaps {
    totals: Totals,
    maps: Vec<MapReport>,
    events: Vec<Event>,
}

/// A running server; dropping it stops it.
pub struct Server {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (useful after binding port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `registry` on `addr`, which must be a loopback address (these
/// pages tell a lot about a process: put a proxy in front to publish them).
/// Port 0 picks a free port; see [`Server::addr`].
///
/// - `GET /metrics`: every `gomap_*` series (see
///   [`Registry::export_metrics`]), rendered fresh for each scrape, so a
///   dropped map's series disappear with it.
/// - `GET /debug/maps`: JSON `{ totals, maps, events }`.
pub fn serve(registry: &Registry, addr: SocketAddr) -> io::Result<Server> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gomap-govern serves on loopback addresses only, not {addr}"),
        ));
    }
    let server = Arc::new(tiny_http::Server::http(addr).map_err(io::Error::other)?);
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("not an IP listener"))?;
    let registry = registry.clone();
    let thread = {
        let server = server.clone();
        std::thread::Builder::new()
            .name("gomap-http".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    respond(&registry, request);
                }
            })?
    };
    Ok(Server {
        server,
        addr,
        thread: Some(thread),
    })
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// The Prometheus text of every `gomap_*` series now.
pub fn render_metrics(registry: &Registry) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || registry.export_metrics());
    recorder.handle().render()
}

fn respond(registry: &Registry, request: Request) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let response = match (request.method(), path.as_str()) {
        (Method::Get, "/metrics") => Response::from_string(render_metrics(registry)).with_header(
            header("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
        ),
        (Method::Get, "/debug/maps") => {
            let body = DebugMaps {
                totals: registry.totals(),
                maps: registry.maps(),
                events: registry.events(),
            };
            match serde_json::to_string_pretty(&body) {
                Ok(json) => Response::from_string(json)
                    .with_header(header("Content-Type", "application/json")),
                Err(e) => {
                    Response::from_string(format!("cannot encode: {e}")).with_status_code(500)
                }
            }
        }
        (Method::Get, _) => {
            Response::from_string("not found: try /metrics or /debug/maps\n").with_status_code(404)
        }
        _ => Response::from_string("only GET\n").with_status_code(405),
    };
    // A client that went away is not the server's problem.
    let _ = request.respond(response);
}
