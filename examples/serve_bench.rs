//! Response time of the playground's `/api/run` for the seminar's six optimizers × 500 steps
//! (what a drag on the contour asks for), in process and over HTTP on 127.0.0.1.
//!
//!     cargo run --release --example serve_bench

use optlab::serve::{self, handle, ServeOptions};
use std::io::{Read, Write};
use std::time::Instant;

const URL: &str = "/api/run?function=sin-cos&start=8,0.1&steps=500\
    &optimizer=gd(lr%3D0.1)&optimizer=momentum(lr%3D0.1)&optimizer=nag(lr%3D0.1)\
    &optimizer=adagrad(lr%3D0.1)&optimizer=adadelta(lr%3D0.1)&optimizer=adam(lr%3D0.1)";

fn stats(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<34} median {:6.2} ms   p95 {:6.2} ms   max {:6.2} ms   ({} requests)",
        q(0.5),
        q(0.95),
        q(1.0),
        ms.len()
    );
}

fn main() {
    let n = 200;
    for _ in 0..10 {
        assert_eq!(handle("GET", URL).status, 200);
    }
    let mut t = Vec::new();
    for i in 0..n {
        // a different start each time, as while dragging
        let url = URL.replace("start=8,0.1", &format!("start={},{}", 8.0 - i as f64 * 0.01, 0.1 + i as f64 * 0.005));
        let t0 = Instant::now();
        let r = handle("GET", &url);
        t.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.status, 200);
    }
    stats("in process (compute + JSON)", t);

    let running = serve::start(&ServeOptions { host: "127.0.0.1".into(), port: 0 }).expect("cannot start the server");
    let mut t = Vec::new();
    let mut bytes = 0;
    for i in 0..n {
        let url = URL.replace("start=8,0.1", &format!("start={},{}", 8.0 - i as f64 * 0.01, 0.1 + i as f64 * 0.005));
        let t0 = Instant::now();
        let mut s = std::net::TcpStream::connect(running.addr).unwrap();
        s.write_all(format!("GET {url} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        t.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(out.starts_with(b"HTTP/1.1 200") || out.starts_with(b"HTTP/1.0 200"));
        bytes = out.len();
    }
    stats("over HTTP (connect, answer, read)", t);
    println!("answer size {:.0} kB", bytes as f64 / 1e3);
    running.stop();
}
