"""More float64 2-D cases for the tensor-wise pytorch-optimizer methods (Adan, Lamb, LARS, MARS,
SOAP): the hyperparameters, shapes and branches that modern_optim_2d.py's cases leave out.

Run (same requirements as modern_optim_2d.py, whose recipe and conventions apply):
    python3 modern_optim_2d.py --cases tensor_methods_2d_cases.py --out tensor_methods_2d.json
Checked by tests/tensor_methods_parity.rs.
"""
S8 = [8.0, 0.1]
RB = [-1.5, 2.0]
HB = [0.5, 0.5]
BE = [1.0, 1.5]
PO = "pytorch-optimizer"
ROW, COL = [1, 2], [2, 1]


def C(id, cls, kwargs, function, start, name, **kw):
    return dict(id=id, reference=PO, **{"class": cls}, kwargs=kwargs, function=function, start=start,
                optlab=name, **kw)


CASES = [
    # Adan: decoupled decay, other betas, global-norm clipping, maximize
    C("adan-himmel-decouple", "Adan", dict(lr=0.05, weight_decay=0.05, weight_decouple=True), "himmelblau", HB, "adan"),
    C("adan-rosen-betas", "Adan", dict(lr=0.01, betas=(0.9, 0.9, 0.999), eps=1e-6), "rosenbrock", RB, "adan"),
    C("adan-beale-clip", "Adan", dict(lr=0.02, max_grad_norm=1.0), "beale", BE, "adan"),
    C("adan-quad-max", "Adan", dict(lr=0.01, maximize=True), "quadratic", [0.3, -0.2], "adan", steps=60),
    # Lamb: rectify (both branches), coupled decay, fixed decay, adam, no grad averaging, pre_norm
    C("lamb-rosen-rectify", "Lamb", dict(lr=0.05, rectify=True), "rosenbrock", RB, "lamb"),
    C("lamb-sincos-rectify-sgd", "Lamb", dict(lr=0.05, rectify=True, degenerated_to_sgd=True, betas=(0.9, 0.99)),
      "sin-cos", S8, "lamb"),
    C("lamb-himmel-coupled", "Lamb", dict(lr=0.05, weight_decay=0.05, weight_decouple=False), "himmelblau", HB, "lamb"),
    C("lamb-beale-fixed", "Lamb", dict(lr=0.02, weight_decay=0.01, fixed_decay=True), "beale", BE, "lamb"),
    C("lamb-quad-adam", "Lamb", dict(lr=0.1, adam=True, grad_averaging=False), "quadratic", S8, "lamb"),
    C("lamb-sincos-prenorm", "Lamb", dict(lr=0.1, pre_norm=True, max_grad_norm=0.5), "sin-cos", S8, "lamb"),
    C("lamb-row-max", "Lamb", dict(lr=0.01, maximize=True), "quadratic", [0.3, -0.2], "lamb", shape=ROW, steps=60),
    # LARS: matrices take the trust ratio
    C("lars-row-sincos", "LARS", dict(lr=0.5, trust_coefficient=0.02), "sin-cos", S8, "lars", shape=ROW),
    C("lars-col-rosen-nesterov", "LARS", dict(lr=0.2, trust_coefficient=0.01, weight_decay=0.01, nesterov=True),
      "rosenbrock", RB, "lars", shape=COL),
    C("lars-himmel-damp", "LARS", dict(lr=0.01, momentum=0.8, dampening=0.3), "himmelblau", HB, "lars"),
    C("lars-row-nomomentum", "LARS", dict(lr=1.0, momentum=0.0, trust_coefficient=0.05, weight_decay=0.1),
      "beale", BE, "lars", shape=ROW),
    # MARS: the vectors' AdamW, lion, ams_bound, cautious, coupled decay, fixed decay
    C("mars-vec-rosen", "MARS", dict(lr=0.01, lr_1d=0.02), "rosenbrock", RB, "mars"),
    C("mars-row-sincos-lion", "MARS", dict(lr=0.01, mars_type="lion"), "sin-cos", S8, "mars", shape=ROW),
    C("mars-vec-himmel-lion1d", "MARS", dict(lr=0.01, mars_type="lion", optimize_1d=True, gamma=0.05),
      "himmelblau", HB, "mars"),
    C("mars-col-beale-ams-cautious", "MARS", dict(lr=0.02, ams_bound=True, cautious=True, weight_decay=0.01),
      "beale", BE, "mars", shape=COL),
    C("mars-row-himmel-coupled", "MARS", dict(lr=0.05, weight_decay=0.05, weight_decouple=False),
      "himmelblau", HB, "mars", shape=ROW),
    C("mars-vec-sincos-fixed", "MARS", dict(lr=0.05, lr_1d=0.1, weight_decay_1d=0.01, fixed_decay=True,
                                            betas_1d=(0.8, 0.9)), "sin-cos", S8, "mars"),
    # MARS with Newton-Schulz steps (bfloat16 in the reference)
    C("mars-row-sincos-shampoo", "MARS", dict(lr=0.01, mars_type="shampoo"), "sin-cos", S8, "mars", shape=ROW),
    C("mars-col-rosen-shampoo", "MARS", dict(lr=0.003, mars_type="shampoo", weight_decay=0.01), "rosenbrock", RB, "mars",
      shape=COL),
    C("mars-vec-himmel-shampoo1d", "MARS", dict(lr=0.01, mars_type="shampoo", optimize_1d=True), "himmelblau", HB, "mars"),
    # SOAP: vectors (plain and preconditioned), normalize, no bias correction, shampoo_beta, max dim
    C("soap-vec-sincos", "SOAP", dict(lr=0.1), "sin-cos", S8, "soap"),
    C("soap-vec-precond1d", "SOAP", dict(lr=0.05, precondition_1d=True, precondition_frequency=4), "himmelblau", HB, "soap"),
    C("soap-row-himmel-normalize", "SOAP", dict(lr=0.02, normalize_gradient=True, correct_bias=False),
      "himmelblau", HB, "soap", shape=ROW),
    C("soap-col-beale-shampoo", "SOAP", dict(lr=0.02, shampoo_beta=0.8, precondition_frequency=3, betas=(0.9, 0.99)),
      "beale", BE, "soap", shape=COL),
    C("soap-row-rosen-maxdim1", "SOAP", dict(lr=0.01, max_precondition_dim=1), "rosenbrock", RB, "soap", shape=ROW),
    C("soap-row-sincos-max", "SOAP", dict(lr=0.01, maximize=True), "sin-cos", S8, "soap", shape=ROW, steps=100),
    C("soap-col-himmel-max", "SOAP", dict(lr=0.01, maximize=True, weight_decay=0.0), "himmelblau", [3.5, -1.0], "soap",
      shape=COL, steps=100),
]
