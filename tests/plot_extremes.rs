//! Figures always finish: extreme, constant, tiny or non-finite data gives a figure (with a
//! note saying what was clamped or skipped) within a generous bound, never an error, a
//! hang or a runaway allocation.
//!
//! - Property tests of the axis ranges (`optlab::plot::axis`): any f64 inputs give finite,
//!   ordered ranges of a safe width, and plotters' own tick search on them ends with a
//!   bounded number of ticks (it loops forever on some raw ranges).
//! - Every figure type drawn to PNG and SVG over a generated family of nasty inputs and a
//!   fixed list of the audit's cases, each within 5 s (they take well under 1 s).

use optlab::experiment::map::{MapResult, Outcome};
use optlab::experiment::sweep::SweepPoint;
use optlab::experiment::train::{EpochRecord, RunResult, RunStatus};
use optlab::objective::builtin::Vg;
use optlab::objective::{BuiltinInfo, Expr, Function, Kind};
use optlab::plot::axis::{self, Fit};
use optlab::plot::contour::Contour;
use optlab::plot::curves::{self, Band, Curves, CurvesGrid};
use optlab::plot::lines::LossCurves;
use optlab::plot::map::{BasinMap, MapPanel};
use optlab::plot::surface::Surface;
use optlab::plot::sweep::{SweepCurves, SweepHeatmap};
use optlab::plot::{render_png, render_svg, Figure, Series};
use plotters::coord::combinators::{IntoLogRange, LogCoord};
use plotters::coord::ranged1d::{BoldPoints, LightPoints, Ranged};
use plotters::coord::types::RangedCoordf64;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bound on one figure (PNG and SVG) or one property run: generous, only to prove
/// that nothing hangs.
const BOUND: Duration = Duration::from_secs(5);

/// Runs `f` on its own thread; fails the test if it panics or takes longer than `bound`.
fn within<T: Send + 'static>(what: &str, bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(bound) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: did not finish within {bound:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked after {:?}", start.elapsed()),
    }
}

/// Draws `fig` to PNG and SVG; both must succeed. Returns the SVG text.
fn render<F: Figure>(what: &str, fig: &F) -> String {
    let png = render_png(fig).unwrap_or_else(|e| panic!("{what}: PNG failed: {e:#}"));
    assert_eq!(&png[..4], b"\x89PNG", "{what}");
    let svg = render_svg(fig).unwrap_or_else(|e| panic!("{what}: SVG failed: {e:#}"));
    assert!(svg.trim_end().ends_with("</svg>"), "{what}");
    svg
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config { cases, failure_persistence: None, ..Config::default() },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

/// Values that broke or could break figures.
const NASTY: [f64; 20] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    1e-320,
    5e-324,
    -5e-324,
    f64::MIN_POSITIVE,
    1e-300,
    1e300,
    1e308,
    -1e308,
    f64::MAX,
    -f64::MAX,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e8,
    1e8 + 1.5e-8,
    1e-9,
];

/// Any f64: every bit pattern, the nasty values, and numbers of every decade.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(NASTY.to_vec()),
        (-330i32..310, -10.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e)),
    ]
}

/// Pairs of wild values, often a few ulps apart (ranges of almost no width).
fn pair() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![(wild(), wild()), (wild(), 0u64..8).prop_map(|(a, k)| (a, f64::from_bits(a.to_bits().wrapping_add(k)))),]
}

/// Hints plotters passes to its tick search (bold labels, light lines up to 11 × 10).
const HINTS: [usize; 12] = [0, 1, 2, 3, 4, 5, 7, 10, 11, 30, 55, 110];

fn check_linear(f: &Fit) -> Result<(), TestCaseError> {
    prop_assert!(f.lo.is_finite() && f.hi.is_finite(), "{f:?}");
    prop_assert!(f.lo < f.hi, "{f:?}");
    prop_assert!(f.lo >= -axis::MAX_ABS && f.hi <= axis::MAX_ABS, "{f:?}");
    let w = f.hi - f.lo;
    prop_assert!(w >= axis::MIN_WIDTH, "{f:?}");
    prop_assert!(w >= 0.999 * axis::MIN_REL_WIDTH * f.lo.abs().max(f.hi.abs()), "{f:?}");
    let coord = RangedCoordf64::from(f.lo..f.hi);
    for n in HINTS {
        let bold = coord.key_points(BoldPoints(n));
        prop_assert!(bold.len() <= 2 * n + 5, "{} ticks for {n} on {f:?}", bold.len());
        prop_assert!(bold.iter().all(|v| v.is_finite()), "{f:?}");
        let light = coord.key_points(LightPoints::new(n.max(1), n * 10));
        prop_assert!(light.len() <= 20 * n + 15, "{} light ticks for {n} on {f:?}", light.len());
    }
    Ok(())
}

fn check_log(f: &Fit) -> Result<(), TestCaseError> {
    prop_assert!(f.lo >= axis::LOG_MIN && f.hi <= axis::LOG_MAX, "{f:?}");
    prop_assert!(f.hi >= f.lo * axis::MIN_LOG_RATIO * 0.999_999, "{f:?}");
    prop_assert!(f.hi.log10() - f.lo.log10() <= axis::MAX_DECADES + 1e-6, "{f:?}");
    let coord: LogCoord<f64> = (f.lo..f.hi).log_scale().into();
    for n in HINTS {
        let bold = coord.key_points(BoldPoints(n));
        prop_assert!(bold.len() <= 2 * n + 70, "{} ticks for {n} on {f:?}", bold.len());
        let light = coord.key_points(LightPoints::new(n.max(1), n * 10));
        prop_assert!(light.len() <= 20 * n + 70, "{} light ticks for {n} on {f:?}", light.len());
    }
    Ok(())
}

#[test]
fn a_linear_axis_of_any_two_values_is_finite_ordered_wide_enough_and_its_ticks_are_bounded() {
    within("linear axis property", BOUND * 4, || {
        runner(10_000)
            .run(&(pair(), 0.0f64..2.0, 0.0f64..150.0), |((a, b), below, above)| {
                let f = axis::linear("v", a, b);
                check_linear(&f)?;
                // ordinary ranges are left as they are, without a note
                let (lo, hi) = (a.min(b), a.max(b));
                let ordinary = lo.is_finite()
                    && hi.is_finite()
                    && lo >= -axis::MAX_ABS
                    && hi <= axis::MAX_ABS
                    && hi - lo >= axis::MIN_WIDTH.max(axis::MIN_REL_WIDTH * lo.abs().max(hi.abs()));
                if ordinary {
                    prop_assert_eq!((f.lo, f.hi), (lo, hi));
                    prop_assert!(f.note.is_none());
                }
                check_linear(&axis::widen(f, below, above))?;
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn a_log_axis_of_any_values_lies_in_1e_300_to_1e300_spans_at_most_60_decades_and_its_ticks_are_bounded() {
    within("log axis property", BOUND * 4, || {
        runner(10_000)
            .run(&(pair(), prop::option::of(wild())), |((a, b), centre)| {
                let f = axis::log("v", a, b, centre);
                check_log(&f)?;
                let (lo, hi) = (a.min(b), a.max(b));
                let ordinary = lo >= axis::LOG_MIN
                    && hi <= axis::LOG_MAX
                    && hi >= lo * axis::MIN_LOG_RATIO
                    && hi.log10() - lo.log10() <= axis::MAX_DECADES;
                if ordinary {
                    prop_assert_eq!((f.lo, f.hi), (lo, hi));
                    prop_assert!(f.note.is_none());
                }
                if lo.is_finite() && lo > 0.0 && hi.is_finite() && hi.log10() - lo.log10() > axis::MAX_DECADES + 1.0 {
                    prop_assert!(f.note.is_some(), "clamping {a}..{b} says so");
                }
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn a_log_axis_of_any_data_is_plotters_own_for_ordinary_ranges_and_in_decades_beyond() {
    within("log or decades property", BOUND * 4, || {
        let pad = prop::sample::select(vec![(1.0, 1.0), (0.5, 2.0), (0.8, 1.25)]);
        runner(10_000)
            .run(&(pair(), pad), |((a, b), (down, up))| {
                let ax = axis::Axis::log("v", a, b, down, up, None);
                match &ax {
                    axis::Axis::Log(f) => check_log(f)?,
                    axis::Axis::Decades(f) => {
                        check_linear(f)?;
                        // log10 of positive f64s (and the margins): within -325..310
                        prop_assert!(f.lo >= -325.0 && f.hi <= 310.0, "{f:?}");
                        prop_assert!(f.note.is_none(), "nothing is cut off: {f:?}");
                    }
                    axis::Axis::Linear(f) => prop_assert!(false, "a log axis came out linear: {f:?}"),
                }
                let (lo, hi) = (a.min(b) * down, (a.max(b) * up).min(f64::MAX));
                if lo >= axis::LOG_MIN && hi <= axis::LOG_MAX && hi.log10() - lo.log10() <= axis::MAX_DECADES {
                    prop_assert!(ax.is_log(), "{ax:?}");
                }
                // every positive value is drawable somewhere on the axis or its border
                for v in [a, b] {
                    if v.is_finite() && v > 0.0 && a.min(b) > 0.0 && a.max(b).is_finite() {
                        prop_assert!(ax.clamp(v).is_some());
                    }
                }
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn clipped_paths_lie_inside_the_view_and_keep_inside_points_exactly() {
    let pts = prop::collection::vec((wild(), wild()), 0..12);
    within("clip property", BOUND * 4, move || {
        runner(10_000)
            .run(&(pts, pair(), pair(), any::<bool>(), any::<bool>()), |(pts, (a, b), (c, d), lx, ly)| {
                let (fx, fy) = if lx {
                    (axis::log("x", a, b, None), axis::log("y", c, d, None))
                } else {
                    (axis::linear("x", a, b), axis::linear("y", c, d))
                };
                let fy = if ly && !lx { axis::log("y", c, d, None) } else { fy };
                let view = [fx.lo, fx.hi, fy.lo, fy.hi];
                let pieces = axis::clip_path(&pts, view, lx, lx || ly);
                let n: usize = pieces.iter().map(Vec::len).sum();
                prop_assert!(n <= 2 * pts.len(), "{n} points from {}", pts.len());
                for p in pieces.iter().flatten() {
                    prop_assert!(fx.contains(p.0) && fy.contains(p.1), "{p:?} outside {view:?}");
                }
                // an input point inside the view, on a drawable segment, is drawn as it is
                let drawable = |q: (f64, f64)| {
                    q.0.is_finite() && q.1.is_finite() && (!lx || q.0 > 0.0) && (!(lx || ly) || q.1 > 0.0)
                };
                for (k, q) in pts.iter().enumerate() {
                    let next = |j: Option<usize>| j.and_then(|j| pts.get(j)).is_some_and(|&r| drawable(r));
                    let linked = pts.len() == 1 || next(k.checked_sub(1)) || next(Some(k + 1));
                    if drawable(*q) && fx.contains(q.0) && fy.contains(q.1) && linked {
                        prop_assert!(pieces.iter().flatten().any(|p| p == q), "{q:?} was lost");
                    }
                }
                Ok(())
            })
            .unwrap();
    });
}

// ---------------------------------------------------------------- functions for contours

fn vg(v: f64) -> Vg {
    (v, 0.0, 0.0)
}
fn exp709_x(x: f64, _y: f64) -> Vg {
    (709f64.exp() * x, 709f64.exp(), 0.0)
}
fn tiny_x(x: f64, _y: f64) -> Vg {
    (1e-320 * x, 1e-320, 0.0)
}
fn huge_const(_x: f64, _y: f64) -> Vg {
    vg(1e308)
}
fn nan_everywhere(_x: f64, _y: f64) -> Vg {
    vg(f64::NAN)
}
fn inf_everywhere(_x: f64, _y: f64) -> Vg {
    vg(f64::INFINITY)
}
fn ln_x(x: f64, _y: f64) -> Vg {
    (x.ln(), 1.0 / x, 0.0)
}
fn huge_slope(x: f64, y: f64) -> Vg {
    (x * 1e308 + y, 1e308, 1.0)
}
fn bowl(x: f64, y: f64) -> Vg {
    (x * x + y * y, 2.0 * x, 2.0 * y)
}

/// A function with no minima to search (so only drawing is timed).
fn made(name: &'static str, f: Fxy, domain: [f64; 4], log_scale: bool) -> Function {
    BuiltinInfo {
        name,
        aliases: &[],
        formula: name,
        domain,
        start: [0.0, 0.0],
        minima: Some(&[]),
        bounded_below: true,
        log_scale,
        seminar: false,
        f,
    }
    .function()
}

/// A function's value and gradient at (x, y).
type Fxy = fn(f64, f64) -> Vg;

const FUNCTIONS: [(&str, Fxy); 8] = [
    ("exp(709)*x", exp709_x),
    ("1e-320*x", tiny_x),
    ("1e308", huge_const),
    ("0/0", nan_everywhere),
    ("1/0", inf_everywhere),
    ("ln(x)", ln_x),
    ("x*1e308+y", huge_slope),
    ("x^2+y^2", bowl),
];

const DOMAINS: [[f64; 4]; 9] = [
    [-10.0, 10.0, -10.0, 10.0],
    [-1e308, 1e308, -1e308, 1e308],
    [-f64::MAX, f64::MAX, 0.0, 1e-300],
    [1.0, 1.0, 2.0, 2.0],
    [0.0, 1e-300, 0.0, 1e-300],
    [1e308, f64::MAX, 1e8, 1e8 + 1.5e-8],
    [f64::NAN, 1.0, f64::NEG_INFINITY, f64::INFINITY],
    [5.0, -5.0, 3.0, -3.0],
    [1e-320, 2e-320, -5e-324, 5e-324],
];

fn series(label: &str, points: Vec<(f64, f64, f64)>, diverged_at: Option<usize>) -> Series<'static> {
    Series { label: label.to_string(), points, diverged_at, _marker: std::marker::PhantomData }
}

/// Trajectories that leave every view, jump to infinity or are NaN.
fn wild_runs() -> Vec<Series<'static>> {
    vec![
        series("empty", vec![], None),
        series("one point", vec![(0.5, 0.5, 1.0)], None),
        series(
            "wild",
            vec![
                (1.0, 1.0, 2.0),
                (1e308, -1e308, 1e308),
                (f64::NAN, 0.0, f64::NAN),
                (0.0, f64::INFINITY, f64::INFINITY),
                (-f64::MAX, f64::MAX, -f64::MAX),
                (1e-320, 5e-324, 1e-320),
                (0.0, 0.0, 0.0),
            ],
            Some(6),
        ),
    ]
}

#[test]
fn contours_and_surfaces_of_extreme_functions_on_extreme_domains_finish() {
    for (name, f) in FUNCTIONS {
        for (k, d) in DOMAINS.iter().enumerate() {
            let what = format!("{name} on domain {k} {d:?}");
            let func = made(name, f, *d, k % 2 == 1);
            let w = what.clone();
            within(&what, BOUND, move || {
                let runs = wild_runs();
                let view = optlab::plot::contour::view_for(&func, &runs);
                render(&w, &Contour { f: &func, series: &runs, title: w.clone(), view, size: (320, 260) });
            });
            let (w, func) = (what.clone(), made(name, f, *d, k % 2 == 0));
            within(&what, BOUND, move || {
                let runs = wild_runs();
                render(&w, &Surface { f: &func, series: &runs, title: w.clone(), size: (320, 260) });
            });
        }
    }
}

#[test]
fn the_audits_functions_typed_as_expressions_draw_with_a_note() {
    // the audit's cases, through the parser, at full size
    let cases: [(&str, [f64; 4], &str); 5] = [
        ("exp(709)*x", [-10.0, 10.0, -10.0, 10.0], "drawn within"),
        ("1e-320*x", [-10.0, 10.0, -10.0, 10.0], "too narrow"),
        ("1e308", [-10.0, 10.0, -10.0, 10.0], "drawn within"),
        ("x^2+y^2", [-1e308, 1e308, -1e308, 1e308], "x spans"),
        ("x*y", [0.0, 1e-300, 0.0, 1e-300], "too narrow"),
    ];
    for (src, domain, note) in cases {
        let f = Function::from_expr(src, domain, [0.0, 0.0]).unwrap();
        let what = format!("{src} on {domain:?}");
        let w = what.clone();
        let svg = within(&what, BOUND, move || {
            let runs = vec![series("adam", vec![(0.0, 0.0, f.value(0.0, 0.0)), (1e-301, 1e-301, 0.0)], None)];
            render(&w, &Surface { f: &f, series: &runs, title: w.clone(), size: (900, 760) })
        });
        assert!(svg.contains(note), "{what}: the surface lacks the note '{note}'");
    }
}

#[test]
fn a_contour_of_a_typed_expression_on_extreme_domains_finishes() {
    // x*y has no minimum to search for: only the drawing is measured
    for domain in DOMAINS {
        let f = Function::from_expr("x*y + 1e308*x", domain, [0.0, 0.0]).unwrap();
        let what = format!("x*y + 1e308*x on {domain:?}");
        let w = what.clone();
        within(&what, BOUND * 2, move || {
            let runs = wild_runs();
            let view = optlab::plot::contour::view_for(&f, &runs);
            render(&w, &Contour { f: &f, series: &runs, title: w.clone(), view, size: (900, 760) });
        });
    }
}

// ---------------------------------------------------------------- loss and lr curves

#[test]
fn loss_curves_of_any_two_nasty_values_finish_on_linear_and_log_axes() {
    for a in NASTY {
        for b in NASTY {
            let what = format!("loss {a:e} → {b:e}");
            let w = what.clone();
            within(&what, BOUND, move || {
                let ramp: Vec<(f64, f64, f64)> = (0..30)
                    .map(|k| {
                        (
                            0.0,
                            0.0,
                            if k % 3 == 0 {
                                a
                            } else if k % 3 == 1 {
                                b
                            } else {
                                a / 2.0 + b / 2.0
                            },
                        )
                    })
                    .collect();
                let runs = vec![
                    series("constant", vec![(0.0, 0.0, a); 5], None),
                    series("single", vec![(0.0, 0.0, b)], None),
                    series("ramp", ramp, Some(29)),
                ];
                let mut fig = LossCurves::new(&runs, w.clone(), (300, 200));
                render(&w, &fig);
                // the lr figure: much headroom, x = evaluations that overflow
                fig.y_desc = "learning rate";
                fig.headroom = 0.12 * 1000.0;
                fig.x = Some(("function evaluations", vec![vec![a; 5], vec![b], vec![f64::MAX; 30]]));
                render(&w, &fig);
                // fewer x lists than runs
                fig.x = Some(("function evaluations", vec![vec![a, b]]));
                render(&w, &fig);
            });
        }
    }
}

#[test]
fn loss_curves_spanning_600_decades_are_drawn_in_decades_and_not_finite_values_get_a_note() {
    // plotters' log axis would drop every label below 2.2e-16: the decades are labelled
    let svg = within("600 decades", BOUND, || {
        let pts: Vec<(f64, f64, f64)> = (0..=60).map(|k| (0.0, 0.0, 10f64.powi(300 - 10 * k))).collect();
        let runs = vec![series("adam", pts, None)];
        render("600 decades", &LossCurves::new(&runs, "loss".into(), (900, 560)))
    });
    for label in ["1e-300", "1e-100", "1e100", "1e300"] {
        assert!(svg.contains(label), "no tick {label}");
    }
    // subnormal losses (a quadratic converged to 1e-320) are drawn, not cut off
    let svg = within("subnormal", BOUND, || {
        let pts: Vec<(f64, f64, f64)> = (0..110).map(|k| (0.0, 0.0, 10f64.powi(2 - 3 * k).max(5e-324))).collect();
        let runs = vec![series("gd", pts, None)];
        render("subnormal", &LossCurves::new(&runs, "loss".into(), (900, 560)))
    });
    assert!(svg.contains("1e-250") && !svg.contains("drawn over"), "subnormal losses are cut");
    let svg = within("not finite", BOUND, || {
        let runs = vec![series("adam", vec![(0.0, 0.0, 1.0), (0.0, 0.0, 0.5), (0.0, 0.0, f64::NAN)], None)];
        render("not finite", &LossCurves::new(&runs, "loss".into(), (900, 560)))
    });
    assert!(svg.contains("not finite from step 2"), "no note about the NaN");
    let svg = within("nothing", BOUND, || {
        let runs = vec![series("adam", vec![(0.0, 0.0, f64::NAN); 3], None)];
        render("nothing", &LossCurves::new(&runs, "loss".into(), (900, 560)))
    });
    assert!(svg.contains("nothing to draw"));
}

// ---------------------------------------------------------------- training curves

fn run_result(label: &str, seed: u64, losses: &[f64], acc: Option<f64>) -> RunResult {
    RunResult {
        label: label.into(),
        spec: label.into(),
        seed,
        epochs: losses
            .iter()
            .enumerate()
            .map(|(e, &l)| EpochRecord {
                optimizer: label.into(),
                seed,
                epoch: e + 1,
                train_loss: l,
                test_loss: Some(l),
                test_accuracy: acc,
                lr: l,
                seconds: 0.0,
            })
            .collect(),
        step_losses: vec![],
        status: RunStatus::Completed,
    }
}

#[test]
fn training_curves_with_nasty_epochs_finish() {
    for a in NASTY {
        for b in [f64::NAN, 1e-300, f64::MAX, a] {
            let what = format!("train {a:e}, {b:e}");
            let w = what.clone();
            within(&what, BOUND, move || {
                let results = vec![
                    run_result("adam", 0, &[a, b, a], Some(b)),
                    run_result("adam", 1, &[b, a, f64::MAX], Some(a)),
                    run_result("sgd", 0, &[], None),
                    run_result("nag", 0, &[f64::NAN, f64::NAN], Some(f64::NAN)),
                    run_result("one", 0, &[a], Some(1.0)),
                ];
                let bands = curves::bands(&results);
                for epochs in [0, 3, usize::MAX] {
                    render(&w, &CurvesGrid { bands: &bands, title: w.clone(), epochs });
                    render(&w, &Curves { bands: &bands, title: w.clone(), epochs });
                }
            });
        }
    }
}

#[test]
fn training_curves_with_no_runs_zero_epochs_or_many_optimizers_finish_with_a_note() {
    let svg = within("no runs", BOUND, || {
        render("no runs", &CurvesGrid { bands: &[], title: "t".into(), epochs: 0 });
        render("no runs", &Curves { bands: &[], title: "t".into(), epochs: 0 })
    });
    assert!(svg.contains("nothing to draw"));
    let svg = within("many", BOUND, || {
        let bands: Vec<Band> = (0..1000)
            .map(|i| Band { label: format!("opt{i}"), train: vec![(1.0, 1.0, 0.0)], accuracy: vec![], seeds: 1 })
            .collect();
        render("many", &CurvesGrid { bands: &bands, title: "t".into(), epochs: 1 })
    });
    assert!(svg.contains("the first 30 of 1000"));
}

// ---------------------------------------------------------------- basin maps

fn map(label: &str, grid: usize, domain: [f64; 4], minima: usize, cells: Option<Vec<Outcome>>) -> MapResult {
    let minima: Vec<[f64; 2]> = (0..minima).map(|i| [i as f64 * 0.01, -(i as f64) * 1e300]).collect();
    let n = minima.len().max(1);
    let cells = cells.unwrap_or_else(|| {
        (0..grid * grid)
            .map(|k| match k % 4 {
                0 if !minima.is_empty() => Outcome::Basin { minimum: (k % n) as u16, steps: k as u32 },
                1 => Outcome::Diverged { step: 3 },
                _ => Outcome::Stalled,
            })
            .collect()
    });
    MapResult { label: label.into(), spec: label.into(), grid, domain, cells, minima, note: None }
}

#[test]
fn basin_maps_with_no_one_or_a_thousand_minima_on_any_domain_finish() {
    for (k, d) in DOMAINS.iter().enumerate() {
        for minima in [0, 1, 1000] {
            for grid in [0, 1, 7, 300].into_iter().filter(|&g| g < 300 || k < 2) {
                let what = format!("map domain {k}, {minima} minima, grid {grid}");
                let (w, d) = (what.clone(), *d);
                within(&what, BOUND, move || {
                    let maps = vec![map("a", grid, d, minima, None), map("b", grid, d, minima, Some(vec![]))];
                    for steps in [0, usize::MAX] {
                        render(&w, &BasinMap { map: &maps[0], steps, title: w.clone() });
                        render(&w, &BasinMap { map: &maps[1], steps, title: w.clone() });
                    }
                    render(&w, &MapPanel { maps: &maps, steps: 10, title: w.clone() });
                });
            }
        }
    }
}

#[test]
fn inconsistent_empty_or_very_many_maps_finish_with_a_note() {
    let svg = within("inconsistent", BOUND, || {
        let bad = map("bad", 3, [0.0, 1.0, 0.0, 1.0], 1, Some(vec![Outcome::Basin { minimum: 7, steps: 1 }; 9]));
        render("inconsistent", &BasinMap { map: &bad, steps: 10, title: "t".into() })
    });
    assert!(svg.contains("no cells to draw"));
    let svg = within("no maps", BOUND, || render("no maps", &MapPanel { maps: &[], steps: 1, title: "t".into() }));
    assert!(svg.contains("no maps"));
    let svg = within("many maps", BOUND, || {
        let maps: Vec<MapResult> = (0..200).map(|i| map(&format!("m{i}"), 4, [0.0, 1.0, 0.0, 1.0], 1, None)).collect();
        render("many maps", &MapPanel { maps: &maps, steps: 1, title: "t".into() })
    });
    assert!(svg.contains("the first 30 of 200"));
}

// ---------------------------------------------------------------- learning-rate sweeps

fn point(opt: &str, lr: f64, other: Option<f64>, loss: f64, conv: Option<usize>, div: Option<usize>) -> SweepPoint {
    SweepPoint { optimizer: opt.into(), lr, other, final_loss: loss, evals: 0, converged_at: conv, diverged_at: div }
}

#[test]
fn sweeps_over_nasty_learning_rates_and_losses_finish() {
    let lr_sets: Vec<Vec<f64>> = vec![
        optlab::experiment::sweep::logspace(1e-300, 1e300, 5),
        vec![1e-3],
        vec![0.0, -1.0, f64::NAN, f64::INFINITY],
        vec![0.0, 1e-3, 1.0],
        vec![5e-324, f64::MAX],
        vec![],
        NASTY.to_vec(),
    ];
    for (i, lrs) in lr_sets.into_iter().enumerate() {
        for loss in NASTY {
            let what = format!("sweep {i}, loss {loss:e}");
            let (w, lrs) = (what.clone(), lrs.clone());
            within(&what, BOUND, move || {
                let mut pts = Vec::new();
                for (k, &lr) in lrs.iter().enumerate() {
                    for (o, other) in [("adam", None), ("sgd", Some(lr)), ("sgd", Some(loss)), ("sgd", Some(k as f64))]
                    {
                        let conv = [None, Some(k), Some(usize::MAX)][k % 3];
                        let div = if k % 4 == 3 { Some(1) } else { None };
                        pts.push(point(o, lr, other, if k % 2 == 0 { loss } else { lr }, conv, div));
                    }
                }
                let opts = vec!["adam".to_string(), "sgd".to_string()];
                for steps in [0, 500, usize::MAX] {
                    render(&w, &SweepCurves { points: &pts, optimizers: &opts, title: w.clone(), steps });
                    render(
                        &w,
                        &SweepHeatmap {
                            points: &pts,
                            optimizer: "sgd".into(),
                            key: "momentum".into(),
                            title: w.clone(),
                            steps,
                        },
                    );
                }
            });
        }
    }
}

#[test]
fn a_sweep_over_1e_300_to_1e300_is_drawn_in_decades_with_every_learning_rate_labelled() {
    let svg = within("sweep 1e-300..1e300", BOUND, || {
        let pts: Vec<SweepPoint> = optlab::experiment::sweep::logspace(1e-300, 1e300, 5)
            .into_iter()
            .map(|lr| point("adam", lr, None, 1.0 / lr, Some(10), None))
            .collect();
        render("sweep", &SweepCurves { points: &pts, optimizers: &["adam".into()], title: "t".into(), steps: 50 })
    });
    // a linear axis of log10(lr), labelled with the learning rates themselves
    for label in ["1e-300", "1e-200", "1e-100", "\n1\n", "1e100", "1e200", "1e300"] {
        assert!(svg.contains(label), "no tick {label}");
    }
}

// ---------------------------------------------------------------- the animation

#[test]
fn an_animation_of_wild_runs_over_an_extreme_function_finishes() {
    let dir = std::env::temp_dir().join(format!("optlab-plot-extremes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (k, (name, f)) in FUNCTIONS.iter().enumerate() {
        let d = DOMAINS[k % DOMAINS.len()];
        let func = made(name, *f, d, false);
        let path = dir.join(format!("a{k}.gif"));
        let what = format!("animation of {name} on {d:?}");
        within(&what, BOUND * 2, move || {
            let runs = wild_runs();
            let view = optlab::plot::contour::view_for(&func, &runs);
            optlab::plot::animate::animate(&func, &runs, view, name, &path, 4, 10).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 0);
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- long texts

#[test]
fn a_title_of_a_hundred_thousand_characters_is_shortened() {
    let svg = within("long title", BOUND, || {
        let runs = vec![series(&"l".repeat(100_000), vec![(0.0, 0.0, 1.0), (1.0, 1.0, 0.5)], None)];
        render("long title", &LossCurves::new(&runs, "t".repeat(100_000), (900, 560)))
    });
    assert!(svg.len() < 20_000, "{} bytes of SVG", svg.len());
    assert!(svg.contains("100000 characters in all"));
}

#[test]
fn a_contour_of_a_ten_thousand_character_expression_is_sampled_coarser_and_finishes() {
    // 2,500 terms: a value costs ~5,000 operations, 2,700 M for every pixel of the figure
    let src = vec!["x-y/2"; 1600].join("+");
    assert!(src.len() >= 9_000 && src.len() <= 10_000);
    // the parsed expression in a function with no minima to search: only drawing is measured
    let mut f = made("long", bowl, [-10.0, 10.0, -10.0, 10.0], false);
    f.kind = Kind::Expr(Arc::new(Expr::parse(&src).unwrap()));
    let svg = within("long expression", BOUND, move || {
        let runs = wild_runs();
        let svg =
            render("contour", &Contour { f: &f, series: &runs, title: "t".into(), view: f.domain, size: (900, 760) });
        render("surface", &Surface { f: &f, series: &runs, title: "t".into(), size: (900, 760) });
        svg
    });
    assert!(svg.contains("colours sampled once per"), "no note");
}
