//! The latency of a small `/api/run` (the seminar's six optimizers × 500 steps, what a drag
//! asks for) over HTTP on 127.0.0.1, first on a quiet server, then while the hostile
//! clients of issue 18 run at once: 16 sockets whose bodies never arrive, one that
//! pipelines 20 contours of 512² and never reads, 60 idle connections, two basin maps of
//! 512² starts × 1,000 steps, and a stream of cross-site and foreign-Host requests.
//!
//!     cargo run --release --example serve_attack

use optlab::serve::{self, ServeOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN: &str = "/api/run?function=sin-cos&start=8,0.1&steps=500\
    &optimizer=gd(lr%3D0.1)&optimizer=momentum(lr%3D0.1)&optimizer=nag(lr%3D0.1)\
    &optimizer=adagrad(lr%3D0.1)&optimizer=adadelta(lr%3D0.1)&optimizer=adam(lr%3D0.1)";

fn stats(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<44} median {:7.1} ms   p95 {:7.1} ms   max {:7.1} ms   ({} requests)",
        q(0.5),
        q(0.95),
        q(1.0),
        ms.len()
    );
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else { return 0 };
    let _ = s.set_read_timeout(Some(Duration::from_secs(600)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out[..out.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn measure(addr: SocketAddr, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let url =
                RUN.replace("start=8,0.1", &format!("start={},{}", 8.0 - i as f64 * 0.01, 0.1 + i as f64 * 0.005));
            let t = Instant::now();
            assert_eq!(get(addr, &url, ""), 200);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn main() {
    let running = serve::start(&ServeOptions { host: "127.0.0.1".into(), port: 0 }).expect("cannot start the server");
    let addr = running.addr;
    measure(addr, 10);
    stats("quiet server", measure(addr, 100));

    let stop = Arc::new(AtomicBool::new(false));
    let mut held = Vec::new();
    for i in 0..16 {
        let mut s = TcpStream::connect(addr).unwrap();
        let how = if i % 2 == 0 { "Content-Length: 2000" } else { "Transfer-Encoding: chunked" };
        let _ = s.write_all(format!("GET /api/functions HTTP/1.1\r\nHost: {addr}\r\n{how}\r\n\r\n").as_bytes());
        held.push(s);
    }
    let mut pipe = TcpStream::connect(addr).unwrap();
    let one = format!("GET /api/function?grid=512 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let _ = pipe.write_all(one.repeat(20).as_bytes());
    held.push(pipe);
    for _ in 0..60 {
        held.push(TcpStream::connect(addr).unwrap());
    }
    let maps: Vec<_> = (0..2)
        .map(|k| {
            std::thread::spawn(move || {
                let path = format!("/api/map?function=sin-cos&optimizer=nadam(lr%3D0.0{})&grid=512&steps=1000", k + 1);
                get(addr, &path, "")
            })
        })
        .collect();
    let s2 = stop.clone();
    let refused = std::thread::spawn(move || {
        let mut n = 0;
        while !s2.load(Ordering::SeqCst) {
            assert_eq!(get(addr, "/api/map?grid=512", "Sec-Fetch-Site: cross-site\r\n"), 403);
            n += 1;
        }
        n
    });
    std::thread::sleep(Duration::from_millis(500));
    let heavy_at_start = running.heavy_running();
    stats("during the attacks", measure(addr, 100));
    let heavy_at_end = running.heavy_running();
    stop.store(true, Ordering::SeqCst);
    println!(
        "basin maps under way when the measurement started / ended: {heavy_at_start} / {heavy_at_end}; cross-site requests refused meanwhile: {}",
        refused.join().unwrap()
    );
    drop(held);
    for m in maps {
        let _ = m.join();
    }
    running.stop();
}
