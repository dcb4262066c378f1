#!/usr/bin/env python3
"""More golden trajectories, float64, for lion, sf-adamw, sf-sgd, prodigy, ademamix, adabelief
and adopt: the hyperparameters, branches, starts and functions that modern_optim_2d.json does
not reach (decoupled and coupled weight decay, fixed_decay, maximize, rectify without the SGD
fallback, AMSBound, adam_debias, ADOPT without clipping, Prodigy with beta1 = 0, slice_p,
growth_rate, a coupled decay, Schedule-Free's r and weight_lr_power), and learning rates
changed between steps the way a scheduler changes them.

Run:  python3 modern_extra_a_2d.py [--out FILE]      (next to modern_optim_2d.py)
Needs: the packages of modern_optim_2d.py. Writes modern_extra_a_2d.json.

Conventions: those of modern_optim_2d.py (its functions, optimizers and records are reused),
plus:
  * "lr_factors": before step k (and before recording entry k), param_groups[0]["lr"] is set
    to lr0 * lr_factors[k], lr0 being the lr the optimizer was built with; the last entry is
    recorded with the last factor. This is what any lr scheduler does to a group, without
    depending on one: Lion's decoupled decay keeps dividing by lr0, Schedule-Free's lr_max
    keeps the largest warmed-up lr seen (and lr = 0 at the start leaves weight_sum = 0, so the
    average weight c is 0), Prodigy skips steps while lr = 0.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modern_optim_2d as base  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def run(case, start):
    f = base.FUNCTIONS[case["function"]][0]
    shape = case.get("shape", [2])
    p = torch.tensor(start, dtype=torch.float64).reshape(shape).clone().requires_grad_(True)
    xy = lambda t: (t.reshape(-1)[0], t.reshape(-1)[1])
    opt = base.make_optimizer(case["reference"], case["class"], [p], dict(case["kwargs"]))
    lr0 = opt.param_groups[0]["lr"]
    factors = case.get("lr_factors")
    sf = case["reference"] == "schedulefree"
    if sf:
        opt.train()
    rec = {k: [] for k in ("xs", "ys", "losses", "gxs", "gys", "lrs")}
    ev = {"eval_xs": [], "eval_ys": []}
    first_bad = None
    steps = case["steps"]
    for k in range(steps + 1):
        if factors is not None and k < steps:
            opt.param_groups[0]["lr"] = lr0 * factors[k]
        opt.zero_grad()
        loss = f(*xy(p))
        loss.backward()
        px, py = xy(p.detach())
        gx, gy = xy(p.grad)
        vals = (px.item(), py.item(), loss.item(), gx.item(), gy.item())
        if first_bad is None and not all(math.isfinite(v) for v in vals):
            first_bad = k
        for key, v in zip(("xs", "ys", "losses", "gxs", "gys"), vals):
            rec[key].append(v)
        rec["lrs"].append(float(opt.param_groups[0]["lr"]))
        if sf:
            g0 = opt.param_groups[0]
            beta1 = g0["betas"][0] if "betas" in g0 else g0["momentum"]
            st = opt.state[p]
            xe = p.detach().clone().lerp_(st["z"], 1 - 1 / beta1) if "z" in st else p.detach().clone()
            ex, ey = xy(xe)
            ev["eval_xs"].append(ex.item())
            ev["eval_ys"].append(ey.item())
        if first_bad is not None or k == steps:
            break
        opt.step()
    out = dict(rec, first_nonfinite_step=first_bad)
    if sf:
        out.update(ev)
    return out


def chaos(case, ref):
    s = case["start"]
    r2 = run(case, [math.nextafter(s[0], math.inf), s[1]])
    for k in range(min(len(ref["xs"]), len(r2["xs"]))):
        d = abs(ref["xs"][k] - r2["xs"][k]) + abs(ref["ys"][k] - r2["ys"][k])
        if not math.isfinite(d) or d > 1e-6 * (1 + abs(ref["xs"][k]) + abs(ref["ys"][k])):
            return k
    return None


S8 = [8.0, 0.1]
SC = [3.0, -2.0]
RB = [-1.5, 2.0]
HM = [0.5, 0.5]
BE = [1.0, 1.5]
SQ = [1.3, 0.7]
C = base.C


def factors(fn, steps=200):
    return [fn(k) for k in range(steps)]


CASES = [
    # --- Lion ---
    C("lion-decoupled-sincos", "lion-pytorch", "Lion", dict(lr=0.01, weight_decay=0.5, decoupled_weight_decay=True),
      "sin-cos", SC, "lion"),
    C("lion-beta1zero-himmel", "lion-pytorch", "Lion", dict(lr=0.02, betas=(0.0, 0.5)), "himmelblau", HM, "lion"),
    C("lion-decoupled-lrdecay-beale", "lion-pytorch", "Lion", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True),
      "beale", BE, "lion", lr_factors=factors(lambda k: 0.98 ** k)),
    # --- Schedule-Free AdamW ---
    C("sfadamw-beale-wd-r", "schedulefree", "AdamWScheduleFree",
      dict(lr=0.02, betas=(0.95, 0.99), weight_decay=0.05, r=1.0, weight_lr_power=1.0, foreach=False),
      "beale", BE, "sf-adamw"),
    C("sfadamw-himmel-power0", "schedulefree", "AdamWScheduleFree",
      dict(lr=0.05, weight_lr_power=0.0, warmup_steps=5, eps=1e-6, foreach=False), "himmelblau", HM, "sf-adamw"),
    C("sfadamw-sinsq-lr-up-down", "schedulefree", "AdamWScheduleFree", dict(lr=0.05, warmup_steps=10, foreach=False),
      "sin-cos-sq", SQ, "sf-adamw", lr_factors=factors(lambda k: 1.0 if k < 50 else 2.0 if k < 100 else 0.25)),
    C("sfadamw-sincos-lr0-first", "schedulefree", "AdamWScheduleFree", dict(lr=0.1, foreach=False),
      "sin-cos", S8, "sf-adamw", lr_factors=factors(lambda k: 0.0 if k < 3 else 1.0)),
    C("sfadamw-col-rosen", "schedulefree", "AdamWScheduleFree", dict(lr=0.01, betas=(0.5, 0.999), foreach=False),
      "rosenbrock", RB, "sf-adamw", shape=[2, 1]),
    # --- Schedule-Free SGD ---
    C("sfsgd-sincos-wd-r", "schedulefree", "SGDScheduleFree",
      dict(lr=0.1, momentum=0.5, weight_decay=0.01, r=0.5, weight_lr_power=1.0, foreach=False), "sin-cos", S8, "sf-sgd"),
    C("sfsgd-rosen-lr-cosine", "schedulefree", "SGDScheduleFree", dict(lr=1e-3, warmup_steps=20, foreach=False),
      "rosenbrock", RB, "sf-sgd", lr_factors=factors(lambda k: 0.5 * (1 + math.cos(math.pi * k / 200)))),
    # --- Prodigy ---
    C("prodigy-beta1zero-quad", "prodigyopt", "Prodigy", dict(lr=1.0, betas=(0.0, 0.99)), "quadratic", S8, "prodigy",
      steps=100),
    C("prodigy-coupled-beale", "prodigyopt", "Prodigy",
      dict(lr=1.0, weight_decay=0.05, decouple=False, beta3=0.9, d0=1e-4), "beale", BE, "prodigy"),
    C("prodigy-growth-sincos", "prodigyopt", "Prodigy", dict(lr=0.5, growth_rate=1.05, d_coef=2.0, eps=1e-6),
      "sin-cos", SC, "prodigy"),
    C("prodigy-slice2-himmel", "prodigyopt", "Prodigy", dict(lr=1.0, slice_p=2), "himmelblau", HM, "prodigy"),
    C("prodigy-lr-pause-rosen", "prodigyopt", "Prodigy", dict(lr=1.0, safeguard_warmup=True, use_bias_correction=True),
      "rosenbrock", RB, "prodigy", lr_factors=factors(lambda k: 0.0 if 20 <= k < 25 else 0.5 if k >= 25 else 1.0)),
    # --- AdEMAMix ---
    C("ademamix-decoupled-himmel", "pytorch-optimizer", "AdEMAMix",
      dict(lr=0.05, weight_decay=0.1, weight_decouple=True), "himmelblau", HM, "ademamix"),
    C("ademamix-coupled-beale", "pytorch-optimizer", "AdEMAMix",
      dict(lr=0.01, weight_decay=0.01, betas=(0.8, 0.99, 0.999), alpha=2.0), "beale", BE, "ademamix"),
    C("ademamix-fixed-warm-sincos", "pytorch-optimizer", "AdEMAMix",
      dict(lr=0.05, weight_decay=0.01, weight_decouple=True, fixed_decay=True, t_alpha_beta3=50,
           betas=(0.5, 0.9, 0.99)), "sin-cos", S8, "ademamix"),
    C("ademamix-maximize-sinsq", "pytorch-optimizer", "AdEMAMix", dict(lr=0.01, maximize=True), "sin-cos-sq", SQ,
      "ademamix", steps=60),
    # --- AdaBelief ---
    C("adabelief-rect-nosgd-sincos", "pytorch-optimizer", "AdaBelief", dict(lr=0.05, rectify=True, degenerated_to_sgd=False),
      "sin-cos", S8, "adabelief"),
    C("adabelief-ams-coupled-himmel", "pytorch-optimizer", "AdaBelief",
      dict(lr=0.05, ams_bound=True, weight_decouple=False, weight_decay=0.01), "himmelblau", HM, "adabelief"),
    C("adabelief-rect-ams-beale", "pytorch-optimizer", "AdaBelief",
      dict(lr=0.02, rectify=True, ams_bound=True, n_sma_threshold=4, betas=(0.8, 0.99)), "beale", BE, "adabelief"),
    C("adabelief-debias-fixed-rosen", "pytorch-optimizer", "AdaBelief",
      dict(lr=0.01, adam_debias=True, fixed_decay=True, weight_decay=0.001, eps=1e-8), "rosenbrock", RB, "adabelief"),
    C("adabelief-maximize-sincos", "pytorch-optimizer", "AdaBelief", dict(lr=0.01, maximize=True), "sin-cos", SC,
      "adabelief", steps=60),
    # --- ADOPT ---
    C("adopt-noclip-himmel", "pytorch-optimizer", "ADOPT", dict(lr=0.05, clip_lambda=None), "himmelblau", HM, "adopt"),
    C("adopt-decoupled-sincos", "pytorch-optimizer", "ADOPT",
      dict(lr=0.1, weight_decay=0.1, weight_decouple=True, betas=(0.5, 0.99), eps=1e-3), "sin-cos", S8, "adopt"),
    C("adopt-coupled-rosen", "pytorch-optimizer", "ADOPT", dict(lr=0.005, weight_decay=0.01), "rosenbrock", RB, "adopt"),
    C("adopt-fixed-quad", "pytorch-optimizer", "ADOPT",
      dict(lr=0.05, weight_decay=0.01, weight_decouple=True, fixed_decay=True), "quadratic", S8, "adopt"),
    C("adopt-maximize-sincos", "pytorch-optimizer", "ADOPT", dict(lr=0.01, maximize=True), "sin-cos", SC, "adopt",
      steps=60),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "modern_extra_a_2d.json"))
    a = ap.parse_args()
    t0 = time.time()
    cases, skipped = [], []
    for c in CASES:
        c = dict(c)
        c.setdefault("steps", 200)
        if "lr_factors" in c:
            c["lr_factors"] = c["lr_factors"][:c["steps"]]
        c["function_expr"] = base.FUNCTIONS[c["function"]][1]
        r = run(c, c["start"])
        if r["first_nonfinite_step"] is not None:
            skipped.append(dict(c, reason="non-finite", first_nonfinite_step=r["first_nonfinite_step"]))
            print(f"SKIP {c['id']}: non-finite at {r['first_nonfinite_step']}")
            continue
        c.update(r)
        c["chaos_step"] = chaos(c, r)
        cases.append(c)
        print(f"ok   {c['id']:34s} final=({r['xs'][-1]:.6g}, {r['ys'][-1]:.6g}) loss={r['losses'][-1]:.6g} "
              f"chaos={c['chaos_step']}")
    doc = dict(versions=base.versions(), dtype="float64", conventions=__doc__, skipped=skipped,
               case_count=len(cases), cases=cases)
    with open(a.out, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(f"{len(cases)} cases, {len(skipped)} skipped, {time.time() - t0:.1f}s -> {a.out}")


if __name__ == "__main__":
    main()
