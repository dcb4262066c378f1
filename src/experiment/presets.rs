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

/// nanoGPT's schedule scaled to `steps`: a linear warm-up over the first 5% of the steps
/// (at least one) from lr/101, then cosine to `eta_min` by the last step. At 2000 steps
/// with eta_min 1e-4 it is [`GPT_ADAMW`]'s (100 warm-up steps).
pub fn gpt_schedule(steps: usize, eta_min: f64) -> String {
    let warmup = (steps / 20).max(1);
    format!(
        "SequentialLR(schedulers=[LinearLR(start_factor=0.0099009901, total_iters={warmup}), \
         CosineAnnealingLR(T_max={}, eta_min={eta_min:e})], milestones=[{warmup}])",
        steps.saturating_sub(warmup).max(1)
    )
}

/// The character-level GPT of `seminar --modern`, trained `steps` steps: the nanoGPT AdamW
/// recipe against Muon + AdamW (modded-nanogpt's split), Lion (lr 3× below AdamW's and
/// weight decay 3× above, as its paper advises, decay on matrices only), SOAP (its reference
/// lr, preconditioning dimensions up to 128 as in section 3's networks) and Schedule-Free
/// AdamW (no schedule: its warm-up only), each with its label. All clip at norm 1.0.
pub fn modern_gpt(steps: usize) -> Vec<(&'static str, String)> {
    let clip = "clip_grad_norm(max_norm=1.0)";
    let warmup = (steps / 20).max(1);
    vec![
        (
            "adamw (nanoGPT)",
            format!(
                "partition(matrices=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1), \
                 vectors=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)) | {} | {clip}",
                gpt_schedule(steps, 1e-4)
            ),
        ),
        (
            "muon + adamw",
            format!(
                "partition(hidden=muon(lr=0.02, momentum=0.95, weight_decay=0), \
                 rest=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)) | {} | {clip}",
                gpt_schedule(steps, 1e-4)
            ),
        ),
        (
            "lion",
            format!(
                "partition(matrices=lion(lr=3e-4, betas=(0.9, 0.99), weight_decay=0.3), \
                 vectors=lion(lr=3e-4, betas=(0.9, 0.99), weight_decay=0)) | {} | {clip}",
                gpt_schedule(steps, 3e-5)
            ),
        ),
        ("soap", format!("soap(lr=3e-3, max_precondition_dim=128) | {} | {clip}", gpt_schedule(steps, 1e-4))),
        ("sf-adamw", format!("sf-adamw(lr=3e-3, betas=(0.9, 0.99), warmup_steps={warmup}, weight_decay=0) | {clip}")),
    ]
}

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
    use super::*;

    #[test]
    fn the_scaled_gpt_schedule_at_2000_steps_is_the_nanogpt_recipes() {
        use crate::optim::OptimizerConfig;
        let recipe = OptimizerConfig::parse(GPT_ADAMW).unwrap().canonical();
        let scaled = &modern_gpt(2000)[0].1;
        assert_eq!(OptimizerConfig::parse(scaled).unwrap().canonical(), recipe);
        for steps in [1, 4, 200, 2000] {
            for (name, spec) in modern_gpt(steps) {
                OptimizerConfig::parse(&spec).unwrap_or_else(|e| panic!("{name} at {steps} steps: {e}"));
            }
        }
    }

    #[test]
    fn default_folders_of_different_expressions_do_not_collide() {
        assert_eq!(slug("sin-cos"), "sin-cos");
        assert_ne!(slug("x^2+y^2"), slug("x*2+y*2"));
        assert_ne!(slug(&"a".repeat(50)), slug(&"a".repeat(51)));
        assert!(slug("x^2+y^2").starts_with("x_2_y_2-"));
    }
}
