//! Where randomised methods take their random numbers (APOLLO's random projections, and
//! the values a reference computes in a way optlab need not copy bit for bit, such as
//! GaLore's float32 SVD projectors).
//!
//! A method holds a [`Source`]. Normally it is optlab's own generator (ChaCha8 seeded with
//! the method's fixed seed, normal draws by Box–Muller from pairs of 53-bit uniforms), so a
//! run repeats exactly. For the golden tests, [`with_given`] runs a closure during which
//! every `Source` created takes its draws and projectors from the given sequences instead,
//! in order: the references' recorded `random_draws` and `projectors`.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Recorded values to replay, each consumed front first.
#[derive(Clone, Debug, Default)]
pub struct Given {
    /// Standard normal draws (`torch.randn` values, flattened in call order).
    pub normals: VecDeque<f64>,
    /// Uniform draws in [0, 1) (`numpy.random.random()` values), in call order.
    pub uniforms: VecDeque<f64>,
    /// Projection matrices (row-major), one per projector computation.
    pub projectors: VecDeque<Vec<f64>>,
}

thread_local! {
    static GIVEN: RefCell<Option<Arc<Mutex<Given>>>> = const { RefCell::new(None) };
}

/// Runs `f` with every [`Source`] created inside it (on this thread) replaying `given`;
/// returns what `f` returns and what was left unused.
pub fn with_given<R>(given: Given, f: impl FnOnce() -> R) -> (R, Given) {
    let shared = Arc::new(Mutex::new(given));
    GIVEN.with(|g| *g.borrow_mut() = Some(shared.clone()));
    let out = f();
    GIVEN.with(|g| *g.borrow_mut() = None);
    let left = shared.lock().map(|g| g.clone()).unwrap_or_default();
    (out, left)
}

/// A method's source of random numbers.
pub struct Source {
    rng: ChaCha8Rng,
    given: Option<Arc<Mutex<Given>>>,
    spare: Option<f64>,
}

impl Source {
    /// optlab's generator seeded with `seed`, or the given values inside [`with_given`].
    pub fn new(seed: u64) -> Source {
        let given = GIVEN.with(|g| g.borrow().clone());
        Source { rng: ChaCha8Rng::seed_from_u64(seed), given, spare: None }
    }

    /// Whether the values are replayed (inside [`with_given`]).
    pub fn replaying(&self) -> bool {
        self.given.is_some()
    }

    fn unit(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw. Replaying, the next given normal (NaN once they run out).
    pub fn normal(&mut self) -> f64 {
        if let Some(g) = &self.given {
            return g.lock().ok().and_then(|mut g| g.normals.pop_front()).unwrap_or(f64::NAN);
        }
        if let Some(s) = self.spare.take() {
            return s;
        }
        let (u1, u2) = (self.unit(), self.unit());
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }

    /// A uniform draw in [0, 1). Replaying, the next given uniform (NaN once they run out).
    pub fn uniform(&mut self) -> f64 {
        if let Some(g) = &self.given {
            return g.lock().ok().and_then(|mut g| g.uniforms.pop_front()).unwrap_or(f64::NAN);
        }
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// The projector a method computed, or, replaying, the next given one (when its size
    /// fits).
    pub fn projector(&mut self, computed: Vec<f64>) -> Vec<f64> {
        if let Some(g) = &self.given {
            if let Some(p) = g.lock().ok().and_then(|mut g| g.projectors.pop_front()) {
                if p.len() == computed.len() {
                    return p;
                }
            }
        }
        computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_draws_repeat_and_given_ones_replay_in_order() {
        let (mut a, mut b) = (Source::new(3), Source::new(3));
        let xs: Vec<f64> = (0..5).map(|_| a.normal()).collect();
        assert_eq!(xs, (0..5).map(|_| b.normal()).collect::<Vec<_>>());
        assert!(xs.iter().all(|x| x.is_finite() && x.abs() < 10.0));
        let given = Given { normals: [1.5, -2.0].into(), projectors: [vec![0.5, 0.25]].into(), ..Given::default() };
        let ((x, y, p), left) = with_given(given, || {
            let mut s = Source::new(0);
            (s.normal(), s.normal(), s.projector(vec![9.0, 9.0]))
        });
        assert_eq!((x, y, p), (1.5, -2.0, vec![0.5, 0.25]));
        assert!(left.normals.is_empty() && left.projectors.is_empty());
        assert!(!Source::new(0).replaying());
    }
}
