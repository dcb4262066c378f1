//! 2-D objective functions: the seminar's four, the classic test suite, and any
//! expression typed on the command line; each with exact gradients, a plotting domain,
//! a usual start and its known minima.

pub mod batch;
pub mod builtin;
pub mod expr;
pub mod minima;

pub use expr::{Expr, ExprError};

use crate::optim::Objective;
use builtin::Vg;
use std::sync::{Arc, OnceLock};

/// How a function is evaluated.
#[derive(Clone)]
pub enum Kind {
    Builtin(fn(f64, f64) -> Vg),
    Expr(Arc<Expr>),
}

/// The defining domain of typed expressions (see [`Function::home`]).
pub const EXPR_HOME: [f64; 4] = [-10.0, 10.0, -10.0, 10.0];

/// A 2-D function with everything the laboratory needs to run and draw it.
#[derive(Clone)]
pub struct Function {
    /// Name used on the command line (`sin-cos`, `rosenbrock`, or the expression itself).
    pub name: String,
    /// Formula as shown in figures and listings.
    pub formula: String,
    /// Plotting domain (x0, x1, y0, y1).
    pub domain: [f64; 4],
    /// The domain the function was defined with (built-ins: their own; expressions:
    /// [-10, 10]²). Convergence tolerances derive from it, so a `--domain` that only changes
    /// the view never changes a run's verdict.
    pub home: [f64; 4],
    /// Usual starting point.
    pub start: [f64; 2],
    /// Known local minima (global ones first), or `None` to search the domain numerically
    /// the first time [`Function::minima`] is called.
    known_minima: Option<Vec<[f64; 2]>>,
    found_minima: Arc<OnceLock<minima::Search>>,
    value_scale: Arc<OnceLock<f64>>,
    /// Whether the function is bounded below on the plane (the saddles and the seminar's
    /// sin–cos functions are not).
    pub bounded_below: bool,
    /// Colour contours on a log scale (large dynamic range, e.g. Rosenbrock, Beale).
    pub log_scale: bool,
    pub kind: Kind,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Function({})", self.name)
    }
}

impl Function {
    /// Value and gradient at (x, y).
    #[inline]
    pub fn eval(&self, x: f64, y: f64) -> Vg {
        match &self.kind {
            Kind::Builtin(f) => f(x, y),
            Kind::Expr(e) => e.eval(x, y),
        }
    }

    /// Value only.
    #[inline]
    pub fn value(&self, x: f64, y: f64) -> f64 {
        match &self.kind {
            Kind::Builtin(f) => f(x, y).0,
            Kind::Expr(e) => e.value(x, y),
        }
    }

    /// As an [`Objective`] over the flat parameter slice `[x, y]`.
    pub fn objective(&self) -> impl Objective<f64> + '_ {
        move |p: &[f64], g: &mut [f64]| {
            let (v, gx, gy) = self.eval(p[0], p[1]);
            g[0] = gx;
            g[1] = gy;
            v
        }
    }

    /// Known local minima: the closed-form list, or those found from a 40×40 grid of
    /// starts in the domain (computed once, on first use, within [`minima::Budget::search`]:
    /// see [`Function::minima_note`]).
    pub fn minima(&self) -> &[[f64; 2]] {
        match &self.known_minima {
            Some(m) => m,
            None => &self.search().minima,
        }
    }

    /// The size of the function's values: the largest finite |f| on a 9×9 grid over the
    /// domain (1 if there is none). Differences a 10²⁰th of it count as flat.
    pub fn value_scale(&self) -> f64 {
        *self.value_scale.get_or_init(|| {
            let [x0, x1, y0, y1] = self.domain;
            let mut m = 0f64;
            for i in 0..9 {
                for j in 0..9 {
                    let v = self.value(x0 + (x1 - x0) * i as f64 / 8.0, y0 + (y1 - y0) * j as f64 / 8.0);
                    if v.is_finite() {
                        m = m.max(v.abs());
                    }
                }
            }
            if m > 0.0 {
                m
            } else {
                1.0
            }
        })
    }

    fn search(&self) -> &minima::Search {
        self.found_minima.get_or_init(|| minima::search_in_domain(self, 40, &mut minima::Budget::search()))
    }

    /// When the numerical search of [`Function::minima`] ran out of its budget: what it
    /// found and what it skipped, e.g. "minima search stopped after 0.50 s (its time limit
    /// of 0.5 s): 12 found from 640 of 1,600 starts", for the command to print as a note.
    /// `None` for functions with a closed-form list and for searches that finished. Runs
    /// the search if it has not run yet.
    pub fn minima_note(&self) -> Option<&str> {
        match &self.known_minima {
            Some(_) => None,
            None => self.search().note.as_deref(),
        }
    }

    /// Checks that the function and its gradient are finite at `start`; the error says
    /// where and why, e.g. "the function is not finite at the start (8, 0.1): ln(x - 9) =
    /// NaN; choose another --start".
    pub fn check_start(&self, start: [f64; 2]) -> Result<(), String> {
        use crate::limits::fmt_value;
        let at = format!("({}, {})", fmt_value(start[0]), fmt_value(start[1]));
        if !(start[0].is_finite() && start[1].is_finite()) {
            return Err(format!("the start {at} is not a finite point; choose another --start"));
        }
        let (v, gx, gy) = self.eval(start[0], start[1]);
        if v.is_finite() && gx.is_finite() && gy.is_finite() {
            return Ok(());
        }
        let why = match &self.kind {
            Kind::Expr(e) => e.explain_nonfinite(start[0], start[1]),
            Kind::Builtin(_) => None,
        }
        .unwrap_or_else(|| {
            if v.is_finite() {
                format!("the gradient is ({}, {})", fmt_value(gx), fmt_value(gy))
            } else {
                format!("the value is {}", fmt_value(v))
            }
        });
        let what = if v.is_finite() { "the gradient" } else { "the function" };
        Err(format!("{what} is not finite at the start {at}: {why}; choose another --start"))
    }

    /// The local minimum a point belongs to: where a reliable descent from `p` ends
    /// (`None` if it finds no minimum, e.g. on an unbounded function).
    pub fn basin_minimum(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        minima::descend(self, p, minima::step_scale(self)).minimum()
    }

    /// The minimum nearest to `p`, with its distance: the minimum of `p`'s own basin when
    /// a descent from `p` finds one, else the nearest of [`Function::minima`].
    pub fn nearest_minimum(&self, p: [f64; 2]) -> Option<([f64; 2], f64)> {
        let dist = |m: [f64; 2]| (m[0] - p[0]).hypot(m[1] - p[1]);
        if let Some(m) = self.basin_minimum(p) {
            return Some((m, dist(m)));
        }
        self.minima().iter().map(|m| (*m, dist(*m))).min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// A typed expression. Its minima are searched numerically over `domain`.
    pub fn from_expr(src: &str, domain: [f64; 4], start: [f64; 2]) -> Result<Function, ExprError> {
        let e = Expr::parse(src)?;
        let mut f = Function {
            name: src.to_string(),
            formula: src.to_string(),
            domain,
            home: EXPR_HOME,
            start,
            known_minima: None,
            found_minima: Arc::default(),
            value_scale: Arc::default(),
            bounded_below: true,
            log_scale: false,
            kind: Kind::Expr(Arc::new(e)),
        };
        // An expression is bounded below unless a descent from its start runs away.
        f.bounded_below =
            !matches!(minima::descend(&f, start, minima::step_scale(&f)), minima::Descent::Unbounded { .. });
        Ok(f)
    }
}

/// Facts about one built-in, as listed by `optlab list functions`.
pub struct BuiltinInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub formula: &'static str,
    pub domain: [f64; 4],
    pub start: [f64; 2],
    /// Known minima; `None` means "search numerically in the domain" (the seminar's
    /// sin–cos functions have many local minima and no closed form).
    pub minima: Option<&'static [[f64; 2]]>,
    pub bounded_below: bool,
    pub log_scale: bool,
    pub seminar: bool,
    pub f: fn(f64, f64) -> Vg,
}

const S: [f64; 4] = [-10.0, 10.0, -10.0, 10.0];

/// Every built-in function.
pub const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        name: "quadratic",
        aliases: &[],
        formula: "x² + y²",
        domain: S,
        start: [8.0, 0.1],
        minima: Some(&[[0.0, 0.0]]),
        bounded_below: true,
        log_scale: false,
        seminar: true,
        f: builtin::quadratic,
    },
    BuiltinInfo {
        name: "saddle",
        aliases: &[],
        formula: "x²/10 − y²/10",
        domain: S,
        start: [8.0, 0.1],
        minima: Some(&[]),
        bounded_below: false,
        log_scale: false,
        seminar: true,
        f: builtin::saddle,
    },
    BuiltinInfo {
        name: "sin-cos",
        aliases: &["sin_cos"],
        formula: "x²/10·sin x + y²/10·cos y",
        domain: S,
        start: [8.0, 0.1],
        minima: None,
        bounded_below: false,
        log_scale: false,
        seminar: true,
        f: builtin::sin_cos,
    },
    BuiltinInfo {
        name: "sin-cos-sq",
        aliases: &["sin_cos_sq"],
        formula: "x²/10·sin(x²) + y²/10·cos(y²)",
        domain: S,
        start: [8.0, 0.1],
        minima: None,
        bounded_below: false,
        log_scale: false,
        seminar: true,
        f: builtin::sin_cos_sq,
    },
    BuiltinInfo {
        name: "rosenbrock",
        aliases: &[],
        formula: "(1 − x)² + 100·(y − x²)²",
        domain: [-2.0, 2.0, -1.0, 3.0],
        start: [-1.2, 1.0],
        minima: Some(&[[1.0, 1.0]]),
        bounded_below: true,
        log_scale: true,
        seminar: false,
        f: builtin::rosenbrock,
    },
    BuiltinInfo {
        name: "beale",
        aliases: &[],
        formula: "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        domain: [-4.5, 4.5, -4.5, 4.5],
        start: [1.5, 1.5],
        minima: Some(&[[3.0, 0.5]]),
        bounded_below: true,
        log_scale: true,
        seminar: false,
        f: builtin::beale,
    },
    BuiltinInfo {
        name: "himmelblau",
        aliases: &[],
        formula: "(x² + y − 11)² + (x + y² − 7)²",
        domain: [-5.0, 5.0, -5.0, 5.0],
        start: [0.0, 0.0],
        minima: Some(&[
            [3.0, 2.0],
            [-2.805118086952745, 3.131312518250573],
            [-3.779310253377747, -3.28318599128617],
            [3.584428340330492, -1.848126526964404],
        ]),
        bounded_below: true,
        log_scale: true,
        seminar: false,
        f: builtin::himmelblau,
    },
    BuiltinInfo {
        name: "booth",
        aliases: &[],
        formula: "(x + 2y − 7)² + (2x + y − 5)²",
        domain: S,
        start: [-5.0, -5.0],
        minima: Some(&[[1.0, 3.0]]),
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::booth,
    },
    BuiltinInfo {
        name: "matyas",
        aliases: &[],
        formula: "0.26·(x² + y²) − 0.48·xy",
        domain: S,
        start: [-7.0, 3.0],
        minima: Some(&[[0.0, 0.0]]),
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::matyas,
    },
    BuiltinInfo {
        name: "rastrigin",
        aliases: &[],
        formula: "20 + x² − 10·cos 2πx + y² − 10·cos 2πy",
        domain: [-5.12, 5.12, -5.12, 5.12],
        start: [-2.0, 3.5],
        minima: None,
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::rastrigin,
    },
    BuiltinInfo {
        name: "ackley",
        aliases: &[],
        formula: "−20·exp(−0.2·√((x² + y²)/2)) − exp((cos 2πx + cos 2πy)/2) + 20 + e",
        domain: [-5.0, 5.0, -5.0, 5.0],
        start: [-3.0, 3.5],
        minima: None,
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::ackley,
    },
    BuiltinInfo {
        name: "goldstein-price",
        aliases: &["goldstein_price"],
        formula:
            "[1 + (x+y+1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]·[30 + (2x−3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]",
        domain: [-2.0, 2.0, -2.0, 2.0],
        start: [-1.0, 1.5],
        minima: None,
        bounded_below: true,
        log_scale: true,
        seminar: false,
        f: builtin::goldstein_price,
    },
    BuiltinInfo {
        name: "styblinski-tang",
        aliases: &["styblinski_tang"],
        formula: "½·(x⁴ − 16x² + 5x + y⁴ − 16y² + 5y)",
        domain: [-5.0, 5.0, -5.0, 5.0],
        start: [0.0, 0.0],
        minima: Some(&[
            [-2.903534027771178, -2.903534027771178],
            [-2.903534027771178, 2.746802868094953],
            [2.746802868094953, -2.903534027771178],
            [2.746802868094953, 2.746802868094953],
        ]),
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::styblinski_tang,
    },
    BuiltinInfo {
        name: "six-hump-camel",
        aliases: &["camel", "six_hump_camel"],
        formula: "(4 − 2.1x² + x⁴/3)·x² + xy + (−4 + 4y²)·y²",
        domain: [-3.0, 3.0, -2.0, 2.0],
        start: [-2.0, 1.0],
        minima: None,
        bounded_below: true,
        log_scale: true,
        seminar: false,
        f: builtin::six_hump_camel,
    },
    BuiltinInfo {
        name: "valley",
        aliases: &["ill-quadratic", "long-valley"],
        formula: "0.05·x² + 2·y²  (condition number 40)",
        domain: [-10.0, 10.0, -5.0, 5.0],
        start: [-9.0, 2.0],
        minima: Some(&[[0.0, 0.0]]),
        bounded_below: true,
        log_scale: false,
        seminar: false,
        f: builtin::valley,
    },
    BuiltinInfo {
        name: "monkey-saddle",
        aliases: &["monkey_saddle"],
        formula: "x³ − 3xy²",
        domain: [-2.0, 2.0, -2.0, 2.0],
        start: [1.0, 0.1],
        minima: Some(&[]),
        bounded_below: false,
        log_scale: false,
        seminar: false,
        f: builtin::monkey_saddle,
    },
];

impl BuiltinInfo {
    /// The runnable function (minima searched numerically where no list is given).
    pub fn function(&self) -> Function {
        Function {
            name: self.name.to_string(),
            formula: self.formula.to_string(),
            domain: self.domain,
            home: self.domain,
            start: self.start,
            known_minima: self.minima.map(|m| m.to_vec()),
            found_minima: Arc::default(),
            value_scale: Arc::default(),
            bounded_below: self.bounded_below,
            log_scale: self.log_scale,
            kind: Kind::Builtin(self.f),
        }
    }
}

/// Looks a built-in up by name or alias (case-insensitive).
pub fn builtin(name: &str) -> Option<&'static BuiltinInfo> {
    let n = name.trim().to_ascii_lowercase();
    BUILTINS.iter().find(|b| b.name == n || b.aliases.contains(&n.as_str()))
}

/// A built-in name, or else an expression in x and y (over the seminar's domain
/// [−10, 10]² with start (8, 0.1) unless told otherwise).
pub fn resolve(name_or_expr: &str) -> Result<Function, ExprError> {
    if let Some(b) = builtin(name_or_expr) {
        return Ok(b.function());
    }
    let t = name_or_expr.trim();
    let word = t.len() > 1 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if word && Expr::parse(t).is_err() {
        let names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        return Err(ExprError {
            expr: t.to_string(),
            message: format!(
                "unknown function '{t}' (built-ins: {}; or type an expression in x and y, e.g. \"x^2 + 3*y^2\")",
                names.join(", ")
            ),
            start: 0,
            len: t.len(),
        });
    }
    Function::from_expr(name_or_expr, S, [8.0, 0.1])
}
