//! `optlab serve`: a local web server with the interactive playground page and a JSON API.
//!
//! HTTP is hyper's HTTP/1.1 server on a small tokio runtime ([`http`]): connections are
//! cheap tasks, so a slow or silent client holds one connection slot and no thread, and
//! every connection is bounded in time and memory ([`Limits`]). The answers are computed
//! off the runtime by the library code the command line uses: light requests (`/api/run`,
//! `/api/function`, the registry) on one rayon pool, heavy ones (`/api/map`, `/api/tune`)
//! on another whose threads run at a lower priority, at most [`HEAVY_AT_ONCE`] at a time,
//! so a slow basin map never holds up the trajectories a dragging user waits for. Each
//! request's work is counted in function evaluations before it starts, and stops when its
//! client goes away or its time is up. The page and its script are embedded in the binary;
//! nothing is loaded from the network.

pub mod api;
mod http;
mod query;

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use api::{handle, Reply};

/// Heavy requests (basin maps, tuning) computed at the same time; more get HTTP 503.
pub const HEAVY_AT_ONCE: usize = 2;
/// Longest accepted request URL (path and query), in bytes.
pub const MAX_URL: usize = 16 * 1024;
/// Largest accepted request body, in bytes (the API takes none; the page posts nothing).
pub const MAX_BODY: usize = 16 * 1024;
/// Largest request head (request line and headers), in bytes; beyond it HTTP 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines in one request; beyond it HTTP 431.
pub const MAX_HEADERS: usize = 64;

/// The server's time and size limits. Defaults are [`Limits::default`]; `optlab serve`
/// reads overrides from the environment ([`Limits::from_env`]), which tests use to make
/// the timeouts short.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A request's head (its request line and headers) must arrive within this, counted
    /// from the moment the server waits for it (so it is also the keep-alive idle time).
    pub head_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    /// A write that makes no progress for this long ends the connection (a client that
    /// sends requests and never reads the answers).
    pub write_timeout: Duration,
    /// Open connections at most; past it new connections are answered 503 and closed,
    /// until some close.
    pub max_connections: usize,
    /// Computing a light answer (`/api/run`, `/api/function`) stops after this (HTTP 503).
    pub light_time: Duration,
    /// Computing a heavy answer (`/api/map`, `/api/tune`) stops after this (HTTP 503).
    pub heavy_time: Duration,
    /// The most function evaluations a run or a contour may need ([`api::MAX_LIGHT_EVALS`]).
    pub light_evals: u64,
    /// The most function evaluations a basin map or tuning may need ([`api::MAX_HEAVY_EVALS`]).
    pub heavy_evals: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 128,
            light_time: Duration::from_secs(30),
            heavy_time: Duration::from_secs(300),
            light_evals: api::MAX_LIGHT_EVALS,
            heavy_evals: api::MAX_HEAVY_EVALS,
        }
    }
}

/// The environment variables [`Limits::from_env`] reads, with what they set.
pub const LIMIT_VARS: &[(&str, &str)] = &[
    ("OPTLAB_SERVE_TIMEOUT", "seconds for a request's head, its body and a stalled write (default 10)"),
    ("OPTLAB_SERVE_MAX_CONNECTIONS", "open connections at most (default 128)"),
    ("OPTLAB_SERVE_LIGHT_TIME", "seconds a run or contour may compute (default 30)"),
    ("OPTLAB_SERVE_HEAVY_TIME", "seconds a basin map or tuning may compute (default 300)"),
];

impl Limits {
    /// The defaults with the overrides of [`LIMIT_VARS`]; a bad value is a one-line error.
    pub fn from_env() -> Result<Limits, crate::cli::UsageError> {
        let mut l = Limits::default();
        let read = |name: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, crate::cli::UsageError> {
            let Ok(v) = std::env::var(name) else { return Ok(None) };
            match v.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(crate::cli::UsageError(format!(
                    "{name}='{}' is not a whole number from {} to {}",
                    crate::limits::shorten(&v, 40),
                    range.start(),
                    range.end()
                ))),
            }
        };
        if let Some(s) = read("OPTLAB_SERVE_TIMEOUT", 1..=3600)? {
            let d = Duration::from_secs(s);
            (l.head_timeout, l.body_timeout, l.write_timeout) = (d, d, d);
        }
        if let Some(n) = read("OPTLAB_SERVE_MAX_CONNECTIONS", 1..=100_000)? {
            l.max_connections = n as usize;
        }
        if let Some(s) = read("OPTLAB_SERVE_LIGHT_TIME", 1..=86_400)? {
            l.light_time = Duration::from_secs(s);
        }
        if let Some(s) = read("OPTLAB_SERVE_HEAVY_TIME", 1..=86_400)? {
            l.heavy_time = Duration::from_secs(s);
        }
        Ok(l)
    }
}

/// Where to listen.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub host: String,
    pub port: u16,
}

/// A running server (for tests and benchmarks: `start` returns once it listens).
pub struct Running {
    pub addr: std::net::SocketAddr,
    shutdown: Arc<tokio::sync::Notify>,
    stopped: Arc<AtomicBool>,
    pools: Arc<Pools>,
    open: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Heavy computations (maps, tunings) under way now, abandoned ones included until
    /// they notice; for tests of cancellation.
    pub fn heavy_running(&self) -> usize {
        self.pools.heavy_running.load(Ordering::SeqCst)
    }

    /// Computations of any kind under way now.
    pub fn computing(&self) -> usize {
        self.pools.computing.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Blocks until the server stops (after [`Running::stop`] from elsewhere, or a signal
    /// when `serve` installed the handler).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops accepting, lets the requests under way finish (for a few seconds at most:
    /// their computations are asked to stop), and ends the server.
    pub fn stop(mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.shutdown.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The computing side of a server.
pub(crate) struct Pools {
    pub light: rayon::ThreadPool,
    pub heavy: rayon::ThreadPool,
    heavy_running: AtomicUsize,
    computing: AtomicUsize,
    pub light_evals: u64,
    pub heavy_evals: u64,
}

/// Lowers the calling thread's scheduling priority (Linux: nice is per thread), so heavy
/// work yields the cores to light requests.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; failure only leaves the priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 15);
    }
}

impl Pools {
    fn new(limits: &Limits) -> Result<Pools> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).min(64);
        let light = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .thread_name(|i| format!("serve-light-{i}"))
            .build()
            .context("cannot start the server's thread pool")?;
        let heavy = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .thread_name(|i| format!("serve-heavy-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .context("cannot start the server's thread pool")?;
        Ok(Pools {
            light,
            heavy,
            heavy_running: AtomicUsize::new(0),
            computing: AtomicUsize::new(0),
            light_evals: limits.light_evals,
            heavy_evals: limits.heavy_evals,
        })
    }

    /// Runs a heavy computation if fewer than [`HEAVY_AT_ONCE`] are running, else `None`.
    pub fn heavy<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Option<T> {
        let prev = self.heavy_running.fetch_add(1, Ordering::SeqCst);
        let out = if prev < HEAVY_AT_ONCE { Some(self.heavy.install(work)) } else { None };
        self.heavy_running.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

/// The pools of [`handle`] when it is called without a server (tests, benchmarks).
static POOLS: std::sync::OnceLock<Arc<Pools>> = std::sync::OnceLock::new();

pub(crate) fn default_pools() -> Result<Arc<Pools>> {
    if let Some(p) = POOLS.get() {
        return Ok(p.clone());
    }
    let p = Arc::new(Pools::new(&Limits::default())?);
    Ok(POOLS.get_or_init(|| p).clone())
}

/// Binds and starts the server with the default [`Limits`]; returns at once.
pub fn start(opts: &ServeOptions) -> Result<Running> {
    start_with(opts, &Limits::default())
}

/// Binds and starts the server; returns once it listens.
pub fn start_with(opts: &ServeOptions, limits: &Limits) -> Result<Running> {
    let listener = std::net::TcpListener::bind((opts.host.as_str(), opts.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", opts.host, opts.port))?;
    listener.set_nonblocking(true).context("cannot make the listening socket non-blocking")?;
    let addr = listener.local_addr().context("the server did not bind an address")?;
    let pools = Arc::new(Pools::new(limits)?);
    // one thread serves every connection (they only wait on sockets and timers); the
    // answers are computed on blocking threads and the rayon pools
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(limits.max_connections.clamp(4, 1024))
        .thread_name("serve-io")
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the server's runtime")?;
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::new(AtomicBool::new(false));
    let server = http::Server::new(addr, &opts.host, limits.clone(), pools.clone(), stopped.clone());
    let open = server.open.clone();
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener).context("cannot listen")?
    };
    let sd = shutdown.clone();
    let thread = std::thread::Builder::new()
        .name("serve-main".into())
        .spawn(move || {
            runtime.block_on(server.run(listener, sd));
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .context("cannot start the server thread")?;
    Ok(Running { addr, shutdown, stopped, pools, open, thread: Some(thread) })
}

/// `optlab serve`: listens, prints the URL, optionally opens the browser, serves until
/// SIGINT, SIGTERM or SIGHUP, then stops gracefully.
pub fn serve(opts: &ServeOptions, open: bool) -> Result<()> {
    let limits = Limits::from_env()?;
    let local = matches!(opts.host.as_str(), "127.0.0.1" | "localhost" | "::1");
    if !local {
        eprintln!(
            "warning: listening on {} — the server has no authentication: anyone who can reach this address can use it",
            crate::limits::shorten(&opts.host, 80)
        );
    }
    crate::cli::install_signal_handler();
    let running = start_with(opts, &limits)?;
    let url = running.url();
    println!("optlab playground at {url}  (Ctrl-C stops)");
    if open {
        open_browser(&url);
    }
    while !crate::cli::stopped() {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("stopping: finishing the requests under way");
    running.stop();
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
