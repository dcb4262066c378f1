//! One look for every figure: embedded font, palette, colour map, number formats.

use plotters::style::{FontStyle, RGBColor};
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static INIT: Once = Once::new();

/// Registers the embedded DejaVu Sans as "sans-serif" (once per process).
pub fn init_fonts() {
    INIT.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic, FontStyle::Oblique] {
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

/// The font family every figure uses.
pub const FONT_FAMILY: &str = "sans-serif";

/// Distinct colours for trajectories (they stay readable over the colour map).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(228, 26, 28),
    RGBColor(255, 127, 0),
    RGBColor(255, 230, 40),
    RGBColor(0, 200, 230),
    RGBColor(240, 60, 200),
    RGBColor(30, 30, 30),
    RGBColor(120, 220, 90),
    RGBColor(160, 90, 40),
    RGBColor(255, 255, 255),
    RGBColor(90, 90, 255),
];

/// The i-th series colour.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Distinct colours for lines on a white background and for categories (basins).
pub const LINES: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The i-th line colour.
pub fn line_color(i: usize) -> RGBColor {
    LINES[i % LINES.len()]
}

/// A perceptually ordered map from 0..1 to colour (anchors of the viridis map).
pub fn colormap(t: f64) -> RGBColor {
    const A: [(f64, f64, f64); 9] = [
        (68.0, 1.0, 84.0),
        (71.0, 44.0, 122.0),
        (59.0, 81.0, 139.0),
        (44.0, 113.0, 142.0),
        (33.0, 144.0, 141.0),
        (39.0, 173.0, 129.0),
        (92.0, 200.0, 99.0),
        (170.0, 220.0, 50.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (A.len() - 1) as f64;
    let i = (t.floor() as usize).min(A.len() - 2);
    let u = t - i as f64;
    let (a, b) = (A[i], A[i + 1]);
    RGBColor(
        (a.0 + (b.0 - a.0) * u).round() as u8,
        (a.1 + (b.1 - a.1) * u).round() as u8,
        (a.2 + (b.2 - a.2) * u).round() as u8,
    )
}

/// Tick labels: short, no float noise.
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// Maps function values to 0..1 for colouring: linear between robust bounds, or on a log
/// scale of (z − min) for functions with a large dynamic range.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub zmin: f64,
}

impl Scale {
    pub fn fit(values: &[f64], log: bool) -> Scale {
        let mut v: Vec<f64> = values.iter().copied().filter(|z| z.is_finite()).collect();
        if v.is_empty() {
            return Scale { lo: 0.0, hi: 1.0, log: false, zmin: 0.0 };
        }
        v.sort_by(f64::total_cmp);
        let zmin = v[0];
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        if log {
            // differences of values near ±f64::MAX overflow: they are kept finite, so the
            // scale is too (colours then saturate instead of turning NaN)
            let shift = 1e-3 * (q(0.5) - zmin).clamp(1e-12, f64::MAX);
            let tr = |z: f64| ((z - zmin).min(f64::MAX) + shift).min(f64::MAX).ln();
            Scale { lo: tr(zmin), hi: tr(v[v.len() - 1]), log: true, zmin }
        } else {
            let (lo, hi) = (q(0.0), q(1.0));
            Scale { lo, hi: if hi > lo { hi } else { lo + 1.0 }, log: false, zmin }
        }
    }
    fn offset(&self) -> f64 {
        // the same small shift used in `fit`, recovered from lo: lo = ln(shift)
        self.lo.exp()
    }
    /// 0..1
    pub fn t(&self, z: f64) -> f64 {
        let w = if self.log { (z - self.zmin + self.offset()).max(1e-300).ln() } else { z };
        let t = (w - self.lo) / (self.hi - self.lo);
        if (self.hi - self.lo).is_finite() {
            t
        } else {
            // a range wider than f64::MAX: the same ratio on halves
            (w / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0)
        }
    }
}
