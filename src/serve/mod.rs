//! `optlab serve`: a local web server with the interactive playground page and a JSON API.
//!
//! The server is synchronous (`tiny_http`) with a fixed set of worker threads. Light
//! requests (`/api/run`, `/api/function`, the registry, the page) are computed on one rayon
//! pool, heavy ones (`/api/map`, `/api/tune`) on another, at most [`HEAVY_AT_ONCE`] at a
//! time, so a slow basin map never holds up the trajectories a dragging user waits for.
//! The page and its script are embedded in the binary; nothing is loaded from the network.

pub mod api;
mod query;

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use api::{handle, Reply};

/// Worker threads answering requests.
pub const WORKERS: usize = 8;
/// Heavy requests (basin maps, tuning) computed at the same time; more get HTTP 503.
pub const HEAVY_AT_ONCE: usize = 2;
/// Longest accepted request URL (path and query), in bytes.
pub const MAX_URL: usize = 16 * 1024;
/// Largest accepted request body, in bytes (the API takes none; the page posts nothing).
pub const MAX_BODY: usize = 16 * 1024;

/// Where to listen.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub host: String,
    pub port: u16,
}

/// A running server (for tests and benchmarks: `start` returns once it listens).
pub struct Running {
    pub addr: std::net::SocketAddr,
    server: Arc<tiny_http::Server>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Blocks until the server stops (it does not, unless `stop` is called elsewhere).
    pub fn wait(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stops accepting requests and ends the workers.
    pub fn stop(self) {
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// The shared state of the workers.
pub(crate) struct Pools {
    pub light: rayon::ThreadPool,
    pub heavy: rayon::ThreadPool,
    heavy_running: AtomicUsize,
}

impl Pools {
    fn new() -> Result<Pools> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let build = |name: &'static str| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(cores)
                .thread_name(move |i| format!("serve-{name}-{i}"))
                .build()
                .context("cannot start the server's thread pool")
        };
        Ok(Pools { light: build("light")?, heavy: build("heavy")?, heavy_running: AtomicUsize::new(0) })
    }

    /// Runs a heavy computation if fewer than [`HEAVY_AT_ONCE`] are running, else `None`.
    pub fn heavy<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Option<T> {
        let prev = self.heavy_running.fetch_add(1, Ordering::SeqCst);
        let out = if prev < HEAVY_AT_ONCE { Some(self.heavy.install(work)) } else { None };
        self.heavy_running.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

static POOLS: std::sync::OnceLock<Pools> = std::sync::OnceLock::new();

pub(crate) fn pools() -> &'static Pools {
    POOLS.get_or_init(|| Pools::new().unwrap_or_else(|e| panic!("{e:#}")))
}

/// Binds and starts the workers; returns at once.
pub fn start(opts: &ServeOptions) -> Result<Running> {
    let server = tiny_http::Server::http((opts.host.as_str(), opts.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.host, opts.port))?;
    let addr = server.server_addr().to_ip().ok_or_else(|| anyhow::anyhow!("the server did not bind an IP address"))?;
    let _ = pools();
    let server = Arc::new(server);
    let workers = (0..WORKERS)
        .map(|i| {
            let s = Arc::clone(&server);
            std::thread::Builder::new()
                .name(format!("serve-worker-{i}"))
                .spawn(move || worker(&s))
                .context("cannot start a worker thread")
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Running { addr, server, workers })
}

fn worker(server: &tiny_http::Server) {
    while let Ok(mut req) = server.recv() {
        let reply = if req.url().len() > MAX_URL {
            Reply::error(414, format!("the request URL is longer than {MAX_URL} bytes"))
        } else if req.body_length().unwrap_or(0) > MAX_BODY {
            Reply::error(413, format!("the request body is larger than {MAX_BODY} bytes"))
        } else {
            let method = req.method().as_str().to_string();
            let url = req.url().to_string();
            // drain a small body so the connection stays usable; the API reads none
            let mut sink = Vec::new();
            let _ =
                std::io::Read::read_to_end(&mut std::io::Read::take(req.as_reader(), MAX_BODY as u64 + 1), &mut sink);
            if sink.len() > MAX_BODY {
                Reply::error(413, format!("the request body is larger than {MAX_BODY} bytes"))
            } else {
                std::panic::catch_unwind(|| handle(&method, &url)).unwrap_or_else(|p| {
                    let what = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Reply::error(500, format!("internal error: {}", what.lines().next().unwrap_or("")))
                })
            }
        };
        let mut resp = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
        for (k, v) in [("Content-Type", reply.content_type), ("Cache-Control", "no-store")] {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        let _ = req.respond(resp);
    }
}

/// `optlab serve`: listens, prints the URL, optionally opens the browser, serves forever.
pub fn serve(opts: &ServeOptions, open: bool) -> Result<()> {
    let local = matches!(opts.host.as_str(), "127.0.0.1" | "localhost" | "::1");
    if !local {
        eprintln!(
            "warning: listening on {} — the server has no authentication: anyone who can reach this address can use it",
            opts.host
        );
    }
    let running = start(opts)?;
    let url = running.url();
    println!("optlab playground at {url}  (Ctrl-C stops)");
    if open {
        open_browser(&url);
    }
    running.wait();
    Ok(())
}

fn open_browser(url: &str) {
    let cmd: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(target_os = "windows") {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    let spawned = std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("note: could not open a browser ({}: {e}); open {url} yourself", cmd[0]);
    }
}
