//! The playground's JSON API: the registry, bad requests (HTTP 400 with the command line's
//! message), the limits, equality with what `optlab compare` writes, and that a slow basin
//! map does not hold up `/api/run`.

use optlab::serve::{self, handle, ServeOptions};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::Command;

fn get(url: &str) -> (u16, Value) {
    let r = handle("GET", url);
    (r.status, r.value())
}

/// A raw HTTP/1.0 exchange with a running server: status and body.
fn http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|b| b.1.to_string()).unwrap_or_default();
    (status, body)
}

fn cli_error(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?} should be a usage error");
    let err = String::from_utf8(out.stderr).unwrap();
    err.trim_end().strip_prefix("error: ").unwrap_or(&err).to_string()
}

#[test]
fn registry_lists_every_method_with_its_schema() {
    let (s, v) = get("/api/optimizers");
    assert_eq!(s, 200);
    let list = v["optimizers"].as_array().unwrap();
    assert_eq!(list.len(), optlab::optim::METHODS.len());
    for (m, j) in optlab::optim::METHODS.iter().zip(list) {
        assert_eq!(j["name"], m.name);
        let params = j["params"].as_array().unwrap();
        assert_eq!(params.len(), m.params.len());
        for (p, q) in m.params.iter().zip(params) {
            assert_eq!(q["key"], p.key);
            assert_eq!(q["default"], p.default);
            assert!(q["kind"]["type"].is_string());
        }
    }
    assert_eq!(v["schedulers"].as_array().unwrap().len(), optlab::schedule::SCHEDULERS.len());
    let (s, f) = get("/api/functions");
    assert_eq!(s, 200);
    assert_eq!(f["functions"].as_array().unwrap().len(), optlab::objective::BUILTINS.len());
    let (s, g) = get("/api/function?function=himmelblau&grid=16");
    assert_eq!(s, 200);
    assert_eq!(g["values"].as_array().unwrap().len(), 256);
    assert_eq!(g["minima"].as_array().unwrap().len(), 4);
    for page in ["/", "/app.js", "/style.css"] {
        assert_eq!(handle("GET", page).status, 200, "{page}");
    }
}

#[test]
fn bad_requests_get_400_with_the_command_lines_message() {
    // the same input through the CLI and the API gives the same message
    let cases: &[(&str, &[&str])] = &[
        ("/api/run?function=nosuch", &["compare", "--function", "nosuch"]),
        ("/api/run?function=x%5E2+%2B", &["compare", "--function", "x^2 +"]),
        ("/api/run?optimizer=adam(lr%3D-1)", &["compare", "--optimizer", "adam(lr=-1)"]),
        ("/api/run?optimizer=adamm", &["compare", "--optimizer", "adamm"]),
        ("/api/run?start=1,x", &["compare", "--start", "1,x"]),
        ("/api/run?domain=1,0,0,1", &["compare", "--domain", "1,0,0,1"]),
        ("/api/run?shape=3x3", &["compare", "--shape", "3x3"]),
    ];
    for (url, args) in cases {
        let (s, v) = get(url);
        assert_eq!(s, 400, "{url}");
        let want = cli_error(args);
        assert_eq!(v["error"].as_str().unwrap(), want, "{url}");
    }
    // a parse error of an expression says where, for the caret under the input
    let (_, v) = get("/api/function?function=sin(x)+%2B+*y");
    assert_eq!(v["expr"]["text"], "sin(x) + *y");
    assert_eq!(v["expr"]["at"], 9);
    // limits and malformed numbers: one line each
    for url in [
        "/api/run?steps=0",
        "/api/run?steps=10001",
        "/api/run?steps=abc",
        "/api/run?steps=-5",
        "/api/map?grid=513",
        "/api/map?grid=512&steps=2000",
        "/api/function?grid=100000",
        "/api/run?stpes=5",
        "/api/run?function=%zz",
        "/api/tune?steps=1e9",
    ] {
        let (s, v) = get(url);
        assert_eq!(s, 400, "{url}");
        let e = v["error"].as_str().unwrap();
        assert!(!e.is_empty() && !e.contains('\n'), "{url}: {e}");
    }
    let many = "&optimizer=gd".repeat(serve::api::MAX_OPTIMIZERS + 1);
    assert_eq!(get(&format!("/api/run?steps=1{many}")).0, 400);
    assert_eq!(get("/api/nothing").0, 404);
    assert_eq!(handle("POST", "/api/run").status, 405);
}

/// Parses `trajectories.csv` into rows per optimizer label.
fn csv_rows(text: &str) -> Vec<(String, Vec<f64>)> {
    text.lines()
        .skip(1)
        .map(|l| {
            // labels here have no commas outside parentheses once quoted; split from the right
            let fields: Vec<&str> = l.rsplitn(11, ',').collect();
            let label = fields[10].trim_matches('"').to_string();
            (label, fields[..10].iter().rev().map(|f| f.parse::<f64>().unwrap()).collect())
        })
        .collect()
}

#[test]
fn run_equals_what_compare_writes() {
    let dir = std::env::temp_dir().join(format!("optlab-serve-eq-{}", std::process::id()));
    let specs = [
        "nag(lr=0.05)",
        "adam(lr=0.1) | StepLR(step_size=20, gamma=0.5)",
        "lbfgs(lr=0.5)",
        "sf-adamw(lr=0.2)",
        "muon(lr=0.05)",
    ];
    for (function, start, shape) in
        [("sin-cos", "7.5,0.3", "2"), ("x^2/10 + sin(y)", "-3,2", "2x1"), ("rosenbrock", "-1.2,1", "1x2")]
    {
        let mut args = vec!["compare", "--function", function, "--start", start, "--steps", "120", "--shape", shape];
        args.push("--optimizer");
        args.extend(specs);
        let out_dir = dir.join(shape);
        args.extend(["--out", out_dir.to_str().unwrap()]);
        let st = Command::new(env!("CARGO_BIN_EXE_optlab")).args(&args).output().unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
        let rows = csv_rows(&std::fs::read_to_string(out_dir.join("trajectories.csv")).unwrap());

        let enc = |s: &str| {
            s.replace('%', "%25")
                .replace('+', "%2B")
                .replace(' ', "+")
                .replace('=', "%3D")
                .replace('|', "%7C")
                .replace('^', "%5E")
        };
        let mut url = format!("/api/run?function={}&start={start}&steps=120&shape={shape}", enc(function));
        for s in specs {
            url.push_str(&format!("&optimizer={}", enc(s)));
        }
        let (status, v) = get(&url);
        assert_eq!(status, 200, "{v}");
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), specs.len());
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(r["summary"], summary["runs"][i], "{function} {}", specs[i]);
            let mine: Vec<&(String, Vec<f64>)> = rows.iter().filter(|(l, _)| *l == r["label"]).collect();
            let points = r["points"].as_array().unwrap();
            assert_eq!(mine.len(), points.len(), "{}", r["label"]);
            for (k, (_, f)) in mine.iter().enumerate() {
                // optimizer,step,x,y,loss,grad_x,grad_y,evals,lr,...
                assert_eq!(f[0], k as f64);
                assert_eq!(f[1], points[k][0].as_f64().unwrap());
                assert_eq!(f[2], points[k][1].as_f64().unwrap());
                assert_eq!(f[3], r["losses"][k].as_f64().unwrap());
                assert_eq!(f[6], r["evals"][k].as_f64().unwrap());
                assert_eq!(f[7], r["lr"][k].as_f64().unwrap());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn http_limits_and_a_slow_map_does_not_block_run() {
    let running = serve::start(&ServeOptions { host: "127.0.0.1".into(), port: 0 }).unwrap();
    let addr = running.addr;
    let (s, body) = http(addr, "GET /api/run?steps=5 HTTP/1.0\r\n\r\n");
    assert_eq!(s, 200, "{body}");
    let long = "a".repeat(serve::MAX_URL + 10);
    assert_eq!(http(addr, &format!("GET /api/run?x={long} HTTP/1.0\r\n\r\n")).0, 414);
    let big = "x".repeat(serve::MAX_BODY + 10);
    let (s, body) = http(addr, &format!("POST /api/run HTTP/1.0\r\nContent-Length: {}\r\n\r\n{big}", big.len()));
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("\"error\""));
    let (s, _) = http(addr, "GET /api/run?steps=99999 HTTP/1.0\r\n\r\n");
    assert_eq!(s, 400);

    // a basin map of 512² starts × 1000 steps takes seconds; runs are answered meanwhile
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let map = std::thread::spawn(move || {
        let r = http(addr, "GET /api/map?function=sin-cos&optimizer=nadam&grid=512&steps=1000 HTTP/1.0\r\n\r\n");
        d.store(true, std::sync::atomic::Ordering::SeqCst);
        r.0
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    // runs answered while the map was still being computed
    let mut answered = 0;
    for _ in 0..5 {
        let (s, _) = http(addr, "GET /api/run?steps=500 HTTP/1.0\r\n\r\n");
        assert_eq!(s, 200);
        if !done.load(std::sync::atomic::Ordering::SeqCst) {
            answered += 1;
        }
    }
    assert_eq!(map.join().unwrap(), 200);
    assert!(answered >= 3, "only {answered} of 5 runs were answered while the map ran");
    running.stop();
}
