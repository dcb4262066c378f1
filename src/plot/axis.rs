//! Axis ranges every figure can draw, computed by us before the plotting library sees them.
//!
//! plotters' tick search loops forever or without bound on some ranges (read from its
//! source, `coord/ranged1d`): a linear axis whose width is infinite (NaN steps), narrower
//! than a few ulps of its magnitude, or so small that its tick step underflows to zero; a
//! log axis that starts at 0 or at a subnormal number (the tick value stays 0), ends at
//! infinity, or spans so many decades that its count of decades saturates. Drawing is
//! not clipped either: a point far outside the axes becomes a pixel coordinate near
//! `i32::MAX`, and the rasterizer walks every pixel in between.
//!
//! So every figure passes its ranges through [`linear`] or [`log`], which give finite,
//! ordered ranges of a safe width and magnitude, unchanged for ordinary data, with a note
//! to print on the figure when they had to change something; and it draws only points
//! inside those ranges ([`clip_path`], [`clamp`]).

/// A number for a note on a figure: four significant digits at most, in exponent form
/// when huge or tiny.
pub fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let trim = |m: &str| {
        if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            m.to_string()
        }
    };
    if (1e-3..1e6).contains(&v.abs()) {
        trim(&format!("{v:.4}"))
    } else {
        let s = format!("{v:.3e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{e}", trim(m))
    }
}

/// No axis goes beyond ±this.
pub const MAX_ABS: f64 = 1e300;
/// The smallest width of a linear axis.
pub const MIN_WIDTH: f64 = 1e-290;
/// The smallest width of a linear axis relative to its magnitude.
pub const MIN_REL_WIDTH: f64 = 1e-9;
/// A log axis lies within LOG_MIN..LOG_MAX.
pub const LOG_MIN: f64 = 1e-300;
pub const LOG_MAX: f64 = 1e300;
/// The most decades a log axis shows.
pub const MAX_DECADES: f64 = 60.0;
/// The smallest ratio hi/lo of a log axis.
pub const MIN_LOG_RATIO: f64 = 1.0 + 1e-6;

/// An axis range that plotters can draw, and what had to change to get it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub lo: f64,
    pub hi: f64,
    /// Set when the range differs from the data's (clamped, widened): a note for the figure.
    pub note: Option<String>,
}

impl Fit {
    pub fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }

    /// Whether `v` lies on the axis.
    pub fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }

    /// `v` moved onto the axis (`None` for NaN).
    pub fn clamp(&self, v: f64) -> Option<f64> {
        clamp(v, self.lo, self.hi)
    }
}

/// `v` moved into lo..hi (`None` for NaN).
pub fn clamp(v: f64, lo: f64, hi: f64) -> Option<f64> {
    if v.is_nan() {
        None
    } else {
        Some(v.clamp(lo, hi))
    }
}

/// The smallest and largest finite values, if any.
pub fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The smallest and largest finite, strictly positive values, if any (for log axes).
pub fn positive_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    finite_bounds(values.into_iter().filter(|&v| v > 0.0))
}

fn min_width(lo: f64, hi: f64) -> f64 {
    (MIN_REL_WIDTH * lo.abs().max(hi.abs())).max(MIN_WIDTH)
}

/// `hi - lo`, or the largest finite number when that overflows.
fn width(lo: f64, hi: f64) -> f64 {
    let d = hi - lo;
    if d.is_finite() {
        d
    } else {
        f64::MAX
    }
}

/// A linear axis for values `lo..=hi` of `what` (either order; NaN and infinities allowed).
/// Ordinary ranges come back unchanged. Infinite ends are clamped to ±[`MAX_ABS`], a range
/// narrower than [`MIN_WIDTH`] or than [`MIN_REL_WIDTH`] of its magnitude is widened around
/// its centre (by 10% of the value, or 1 at 0, when constant), and a NaN end takes the other.
pub fn linear(what: &str, lo: f64, hi: f64) -> Fit {
    let (mut lo, mut hi) = match (lo.is_nan(), hi.is_nan()) {
        (true, true) => (0.0, 0.0),
        (true, false) => (hi, hi),
        (false, true) => (lo, lo),
        _ => (lo.min(hi), lo.max(hi)),
    };
    let (a, b) = (lo, hi);
    let mut note = None;
    if lo < -MAX_ABS || hi > MAX_ABS {
        lo = lo.clamp(-MAX_ABS, MAX_ABS);
        hi = hi.clamp(-MAX_ABS, MAX_ABS);
        note = Some(format!("{what} spans {}..{}; drawn within ±{}", num(a), num(b), num(MAX_ABS)));
    }
    let w = hi - lo;
    if w < min_width(lo, hi) {
        let c = lo + w / 2.0;
        let half = if w == 0.0 {
            if c == 0.0 {
                1.0
            } else {
                (0.1 * c.abs()).max(MIN_WIDTH)
            }
        } else {
            min_width(lo, hi)
        };
        lo = c - half;
        hi = c + half;
        if hi > MAX_ABS {
            (lo, hi) = (MAX_ABS - 2.0 * half, MAX_ABS);
        }
        if lo < -MAX_ABS {
            (lo, hi) = (-MAX_ABS, -MAX_ABS + 2.0 * half);
        }
        if w > 0.0 && note.is_none() {
            note = Some(format!(
                "{what} spans only {}..{}, too narrow to draw; drawn over {}..{}",
                num(a),
                num(b),
                num(lo),
                num(hi)
            ));
        }
    }
    Fit { lo, hi, note }
}

/// `fit` widened by `below` and `above` times its width (margins, room for a legend),
/// staying within ±[`MAX_ABS`]. For ordinary ranges this is `lo - below·w .. hi + above·w`.
pub fn widen(fit: Fit, below: f64, above: f64) -> Fit {
    let w = width(fit.lo, fit.hi);
    let grow = |k: f64| if k.is_finite() && k > 0.0 { (k * w).min(f64::MAX) } else { 0.0 };
    let lo = (fit.lo - grow(below)).max(-MAX_ABS);
    let hi = (fit.hi + grow(above)).min(MAX_ABS);
    let again = linear("", lo, hi);
    Fit { lo: again.lo, hi: again.hi, note: fit.note }
}

/// A log axis for positive values `lo..=hi` of `what`; `centre` (a typical value, e.g.
/// the median) says which part to show when the values span more than [`MAX_DECADES`].
/// Ordinary ranges come back unchanged. Ends that are not finite and positive are
/// replaced (a decade beside the other end, or 1..10), the range is clamped to
/// [`LOG_MIN`]..[`LOG_MAX`] and to at most [`MAX_DECADES`], and a range narrower than
/// [`MIN_LOG_RATIO`] is widened by a factor 2 each way.
pub fn log(what: &str, lo: f64, hi: f64, centre: Option<f64>) -> Fit {
    let ok = |v: f64| v.is_finite() && v > 0.0;
    let (a, b) = (lo, hi);
    // whether the data's range is not what is drawn (widening a constant range is not news)
    let mut changed = !(ok(lo) && ok(hi));
    let (mut lo, mut hi) = match (ok(lo), ok(hi)) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) if hi == f64::INFINITY => (lo, f64::MAX),
        (true, false) => (lo / 10.0, lo),
        (false, true) => (hi / 10.0, hi),
        (false, false) => (1.0, 10.0),
    };
    if !ok(lo) || !ok(hi) {
        // lo / 10 underflowed to 0
        (lo, hi) = (LOG_MIN, LOG_MIN * 10.0);
    }
    if lo < LOG_MIN || hi > LOG_MAX {
        changed = true;
        lo = lo.clamp(LOG_MIN, LOG_MAX);
        hi = hi.clamp(LOG_MIN, LOG_MAX);
    }
    if hi < lo * MIN_LOG_RATIO {
        lo /= 2.0;
        hi *= 2.0;
        if hi > LOG_MAX {
            (lo, hi) = (LOG_MAX / 4.0, LOG_MAX);
        }
        if lo < LOG_MIN {
            (lo, hi) = (LOG_MIN, LOG_MIN * 4.0);
        }
    }
    let (llo, lhi) = (lo.log10(), hi.log10());
    if lhi - llo > MAX_DECADES {
        changed = true;
        let c = centre.filter(|&c| ok(c)).map_or((llo + lhi) / 2.0, f64::log10);
        let wlo = (c - MAX_DECADES / 2.0).clamp(llo, lhi - MAX_DECADES);
        lo = 10f64.powf(wlo).clamp(LOG_MIN, LOG_MAX / 10.0);
        hi = (lo * 10f64.powf(MAX_DECADES)).min(LOG_MAX);
    }
    let note = changed.then(|| format!("{what} spans {}..{}; drawn over {}..{}", num(a), num(b), num(lo), num(hi)));
    Fit { lo, hi, note }
}

/// [`log`] of the data range `lo..=hi` with margins: `lo·down .. hi·up` (down < 1 < up);
/// a note names the data's range, not the margins'.
pub fn log_padded(what: &str, lo: f64, hi: f64, down: f64, up: f64, centre: Option<f64>) -> Fit {
    let mut f = log(what, lo * down, (hi * up).min(f64::MAX), centre);
    if f.note.is_some() {
        f.note = Some(format!("{what} spans {}..{}; drawn over {}..{}", num(lo), num(hi), num(f.lo), num(f.hi)));
    }
    f
}

/// How values go onto one axis of a figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// A linear axis over the values.
    Linear(Fit),
    /// plotters' log axis over the values (ordinary ranges).
    Log(Fit),
    /// A linear axis over log10 of the values, labelled with the values: for ranges
    /// plotters' log axis cannot draw or label (beyond 1e±300, or wider than
    /// [`MAX_DECADES`]: it drops every label below 2.2e-16). Nothing is cut off.
    Decades(Fit),
}

impl Axis {
    /// A log axis for positive values `lo..=hi` with margins `lo·down .. hi·up`
    /// (down ≤ 1 ≤ up): plotters' own for ordinary ranges (unchanged figures), in decades
    /// otherwise; 1..10 with a note when no value is positive.
    pub fn log(what: &str, lo: f64, hi: f64, down: f64, up: f64, centre: Option<f64>) -> Axis {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if ok(lo) && ok(hi) && ok(down) && ok(up) {
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            let (plo, phi) = (lo * down, (hi * up).min(f64::MAX));
            if plo >= LOG_MIN && phi <= LOG_MAX && phi.log10() - plo.log10() <= MAX_DECADES {
                return Axis::Log(log_padded(what, lo, hi, down, up, centre));
            }
            let (mut l, mut h) = (lo.log10() + down.log10(), hi.log10() + up.log10());
            if h - l < 1.0 {
                // a constant beyond 1e±300: a decade around it
                (l, h) = ((l + h) / 2.0 - 0.5, (l + h) / 2.0 + 0.5);
            }
            let f = linear(what, l, h);
            return Axis::Decades(Fit { note: None, ..f });
        }
        Axis::Log(log_padded(what, lo, hi, down, up, centre))
    }

    /// The range in chart coordinates (log10 of the values for [`Axis::Decades`]).
    pub fn fit(&self) -> &Fit {
        match self {
            Axis::Linear(f) | Axis::Log(f) | Axis::Decades(f) => f,
        }
    }

    /// Whether the chart needs plotters' log coordinate.
    pub fn is_log(&self) -> bool {
        matches!(self, Axis::Log(_))
    }

    /// A value in chart coordinates (NaN where it cannot be drawn).
    pub fn chart(&self, v: f64) -> f64 {
        match self {
            Axis::Decades(_) if v > 0.0 => v.log10(),
            Axis::Decades(_) => f64::NAN,
            _ => v,
        }
    }

    /// A value in chart coordinates moved onto the axis (`None` where it cannot be drawn).
    pub fn clamp(&self, v: f64) -> Option<f64> {
        match self {
            Axis::Log(f) if v <= 0.0 => Some(f.lo),
            _ => self.fit().clamp(self.chart(v)),
        }
    }

    /// Whether a value lies on the axis.
    pub fn contains(&self, v: f64) -> bool {
        self.fit().contains(self.chart(v))
    }

    /// The label of a tick at chart coordinate `v`.
    pub fn label(&self, v: f64) -> String {
        match self {
            Axis::Decades(_) => super::theme::tick(10f64.powf(v)),
            _ => super::theme::tick(v),
        }
    }

    /// Whether lines are cut in log space (plotters' log axis).
    pub fn clip_log(&self) -> bool {
        self.is_log()
    }
}

/// The median of the finite positive values (the centre of a log axis), if any.
pub fn log_centre(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|v| v.is_finite() && *v > 0.0).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// A plotting view (x0, x1, y0, y1) made safe with [`linear`]; notes are added to `notes`.
pub fn view(v: [f64; 4], notes: &mut Vec<String>) -> [f64; 4] {
    let x = linear("x", v[0], v[1]);
    let y = linear("y", v[2], v[3]);
    notes.extend(x.note.iter().chain(y.note.iter()).cloned());
    [x.lo, x.hi, y.lo, y.hi]
}

/// Splits a polyline into the pieces inside `view` (x0, x1, y0, y1), cutting segments at
/// the border (Liang–Barsky), so nothing is drawn outside the axes. The cut is made in
/// screen space: in log10 of a coordinate whose axis is logarithmic. Points that are not
/// finite (or not positive on a log axis) break the line. Points inside are kept exactly.
pub fn clip_path(pts: &[(f64, f64)], view: [f64; 4], log_x: bool, log_y: bool) -> Vec<Vec<(f64, f64)>> {
    let fx = |v: f64| if log_x { v.log10() } else { v };
    let fy = |v: f64| if log_y { v.log10() } else { v };
    let ix = |v: f64| if log_x { 10f64.powf(v) } else { v };
    let iy = |v: f64| if log_y { 10f64.powf(v) } else { v };
    let [x0, x1, y0, y1] = [fx(view[0]), fx(view[1]), fy(view[2]), fy(view[3])];
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    if [x0, x1, y0, y1].iter().any(|v| !v.is_finite()) {
        return out;
    }
    let t: Vec<(f64, f64)> = pts.iter().map(|p| (fx(p.0), fy(p.1))).collect();
    let finite = |p: (f64, f64)| p.0.is_finite() && p.1.is_finite();
    let inside = |p: (f64, f64)| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1;
    if pts.len() == 1 && finite(t[0]) && inside(t[0]) {
        return vec![pts.to_vec()];
    }
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for k in 0..pts.len().saturating_sub(1) {
        let (a, b) = (t[k], t[k + 1]);
        if !finite(a) || !finite(b) {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut ok = dx.is_finite() && dy.is_finite();
        if ok {
            for (p, q) in [(-dx, a.0 - x0), (dx, x1 - a.0), (-dy, a.1 - y0), (dy, y1 - a.1)] {
                if p == 0.0 {
                    if q < 0.0 {
                        ok = false;
                        break;
                    }
                } else {
                    let r = q / p;
                    if p < 0.0 {
                        t0 = t0.max(r);
                    } else {
                        t1 = t1.min(r);
                    }
                }
            }
        }
        if !ok || t0 > t1 {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        let at = |s: f64| (ix(a.0 + s * dx).clamp(view[0], view[1]), iy(a.1 + s * dy).clamp(view[2], view[3]));
        // the points themselves where the segment is not cut (rounding may put a cut at
        // 0 or 1 for a point just outside, so theirs is checked too)
        let pa = if t0 == 0.0 && inside(a) { pts[k] } else { at(t0) };
        let pb = if t1 == 1.0 && inside(b) { pts[k + 1] } else { at(t1) };
        if cur.is_empty() || t0 > 0.0 {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur = vec![pa];
        }
        cur.push(pb);
        if t1 < 1.0 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ranges_pass_unchanged() {
        assert_eq!(linear("x", -2.0, 3.5), Fit { lo: -2.0, hi: 3.5, note: None });
        assert_eq!(linear("x", 3.5, -2.0), Fit { lo: -2.0, hi: 3.5, note: None });
        assert_eq!(log("loss", 1e-12, 1e3, None), Fit { lo: 1e-12, hi: 1e3, note: None });
        let w = widen(linear("x", 0.0, 10.0), 0.05, 0.1);
        assert_eq!((w.lo, w.hi), (0.0 - 0.05 * 10.0, 10.0 + 0.1 * 10.0));
    }

    #[test]
    fn extreme_ranges_are_clamped_with_a_note() {
        let f = linear("x", -1e308, f64::INFINITY);
        assert_eq!((f.lo, f.hi), (-MAX_ABS, MAX_ABS));
        assert!(f.note.unwrap().contains("-1e308"));
        let f = log("lr", 1e-300, 1e300, Some(1.0));
        assert!((f.lo / 1e-30 - 1.0).abs() < 1e-9 && (f.hi / 1e30 - 1.0).abs() < 1e-9, "{f:?}");
        assert!(f.note.unwrap().contains("1e-300..1e300"));
        let f = linear("f", 1e-320, 2e-320);
        assert!(f.hi - f.lo >= MIN_WIDTH && f.note.is_some());
        let f = log("loss", 0.0, -1.0, None);
        assert_eq!((f.lo, f.hi), (1.0, 10.0));
    }

    #[test]
    fn clipping_keeps_inside_points_exactly_and_cuts_at_the_border() {
        let p = [(0.1, 0.1), (0.3, 0.7), (5.0, 0.7)];
        let c = clip_path(&p, [0.0, 1.0, 0.0, 1.0], false, false);
        assert_eq!(c, vec![vec![(0.1, 0.1), (0.3, 0.7), (1.0, 0.7)]]);
        let c =
            clip_path(&[(1.0, 1e-40), (2.0, 1.0), (3.0, f64::NAN), (4.0, 1.0)], [0.0, 5.0, 1e-10, 10.0], false, true);
        assert_eq!(c.len(), 1);
        assert!((c[0][0].1 - 1e-10).abs() < 1e-20 && c[0][1] == (2.0, 1.0));
    }
}
