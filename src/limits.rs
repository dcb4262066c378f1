//! The stated limits of one run, checked before any allocation or loop.
//!
//! Every size a user can ask for (steps, grid side, epochs, batch size, layer widths, the
//! parameter count, the bytes a run will hold) is checked here with checked arithmetic. A
//! value over an ordinary limit is refused with an error that names the limit and, where
//! going past it makes sense, how (`--allow-large`); a value over a hard limit is refused
//! whatever the flags. docs/guide/limits.md lists the same numbers.

use std::fmt;

/// Whether the user passed `--allow-large`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allow {
    pub large: bool,
}

impl Allow {
    pub const DEFAULT: Allow = Allow { large: false };
    pub const LARGE: Allow = Allow { large: true };
}

/// One limited quantity: `what` (for the message), its flag, the ordinary limit, and the hard
/// limit that `--allow-large` lifts it to (equal to `max` when it cannot be lifted).
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub what: &'static str,
    pub flag: &'static str,
    pub min: u64,
    pub max: u64,
    pub large_max: u64,
}

/// Steps of one 2-D run (compare, tune's trials, sweep-lr, map).
pub const STEPS: Limit =
    Limit { what: "steps", flag: "--steps", min: 1, max: 10_000_000, large_max: 1_000_000_000_000 };
/// Starts per side of a basin map.
pub const GRID: Limit = Limit { what: "starts per side", flag: "--grid", min: 2, max: 4096, large_max: 16_384 };
/// Grid side of `bench --map-grid` (0 skips the map benchmark, checked by the caller).
pub const BENCH_GRID: Limit =
    Limit { what: "starts per side", flag: "--map-grid", min: 0, max: 4096, large_max: 16_384 };
/// Steps from every start of a basin map (their product with the grid is checked too).
pub const MAP_STEPS: Limit =
    Limit { what: "steps per start", flag: "--steps", min: 1, max: 1_000_000, large_max: 1_000_000_000 };
/// Optimizer steps of a whole basin map: grid² × steps × optimizers.
pub const MAP_WORK: Limit = Limit {
    what: "optimizer steps in all (grid² × steps × optimizers)",
    flag: "--grid/--steps",
    min: 1,
    max: 200_000_000_000,
    large_max: 100_000_000_000_000,
};
/// Optimizer specs of one command.
pub const OPTIMIZERS: Limit = Limit { what: "optimizers", flag: "--optimizer", min: 1, max: 256, large_max: 256 };
/// Runs of one lr sweep (learning rates × values of the second hyperparameter × optimizers).
pub const SWEEP_RUNS: Limit = Limit {
    what: "runs (lrs × --vs values × optimizers)",
    flag: "--lrs",
    min: 1,
    max: 1_000_000,
    large_max: 1_000_000,
};
/// Training epochs.
pub const EPOCHS: Limit = Limit { what: "epochs", flag: "--epochs", min: 1, max: 10_000, large_max: 1_000_000 };
/// Training batch size.
pub const BATCH: Limit =
    Limit { what: "images per batch", flag: "--batch-size", min: 1, max: 65_536, large_max: 65_536 };
/// Worker threads.
pub const THREADS: Limit = Limit { what: "threads", flag: "--threads", min: 1, max: 1024, large_max: 1024 };
/// Seeds of one training command.
pub const SEEDS: Limit = Limit { what: "seeds", flag: "--seeds", min: 1, max: 10_000, large_max: 10_000 };
/// Width of one layer (outputs of a linear or conv layer).
pub const WIDTH: Limit = Limit { what: "units in one layer", flag: "--model", min: 1, max: 65_536, large_max: 1 << 24 };
/// Kernel size, stride and padding of a conv or pooling layer.
pub const KERNEL: Limit =
    Limit { what: "(kernel size, stride or padding)", flag: "--model", min: 0, max: 64, large_max: 1024 };
/// Parameters of a model: 1 GB of f32 without `--allow-large`.
pub const PARAMS: Limit =
    Limit { what: "parameters", flag: "--model", min: 1, max: 250_000_000, large_max: 4_000_000_000 };
/// Multiply-adds of one sample's forward pass through a model (so that one training step
/// cannot take hours; the seminar's CNN needs 27 thousand).
pub const MACS: Limit = Limit {
    what: "multiply-adds per sample",
    flag: "--model",
    min: 0,
    max: 10_000_000_000,
    large_max: 1_000_000_000_000,
};
/// Bytes one run may hold in memory (records, activations, optimizer state).
pub const BYTES: Limit =
    Limit { what: "bytes of memory", flag: "--allow-large", min: 0, max: 4 << 30, large_max: 64 << 30 };
/// Learning rates (or other values) of one sweep axis.
pub const SWEEP_VALUES: Limit = Limit { what: "values", flag: "--lrs", min: 2, max: 1000, large_max: 1000 };
/// Length of a typed expression or spec, in bytes.
pub const TEXT: Limit = Limit { what: "characters", flag: "the input", min: 0, max: 10_000, large_max: 10_000 };

/// A value outside its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError(pub String);

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitError {}

/// `12,345,678`.
pub fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Limit {
    /// The largest value allowed under `allow`.
    pub fn max_for(&self, allow: Allow) -> u64 {
        if allow.large {
            self.large_max
        } else {
            self.max
        }
    }

    /// Checks `value` (any unsigned integer, or a product computed with checked arithmetic:
    /// `None` means it overflowed).
    pub fn check(&self, value: Option<u64>, allow: Allow) -> Result<u64, LimitError> {
        let max = self.max_for(allow);
        match value {
            Some(v) if v < self.min => {
                Err(LimitError(format!("{} {}: need at least {} {}", self.flag, group(v), group(self.min), self.what)))
            }
            Some(v) if v <= max => Ok(v),
            _ => {
                let shown = value.map_or_else(|| "more than 2^64".to_string(), group);
                let how = if !allow.large && self.large_max > self.max {
                    format!("; add --allow-large to go up to {}", group(self.large_max))
                } else {
                    String::new()
                };
                Err(LimitError(format!("{} {shown}: the limit is {} {}{how}", self.flag, group(max), self.what)))
            }
        }
    }

    /// [`Limit::check`] for a `usize`.
    pub fn check_usize(&self, value: usize, allow: Allow) -> Result<usize, LimitError> {
        self.check(Some(value as u64), allow).map(|v| v as usize)
    }
}

/// Checked product of sizes; `None` on overflow.
pub fn product(parts: &[u64]) -> Option<u64> {
    parts.iter().try_fold(1u64, |a, &b| a.checked_mul(b))
}

/// Shortens a user's text for an error message: at most `max` characters, the cut marked
/// with "…" and the full length.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({} characters in all)", text.chars().count())
}

/// The user's text for a message: control characters escaped (so the message stays on one
/// line and no escape sequence reaches the terminal), at most `max` characters.
pub fn echo(text: &str, max: usize) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    shorten(&s, max)
}

/// Points at `text[start..start + len]` (byte offsets) in one line: a window of at most
/// about 60 characters around the fault, the fault between `»` and `«`, e.g.
/// `x^2 + »sinn«(y)`. Control characters are shown as spaces.
pub fn point_at(text: &str, start: usize, len: usize) -> String {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = chars.iter().position(|&(b, _)| b >= start).unwrap_or(chars.len());
    let end = chars.iter().position(|&(b, _)| b >= start.saturating_add(len.max(1))).unwrap_or(chars.len()).max(at);
    let end = end.min(at + 30);
    let from = at.saturating_sub(30);
    let to = (end + 30).min(chars.len());
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    let piece = |a: usize, b: usize| chars[a..b].iter().map(|&(_, c)| clean(c)).collect::<String>();
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.push_str(&piece(from, at));
    out.push('»');
    out.push_str(&piece(at, end));
    out.push('«');
    out.push_str(&piece(end, to));
    if to < chars.len() {
        out.push('…');
    }
    out
}

/// A number for an error message: at most 12 significant digits, exponent form when huge
/// or tiny, so `1e300` is never printed with 300 digits.
pub fn fmt_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-4..1e12).contains(&a) {
        let s = format!("{v:.12}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let s = format!("{v:.6e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        format!("{m}e{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_a_limit_the_error_names_it_and_how_to_go_past() {
        let e = STEPS.check(Some(1_000_000_000), Allow::DEFAULT).unwrap_err().0;
        assert_eq!(
            e,
            "--steps 1,000,000,000: the limit is 10,000,000 steps; add --allow-large to go up to 1,000,000,000,000"
        );
        assert!(STEPS.check(Some(1_000_000_000), Allow::LARGE).is_ok());
        let e = STEPS.check(None, Allow::LARGE).unwrap_err().0;
        assert!(e.contains("more than 2^64") && !e.contains("--allow-large"), "{e}");
        assert!(STEPS.check(Some(0), Allow::DEFAULT).unwrap_err().0.contains("at least 1"));
        assert_eq!(
            THREADS.check(Some(100_000), Allow::LARGE).unwrap_err().0,
            "--threads 100,000: the limit is 1,024 threads"
        );
    }

    #[test]
    fn products_overflow_to_none() {
        assert_eq!(product(&[1 << 32, 1 << 32]), None);
        assert_eq!(product(&[3, 4]), Some(12));
    }

    #[test]
    fn a_fault_is_pointed_at_in_one_short_line() {
        assert_eq!(point_at("x^2 + sinn(y)", 6, 4), "x^2 + »sinn«(y)");
        assert_eq!(point_at("x+", 2, 1), "x+»«");
        let long = format!("{}x{}", "(".repeat(30_000), ")".repeat(30_000));
        let p = point_at(&long, 30_001, 1);
        assert!(p.chars().count() < 80 && !p.contains('\n'), "{p}");
    }

    #[test]
    fn long_text_and_huge_numbers_are_shortened() {
        let s = shorten(&"x".repeat(120_000), 60);
        assert!(s.len() < 100 && s.ends_with("(120000 characters in all)"), "{s}");
        assert_eq!(fmt_value(1e300), "1e300");
        assert_eq!(fmt_value(0.1), "0.1");
        assert!(fmt_value(-1.234567891e-320).len() < 16);
    }
}
