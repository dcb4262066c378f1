//! The server under hostile or careless clients: stalled heads and bodies, clients that
//! never read, huge heads, too many connections, running out of file descriptors, foreign
//! Host and Origin headers, abandoned heavy work, resets and other HTTP versions. Every
//! test uses a bounded number of loopback connections and stops by itself; the timeouts
//! of the servers under test are short, those of the tests generous, and no test measures
//! speed: each checks that something happens (an answer, a close, a stop) before a
//! deadline far longer than it needs.

use optlab::serve::{self, handle, Limits, ServeOptions};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the tests wait at most for anything the server should do within a second or two.
const PATIENCE: Duration = Duration::from_secs(60);

fn local() -> ServeOptions {
    ServeOptions { host: "127.0.0.1".into(), port: 0 }
}

/// Limits with one-second timeouts, so that a test sees them fire.
fn short() -> Limits {
    let s = Duration::from_secs(1);
    Limits { head_timeout: s, body_timeout: s, write_timeout: s, ..Limits::default() }
}

/// Limits whose timeouts are far longer than any test: a stalled client stays stalled.
fn long() -> Limits {
    let s = Duration::from_secs(600);
    Limits { head_timeout: s, body_timeout: s, write_timeout: s, ..Limits::default() }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Sends `request` and reads to the end: status and body (0 when the answer was not HTTP).
fn exchange(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = connect(addr);
    s.write_all(request.as_bytes()).unwrap();
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|b| b.1.to_string()).unwrap_or_default();
    (status, body)
}

/// A small `/api/run`, as the page asks while the user drags.
fn small_run(addr: SocketAddr) -> u16 {
    exchange(addr, &format!("GET /api/run?steps=50 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).0
}

/// Polls `cond` until it holds; fails naming `what` after [`PATIENCE`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < PATIENCE, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the server closed `s` (reading gives end of file or an error, not a timeout).
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn clients_that_never_finish_their_head_or_body_do_not_block_another_client() {
    let running = serve::start_with(&local(), &long()).unwrap();
    let addr = running.addr;
    let stalls = [
        format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2000\r\n\r\n"),
        format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n"),
        format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n"),
        format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\nX-Half: "),
    ];
    // 16 stalled sockets, more than the old server's eight workers
    let held: Vec<TcpStream> = (0..16)
        .map(|i| {
            let mut s = connect(addr);
            s.write_all(stalls[i % stalls.len()].as_bytes()).unwrap();
            s
        })
        .collect();
    wait_until("the stalled connections are accepted", || running.connections() >= 16);
    for _ in 0..5 {
        assert_eq!(small_run(addr), 200, "a run was not answered while 16 clients stalled");
    }
    assert!(running.connections() >= 16, "the stalled clients are still connected (their timeouts are long)");
    drop(held);
    running.stop();
}

#[test]
fn a_stalled_body_gets_408_and_a_trickled_head_is_closed_after_the_timeouts() {
    let running = serve::start_with(&local(), &short()).unwrap();
    let addr = running.addr;
    let (status, body) =
        exchange(addr, &format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2000\r\n\r\nabc"));
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("did not arrive"), "{body}");

    // a head sent one byte every 100 ms: the head timeout counts from its start
    let mut s = connect(addr);
    s.write_all(format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).unwrap();
    let t = Instant::now();
    let mut closed = false;
    while t.elapsed() < PATIENCE {
        if s.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        if closed_by_server(&mut s) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickled byte by byte kept its connection for {PATIENCE:?}");
    wait_until("the closed connections are gone", || running.connections() == 0);
    assert_eq!(small_run(addr), 200);
    running.stop();
}

#[test]
fn a_client_that_pipelines_and_never_reads_is_dropped_and_others_are_served() {
    let running = serve::start_with(&local(), &short()).unwrap();
    let addr = running.addr;
    let mut s = connect(addr);
    let one = format!("GET /api/function?function=himmelblau&grid=512 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(one.repeat(20).as_bytes()).unwrap();
    assert_eq!(small_run(addr), 200, "a run was not answered beside a client that does not read");
    wait_until("the client that never reads is disconnected", || running.connections() == 0);
    drop(s);
    running.stop();
}

#[test]
fn oversized_heads_get_431_and_the_server_stays_responsive() {
    let running = serve::start_with(&local(), &short()).unwrap();
    let addr = running.addr;
    let line = "a".repeat(serve::MAX_HEAD + 10);
    let (status, _) = exchange(addr, &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Long: {line}\r\n\r\n"));
    assert_eq!(status, 431);
    let many: String = (0..serve::MAX_HEADERS + 10).map(|i| format!("X-{i}: v\r\n")).collect();
    let (status, _) = exchange(addr, &format!("GET / HTTP/1.1\r\nHost: {addr}\r\n{many}\r\n"));
    assert_eq!(status, 431);
    // 16 MiB of small headers: the server stops reading and closes long before the end
    let mut s = connect(addr);
    let chunk = "X-Filler: 0123456789abcdef\r\n".repeat(4096);
    let mut sent = 0usize;
    let _ = s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").as_bytes());
    while sent < 16 << 20 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(sent < 16 << 20 || closed_by_server(&mut s), "16 MiB of headers were taken in");
    assert_eq!(small_run(addr), 200);
    running.stop();
}

#[test]
fn past_the_connection_limit_new_connections_get_503_and_service_recovers() {
    let limits = Limits { max_connections: 8, ..long() };
    let running = serve::start_with(&local(), &limits).unwrap();
    let addr = running.addr;
    let held: Vec<TcpStream> = (0..8).map(|_| connect(addr)).collect();
    wait_until("eight idle connections are open", || running.connections() == 8);
    let (status, body) = exchange(addr, &format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("connections are open"), "{body}");
    drop(held);
    wait_until("the idle connections are closed", || running.connections() == 0);
    assert_eq!(small_run(addr), 200, "the server did not recover after the connections closed");
    running.stop();
}

/// `optlab serve` started under `sh` with `setup` (a `ulimit`), on a free port: the child
/// and its address.
fn spawn_serve(setup: &str, env: &[(&str, &str)]) -> (std::process::Child, SocketAddr) {
    let bin = env!("CARGO_BIN_EXE_optlab");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("{setup}; exec \"$0\" serve --port 0")).arg(bin);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

fn sigterm(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

#[test]
fn out_of_file_descriptors_the_accept_loop_survives_and_serves_again_and_sigterm_stops_it_with_143() {
    let (mut child, addr) = spawn_serve("ulimit -n 64", &[("OPTLAB_SERVE_TIMEOUT", "600")]);
    assert_eq!(small_run(addr), 200);
    // 300 connections against 64 descriptors: most wait in the backlog or are refused
    let mut held = Vec::new();
    for _ in 0..300 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    assert!(held.len() > 64, "only {} connections could be made", held.len());
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    let mut ok = false;
    let t = Instant::now();
    while !ok && t.elapsed() < PATIENCE {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
        if let Ok(mut s) = s {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let req = format!("GET /api/run?steps=50 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).is_ok() {
                ok = read_answer(&mut s).0 == 200;
            }
        }
        if !ok {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(ok, "no request succeeded after the descriptors were freed");
    assert!(child.try_wait().unwrap().is_none(), "the server exited");
    sigterm(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "SIGTERM should stop the server gracefully with 143");
}

#[test]
fn a_connection_reset_right_after_a_request_leaves_no_panic_on_stderr() {
    let (child, addr) = spawn_serve("true", &[]);
    for i in 0..20 {
        let mut s = connect(addr);
        let path = if i % 2 == 0 { "/api/function?grid=256" } else { "/api/run?steps=2000" };
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
        if i % 3 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        // close with RST instead of FIN
        use std::os::fd::AsRawFd;
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: setsockopt on an open socket with a valid option value
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(s);
    }
    assert_eq!(small_run(addr), 200);
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn requests_for_a_foreign_host_get_421_and_cross_site_api_requests_get_403() {
    let running = serve::start_with(&local(), &short()).unwrap();
    let addr = running.addr;
    let port = addr.port();
    let ask = |headers: &str, path: &str| {
        exchange(addr, &format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n")).0
    };
    // DNS rebinding: a name that resolves here but is not this server's
    for host in [format!("evil.example:{port}"), format!("127.0.0.1.nip.example:{port}"), "127.0.0.1:1".to_string()] {
        assert_eq!(ask(&format!("Host: {host}\r\n"), "/api/functions"), 421, "{host}");
        assert_eq!(ask(&format!("Host: {host}\r\n"), "/"), 421, "{host}");
    }
    // another site's page: its Origin, Referer or the browser's Sec-Fetch-Site
    let me = format!("Host: {addr}\r\n");
    for h in [
        "Origin: http://evil.example\r\n".to_string(),
        "Origin: null\r\n".to_string(),
        format!("Origin: http://127.0.0.1:{}\r\n", port.wrapping_add(1)),
        "Referer: http://evil.example/page\r\n".to_string(),
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Sec-Fetch-Site: same-site\r\n".to_string(),
    ] {
        assert_eq!(ask(&format!("{me}{h}"), "/api/map?grid=8&steps=5"), 403, "{h}");
    }
    // the page itself, its own requests, localhost and clients without those headers
    for h in [
        format!("{me}Sec-Fetch-Site: same-origin\r\nReferer: http://{addr}/?function=x\r\n"),
        format!("{me}Origin: http://{addr}\r\n"),
        format!("Host: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n"),
        format!("Host: LOCALHOST:{port}\r\n"),
        me.clone(),
        String::new(),
    ] {
        assert_eq!(ask(&h, "/api/run?steps=5"), 200, "{h}");
    }
    // a link from another site may open the page (it computes nothing)
    assert_eq!(ask(&format!("{me}Sec-Fetch-Site: cross-site\r\n"), "/"), 200);
    running.stop();
}

#[test]
fn a_heavy_request_whose_client_disconnects_stops_computing() {
    // a map that would take weeks: L-BFGS with 10,000 inner iterations a step and its
    // tolerances off, 512² starts × 10,000 steps
    let limits = Limits { heavy_evals: u64::MAX, heavy_time: Duration::from_secs(3600), ..long() };
    let running = serve::start_with(&local(), &limits).unwrap();
    let addr = running.addr;
    let map = format!(
        "GET /api/map?function=sin-cos&grid=512&steps=10000&optimizer=lbfgs(max_iter%3D10000,tolerance_grad%3D0,tolerance_change%3D0) HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    for _ in 0..2 {
        let mut s = connect(addr);
        s.write_all(map.as_bytes()).unwrap();
        wait_until("the map starts", || running.heavy_running() == 1);
        drop(s);
        wait_until("the abandoned map stops", || running.heavy_running() == 0 && running.computing() == 0);
    }
    // both heavy slots are free again
    let (status, body) =
        exchange(addr, &format!("GET /api/map?grid=8&steps=20 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert_eq!(status, 200, "{body}");
    running.stop();
}

#[test]
fn a_computation_past_its_time_is_answered_503_and_stopped() {
    let limits = Limits {
        light_evals: u64::MAX,
        light_time: Duration::from_secs(1),
        heavy_time: Duration::from_secs(1),
        ..long()
    };
    let running = serve::start_with(&local(), &limits).unwrap();
    let addr = running.addr;
    let lbfgs = "&optimizer=lbfgs(max_iter%3D10000,max_eval%3D12500,tolerance_grad%3D0,tolerance_change%3D0)".repeat(4);
    let (status, body) = exchange(
        addr,
        &format!(
            "GET /api/run?function=sin-cos&steps=10000{lbfgs} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 503, "{}", &body[..body.len().min(300)]);
    assert!(body.contains("longer than 1 s"), "{}", &body[..body.len().min(300)]);
    wait_until("the abandoned run stops", || running.computing() == 0);
    assert_eq!(small_run(addr), 200);
    running.stop();
}

#[test]
fn other_http_versions_get_505_and_are_answered() {
    let running = serve::start_with(&local(), &short()).unwrap();
    let addr = running.addr;
    for req in [
        format!("GET /api/functions HTTP/2.0\r\nHost: {addr}\r\n\r\n"),
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_string(),
        format!("GET / HTTP/3\r\nHost: {addr}\r\n\r\n"),
    ] {
        let (status, body) = exchange(addr, &req);
        assert_eq!(status, 505, "{req:?}: {body}");
        assert!(body.contains("not supported"), "{body}");
    }
    // a version hyper cannot parse is answered too, never left hanging
    let (status, _) = exchange(addr, &format!("GET / HTTP/1.7\r\nHost: {addr}\r\n\r\n"));
    assert!(status == 400 || status == 505, "{status}");
    running.stop();
}

#[test]
fn the_work_of_a_request_is_counted_in_function_evaluations() {
    let big_lbfgs = "optimizer=lbfgs(max_iter%3D10000,max_eval%3D12500,tolerance_grad%3D0,tolerance_change%3D0)";
    let many = format!("&{big_lbfgs}").repeat(32);
    for url in [
        format!("/api/run?steps=10000{many}"),
        format!("/api/run?steps=1000&{big_lbfgs}"),
        format!("/api/map?grid=512&{big_lbfgs}"),
        "/api/map?grid=512&steps=1000&optimizer=lbfgs".to_string(),
        "/api/map?grid=512&steps=1000&optimizer=gd&optimizer=adam".to_string(),
        format!("/api/tune?steps=10000&{big_lbfgs}"),
    ] {
        let r = handle("GET", &url);
        assert_eq!(r.status, 400, "{url}");
        let e = r.value()["error"].as_str().unwrap().to_string();
        assert!(e.contains("function evaluations") && !e.contains('\n'), "{url}: {e}");
    }
    // what the page asks for stays within the budget
    assert_eq!(handle("GET", "/api/run?steps=10000&optimizer=lbfgs&optimizer=adam").status, 200);
    assert_eq!(handle("GET", "/api/map?grid=16&steps=100&optimizer=lbfgs").status, 200);
    let cfg = |s: &str| optlab::optim::OptimizerConfig::parse(s).unwrap();
    assert_eq!(serve::api::evals_per_step(&cfg("adam")), 1);
    assert_eq!(serve::api::evals_per_step(&cfg("lbfgs")), 26);
    assert_eq!(serve::api::evals_per_step(&cfg("lbfgs(max_iter=100, max_eval=7)")), 101);
}

#[test]
fn malformed_percent_escapes_are_refused() {
    for url in ["/api/run?function=%+9", "/api/run?function=%-1", "/api/run?function=%9", "/api/run?steps=%2"] {
        let r = handle("GET", url);
        assert_eq!(r.status, 400, "{url}");
        assert!(r.value()["error"].as_str().unwrap().contains("percent"), "{url}");
    }
    assert_eq!(handle("GET", "/api/run?steps=+5").status, 400);
}
