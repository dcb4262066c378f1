//! Times the 2-D analysis of `compare` apart from plotting: parsing a typed expression (with
//! the descent that decides whether it is bounded below), a 1,000-step adam run and its
//! summary (the descent from its end to the nearest minimum), the minima search that marks
//! the contour, and tune's target. Then the same for generated random expressions, and a
//! basin-map classification of many minima.
//!
//! cargo run --release --example analysis_timing [RANDOM_COUNT]

use optlab::experiment::compare::compare;
use optlab::experiment::map::{map, MapOptions};
use optlab::experiment::tune;
use optlab::objective::Function;
use optlab::optim::OptimizerConfig;
use std::time::Instant;

/// The analysis of one `compare -f SRC -o adam --steps 1000`: (seconds, minima found, note).
fn analyse(src: &str) -> Option<(f64, usize, Option<String>)> {
    let t = Instant::now();
    let f = Function::from_expr(src, [-10.0, 10.0, -10.0, 10.0], [8.0, 0.1]).ok()?;
    if f.check_start(f.start).is_err() {
        return None;
    }
    let adam = OptimizerConfig::parse("adam").unwrap();
    let _runs = compare(&f, &[adam], f.start, 1000, Default::default());
    let n = f.minima().len();
    let _ = tune::target(&f, f.start);
    Some((t.elapsed().as_secs_f64(), n, f.minima_note().map(str::to_string)))
}

/// A small deterministic generator of random expressions (xorshift).
struct Gen(u64);

impl Gen {
    fn below(&mut self, k: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % k
    }
    fn expr(&mut self, depth: u32) -> String {
        if depth == 0 || self.below(4) == 0 {
            return match self.below(8) {
                0 | 1 => "x".into(),
                2 | 3 => "y".into(),
                4 => "pi".into(),
                5 => format!("{}", self.below(10)),
                6 => format!("{}.{}", self.below(10), self.below(100)),
                _ => format!("{}e{}", 1 + self.below(9), self.below(40) as i64 - 20),
            };
        }
        let (a, b) = (self.expr(depth - 1), self.expr(depth - 1));
        match self.below(10) {
            0 => format!("{a}+{b}"),
            1 => format!("{a} - {b}"),
            2 => format!("{a}*{b}"),
            3 => format!("{a}/{b}"),
            4 => format!("({a})^{b}"),
            5 => format!("({a})^{}", self.below(5)),
            6 => format!("-{a}"),
            _ => {
                let f = ["sin", "cos", "tan", "exp", "ln", "sqrt", "abs", "tanh"][self.below(8) as usize];
                format!("{f}({a})")
            }
        }
    }
}

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    println!("compare -o adam --steps 1000, analysis only (no figures):");
    for src in [
        "x^2+5",
        "cos(x)",
        "sin(y+1)",
        "tanh(x)^2+tanh(y)^2",
        "(1.5-x+x*y)^2+(2.25-x+x*y^2)^2+(2.625-x+x*y^3)^2",
        "-exp(-x^2-y^2)",
        "x**2/10*sin(x**2) + y**2/10*cos(y**2)",
        "x^4+y^4+3",
        "sin(100*x)+sin(100*y)",
    ] {
        let (s, n, note) = analyse(src).unwrap();
        println!("  {s:6.3} s  {n:5} minima  {src}{}", note.map(|n| format!("  [{n}]")).unwrap_or_default());
    }
    let mut gen = Gen(0x9E37_79B9_7F4A_7C15);
    let mut times = Vec::new();
    let mut notes = 0;
    for _ in 0..count {
        let src = gen.expr(6);
        if let Some((s, _, note)) = analyse(&src) {
            times.push((s, src));
            notes += note.is_some() as usize;
        }
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(worst) = times.last() {
        let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize].0;
        println!(
            "{} random expressions (finite at the start): median {:.3} s, 90% {:.3} s, 99% {:.3} s, slowest {:.3} s ({}); \
             {notes} searches stopped by their budget",
            times.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            worst.0,
            worst.1
        );
    }
    // classification of a basin map whose starts nearly all end at minima of their own
    let f = Function::from_expr("sin(100*x)+sin(100*y)", [-10.0, 10.0, -10.0, 10.0], [8.0, 0.1]).unwrap();
    for grid in [256, 1024] {
        let cfg = ("gd".to_string(), OptimizerConfig::parse("gd(lr=1e-5)").unwrap());
        let o = MapOptions { grid, steps: 1, domain: f.domain, shape: Default::default() };
        let t = Instant::now();
        let m = map(&f, &[cfg], &o);
        println!(
            "map of sin(100*x)+sin(100*y), grid {grid}, 1 step: {:.2} s, {} minima{}",
            t.elapsed().as_secs_f64(),
            m[0].minima.len(),
            m[0].note.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default()
        );
    }
}
