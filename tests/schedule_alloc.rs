//! Schedulers and clipping allocate nothing after the first step: every step of a wrapped
//! optimizer (and every end of epoch) runs without touching the heap.

use optlab::optim::{Layout, OptimizerConfig};
use optlab::schedule::Cadence;
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

#[test]
fn wrapped_steps_allocate_nothing_after_the_first() {
    let specs = [
        "adam(lr=0.05) | SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=50)], milestones=[5]) | clip_grad_norm(max_norm=1.0)",
        "sgd(lr=0.1, momentum=0.9) | OneCycleLR(max_lr=0.5, total_steps=100, three_phase=true) | ReduceLROnPlateau(patience=2)",
        "sgd(lr=0.1, momentum=0.9) | CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=4, mode=\"exp_range\", gamma=0.99) | MultiStepLR(milestones=[3, 9]) | clip_grad_value(0.5)",
        "adam | CosineAnnealingWarmRestarts(T_0=3, T_mult=2) | StepLR(step_size=2, every=\"epoch\") | clip_grad_norm(1, norm_type=inf)",
    ];
    let start = allocations();
    let probe = std::hint::black_box(vec![1u8; 8]);
    assert!(allocations() > start && probe.len() == 8, "the counter counts");
    for spec in specs {
        let cfg = OptimizerConfig::parse(spec).unwrap();
        // the 2-D lab
        let mut opt = cfg.build::<f64>(&Layout::flat(2));
        let mut p = [1.0, -2.0];
        let mut f = |q: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * q[0];
            g[1] = 2.0 * q[1];
            q[0] * q[0] + q[1] * q[1]
        };
        opt.step(&mut p, &mut f);
        let before = allocations();
        for _ in 0..60 {
            opt.step(&mut p, &mut f);
        }
        assert_eq!(allocations(), before, "{spec}: the lab's steps allocate");
        // training: several tensors, batches and epochs
        let layout = Layout::of(&[("w", vec![3, 2]), ("b", vec![3])]);
        let mut opt = cfg.build_with::<f32>(&layout, Cadence::Training);
        let mut p = [0.5f32; 9];
        let mut f = |q: &[f32], g: &mut [f32]| {
            g.iter_mut().zip(q).for_each(|(g, q)| *g = 3.0 * q);
            q.iter().map(|q| q * q).sum::<f32>()
        };
        opt.step(&mut p, &mut f);
        opt.end_epoch(Some(1.0));
        let before = allocations();
        for epoch in 0..10 {
            for _ in 0..5 {
                opt.step(&mut p, &mut f);
            }
            opt.end_epoch(if epoch % 2 == 0 { Some(1.0) } else { None });
        }
        assert_eq!(allocations(), before, "{spec}: training steps allocate");
    }
}
