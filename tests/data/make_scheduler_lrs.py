#!/usr/bin/env python3
"""Learning rates (and momenta) of torch's lr schedulers, for options the 2-D golden file
(modern_optim_2d.json) does not cover: CyclicLR exp_range, OneCycleLR variants, ReduceLROnPlateau
modes, PolynomialLR power 1, LinearLR end_factor, CosineAnnealingWarmRestarts T_mult=1,
SequentialLR with other schedulers inside, chains, and two parameter groups.

Run:  python3 make_scheduler_lrs.py [--out scheduler_lrs.json]      (needs torch==2.15.*)
Checked by src/schedule/tests.rs at 1e-12 relative.

Recipe, per case:
  * an optimizer (SGD, or Adam whose betas[0] is the "momentum") over one or two parameter
    groups, each with its own lr and momentum;
  * the chain of schedulers constructed in order (what optlab's `a | b | c` means); each step
    calls their step() in order (ChainedScheduler), ReduceLROnPlateau.step(metrics[k]);
  * "lrs"[k] / "momenta"[k]: every group's lr / momentum (betas[0] for Adam) after k steps
    (k = 0: after construction);
  * "spec": the same chain in optlab's spec language.
If torch cannot be imported the script says why and leaves the JSON as it is.
"""
import argparse
import json
import sys


def spec_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return sub_spec(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(spec_value(x) for x in v) + "]"
    return repr(v)


def sub_spec(s):
    args = ", ".join(f"{k}={spec_value(v)}" for k, v in s["kwargs"].items())
    return f"{s['name']}({args})"


def S(name, **kwargs):
    return {"name": name, "kwargs": kwargs}


def C(id, chain, steps, groups=((0.1, 0.9),), optimizer="SGD", metrics=None):
    return dict(id=id, chain=chain, steps=steps, groups=[dict(lr=l, momentum=m) for l, m in groups],
                optimizer=optimizer, metrics=metrics)


TWO = ((0.1, 0.9), (0.02, 0.5))
ADAM2 = ((0.01, 0.9), (0.003, 0.8))
# a loss that improves, stalls, wobbles and improves again
WAVY = [1.0, 0.9, 0.85, 0.85, 0.86, 0.84, 0.8399, 0.8398, 0.9, 0.7, 0.7, 0.7, 0.71, 0.72, 0.5, 0.5,
        0.5, 0.49999, 0.6, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.3, 0.3, 0.31, 0.32, 0.33]
RISING = [0.1, 0.2, 0.25, 0.25, 0.2501, 0.24, 0.3, 0.3, 0.3, 0.3, 0.29, 0.31, 0.4, 0.4, 0.4, 0.41,
          0.41, 0.405, 0.42, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6]

CASES = [
    C("step-default-gamma", [S("StepLR", step_size=4)], 20, TWO),
    C("multistep-repeated", [S("MultiStepLR", milestones=[3, 3, 7], gamma=0.5)], 12, TWO),
    C("constant-factor1", [S("ConstantLR", factor=1.0, total_iters=3)], 6),
    C("constant-defaults", [S("ConstantLR")], 10, TWO),
    C("linear-end-factor", [S("LinearLR", start_factor=1.0, end_factor=0.5, total_iters=8)], 12, TWO),
    C("linear-defaults", [S("LinearLR")], 9),
    C("exp-two-groups", [S("ExponentialLR", gamma=0.9)], 15, TWO),
    C("poly-power1", [S("PolynomialLR", total_iters=10)], 15, TWO),
    C("poly-power-half", [S("PolynomialLR", total_iters=7, power=0.5)], 10),
    C("cosine-past-tmax", [S("CosineAnnealingLR", T_max=6, eta_min=0.001)], 30, TWO),
    C("warmrestarts-tmult1", [S("CosineAnnealingWarmRestarts", T_0=7)], 30, TWO),
    C("warmrestarts-tmult3", [S("CosineAnnealingWarmRestarts", T_0=2, T_mult=3, eta_min=0.01)], 30),
    C("cyclic-exp-range", [S("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=3,
                             mode="exp_range", gamma=0.97)], 40, TWO),
    C("cyclic-triangular-adam", [S("CyclicLR", base_lr=0.001, max_lr=0.006, step_size_up=4,
                                   base_momentum=0.85, max_momentum=0.95)], 25, ADAM2, "Adam"),
    C("cyclic-no-momentum", [S("CyclicLR", base_lr=0.02, max_lr=0.2, step_size_up=3, mode="triangular2",
                               cycle_momentum=False)], 25, TWO),
    C("onecycle-cos-pct", [S("OneCycleLR", max_lr=0.5, total_steps=40, pct_start=0.25, div_factor=10.0,
                             final_div_factor=100.0)], 40, ADAM2, "Adam"),
    C("onecycle-epochs-three-phase", [S("OneCycleLR", max_lr=0.2, epochs=4, steps_per_epoch=10,
                                        three_phase=True)], 40, TWO),
    C("onecycle-linear-no-momentum", [S("OneCycleLR", max_lr=1.0, total_steps=30, anneal_strategy="linear",
                                        cycle_momentum=False)], 30, TWO),
    C("plateau-max-abs-cooldown", [S("ReduceLROnPlateau", mode="max", threshold_mode="abs", threshold=0.001,
                                     patience=1, cooldown=2, factor=0.5)], len(RISING), TWO, metrics=RISING),
    C("plateau-min-rel-floor", [S("ReduceLROnPlateau", patience=0, factor=0.3, min_lr=0.005)], len(WAVY), TWO,
      metrics=WAVY),
    C("plateau-max-rel-eps", [S("ReduceLROnPlateau", mode="max", patience=2, eps=0.02, factor=0.5)], len(RISING),
      metrics=RISING),
    C("plateau-min-abs", [S("ReduceLROnPlateau", threshold_mode="abs", threshold=0.01, patience=2,
                            cooldown=1)], len(WAVY), metrics=WAVY),
    C("sequential-constant-step", [S("SequentialLR", schedulers=[S("ConstantLR", factor=0.5, total_iters=3),
                                                                 S("StepLR", step_size=4, gamma=0.5)],
                                     milestones=[5])], 20, TWO),
    C("sequential-three", [S("SequentialLR", schedulers=[S("LinearLR", start_factor=0.1, total_iters=5),
                                                         S("ExponentialLR", gamma=0.9),
                                                         S("CosineAnnealingLR", T_max=10, eta_min=0.001)],
                             milestones=[5, 12])], 30, TWO),
    C("sequential-multistep-poly", [S("SequentialLR", schedulers=[S("MultiStepLR", milestones=[2, 4], gamma=0.5),
                                                                  S("PolynomialLR", total_iters=8, power=2.0)],
                                      milestones=[6])], 18),
    C("sequential-warmrestarts", [S("SequentialLR", schedulers=[S("LinearLR", start_factor=0.2, total_iters=4),
                                                                S("CosineAnnealingWarmRestarts", T_0=5, T_mult=2)],
                                    milestones=[4])], 25, TWO),
    C("sequential-cyclic", [S("SequentialLR", schedulers=[S("ConstantLR", factor=0.25, total_iters=10),
                                                          S("CyclicLR", base_lr=0.01, max_lr=0.05, step_size_up=3)],
                              milestones=[6])], 20, TWO),
    C("sequential-onecycle-first", [S("SequentialLR", schedulers=[S("OneCycleLR", max_lr=0.3, total_steps=12),
                                                                  S("ExponentialLR", gamma=0.8)],
                                      milestones=[12])], 20, TWO),
    C("sequential-repeated-milestone", [S("SequentialLR", schedulers=[S("LinearLR", total_iters=3),
                                                                      S("StepLR", step_size=2),
                                                                      S("ExponentialLR", gamma=0.95)],
                                          milestones=[4, 4])], 10),
    C("chain-exp-step", [S("ExponentialLR", gamma=0.95), S("StepLR", step_size=3, gamma=0.5)], 12, TWO),
    C("chain-linear-cosine", [S("LinearLR", start_factor=0.1, total_iters=5), S("CosineAnnealingLR", T_max=20)],
      25, TWO),
    C("chain-sequential-exp", [S("SequentialLR", schedulers=[S("ConstantLR", factor=0.5, total_iters=2),
                                                             S("CosineAnnealingLR", T_max=8)], milestones=[3]),
                               S("ExponentialLR", gamma=0.97)], 15, TWO),
    C("chain-exp-plateau", [S("ExponentialLR", gamma=0.98), S("ReduceLROnPlateau", patience=1, factor=0.5)],
      len(WAVY), TWO, metrics=WAVY),
    C("chain-onecycle-then-exp", [S("OneCycleLR", max_lr=0.4, total_steps=20), S("ExponentialLR", gamma=0.9)], 20),
    C("chain-cyclic-then-warmrestarts", [S("CyclicLR", base_lr=0.05, max_lr=0.2, step_size_up=4),
                                         S("CosineAnnealingWarmRestarts", T_0=6)], 20, TWO),
]


def run(case, torch):
    params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in case["groups"]]
    adam = case["optimizer"] == "Adam"
    groups = []
    for p, g in zip(params, case["groups"]):
        if adam:
            groups.append(dict(params=[p], lr=g["lr"], betas=(g["momentum"], 0.999)))
        else:
            groups.append(dict(params=[p], lr=g["lr"], momentum=g["momentum"]))
    opt = torch.optim.Adam(groups) if adam else torch.optim.SGD(groups)
    S_ = torch.optim.lr_scheduler

    def make(s):
        kw = dict(s["kwargs"])
        if s["name"] == "SequentialLR":
            subs = [make(x) for x in kw.pop("schedulers")]
            return S_.SequentialLR(opt, subs, **kw)
        return getattr(S_, s["name"])(opt, **kw)

    chain = [make(s) for s in case["chain"]]

    def snapshot():
        lrs = [float(g["lr"]) for g in opt.param_groups]
        mom = [float(g["betas"][0]) if adam else float(g["momentum"]) for g in opt.param_groups]
        return lrs, mom

    lrs, momenta = [], []
    for k in range(case["steps"] + 1):
        l, m = snapshot()
        lrs.append(l)
        momenta.append(m)
        if k == case["steps"]:
            break
        opt.step()
        for s in chain:
            if isinstance(s, S_.ReduceLROnPlateau):
                s.step(case["metrics"][k])
            else:
                s.step()
    return lrs, momenta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="scheduler_lrs.json")
    a = ap.parse_args()
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: torch is not available ({e}); {a.out} left as it is")
        return 0
    import warnings
    warnings.simplefilter("ignore")
    torch.set_default_dtype(torch.float64)
    cases = []
    for c in CASES:
        c = dict(c)
        c["spec"] = " | ".join(sub_spec(s) for s in c["chain"])
        c["lrs"], c["momenta"] = run(c, torch)
        cases.append(c)
        print(f"ok   {c['id']:32s} {c['spec']}")
    doc = dict(torch=torch.__version__, conventions=__doc__, case_count=len(cases), cases=cases)
    with open(a.out, "w") as fh:
        json.dump(doc, fh, indent=None, separators=(",", ":"))
    print(f"{len(cases)} cases -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
