//! The experiments the seminar defines, and the default output folders.

/// The seminar's six methods for part 1, all with lr = 0.1 as in its notebook.
pub const PART1_OPTIMIZERS: [&str; 6] =
    ["gd(lr=0.1)", "momentum(lr=0.1)", "nag(lr=0.1)", "adagrad(lr=0.1)", "adadelta(lr=0.1)", "adam(lr=0.1)"];

/// The seminar's four functions, in its order.
pub const PART1_FUNCTIONS: [&str; 4] = ["quadratic", "saddle", "sin-cos", "sin-cos-sq"];

/// The seminar's four optimizers for part 2 (torch defaults, SGD with lr 0.01).
pub const PART2_OPTIMIZERS: [&str; 4] = ["adam", "adagrad", "adadelta", "sgd(lr=0.01)"];

/// nanoGPT's recipe for the character-level GPT (`config/train_shakespeare_char.py` at the
/// CPU size, 2000 steps): AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices
/// only, a linear warm-up over 100 steps from lr/101 (nanoGPT's `lr·(it+1)/(warmup+1)`),
/// cosine to 1e-4 by step 2000, gradients clipped at norm 1.0.
pub const GPT_ADAMW: &str = "partition(matrices=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1), \
     vectors=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)) \
     | SequentialLR(schedulers=[LinearLR(start_factor=0.0099009901, total_iters=100), \
     CosineAnnealingLR(T_max=1900, eta_min=1e-4)], milestones=[100]) | clip_grad_norm(max_norm=1.0)";

/// modded-nanogpt's split: Muon on the hidden matrices, AdamW on embeddings, head, gains
/// and biases, with the same warm-up, cosine and clipping as [`GPT_ADAMW`].
pub const GPT_MUON: &str = "partition(hidden=muon(lr=0.02, momentum=0.95, weight_decay=0), \
     rest=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)) \
     | SequentialLR(schedulers=[LinearLR(start_factor=0.0099009901, total_iters=100), \
     CosineAnnealingLR(T_max=1900, eta_min=1e-4)], milestones=[100]) | clip_grad_norm(max_norm=1.0)";

/// The modern methods of the seminar's section 3 on the 2-D functions (their reference
/// defaults; the lr is tuned).
pub const MODERN_2D: [&str; 5] = ["lion", "sf-adamw", "muon", "prodigy", "soap"];

/// The same methods for the networks, at learning rates their references recommend for such
/// models (Lion: 3–10× below Adam's; Muon's own default for the weights, AdamW on biases).
pub const MODERN_NN: [&str; 5] = [
    "lion(lr=1e-4)",
    "sf-adamw(lr=2.5e-3)",
    "muon(lr=0.02, fallback=adamw(lr=1e-3))",
    "prodigy",
    "soap(lr=3e-3, max_precondition_dim=128)",
];

/// A folder name for `name`: letters, digits and `-` kept, anything else `_`, at most 40
/// characters. When that changes the name (typed expressions), a short hash of the full
/// name is appended, so `x^2+y^2` and `x*2+y*2` get different folders.
pub fn slug(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
    if out != name {
        // FNV-1a: stable across versions and machines
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("-{:08x}", h as u32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn default_folders_of_different_expressions_do_not_collide() {
        assert_eq!(slug("sin-cos"), "sin-cos");
        assert_ne!(slug("x^2+y^2"), slug("x*2+y*2"));
        assert_ne!(slug(&"a".repeat(50)), slug(&"a".repeat(51)));
        assert!(slug("x^2+y^2").starts_with("x_2_y_2-"));
    }
}
