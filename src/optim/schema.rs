//! Hyperparameter schemas: each method (and each scheduler or clipping modifier) declares
//! its keys once — type, default, check and meaning — and everything else is derived from
//! that declaration: parsing and validating a spec, the canonical spec, short labels,
//! `optlab list`, `with_lr`, and `sweep-lr --vs`.
//!
//! A default is written as spec text (`"(0.9, 0.999)"`, `"false"`, `"None"`), so what
//! `optlab list` shows is literally what the parser reads.

use super::spec::{Arg, Spec, SpecError, Value};
use std::fmt;

/// The type of a hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A real number.
    Num,
    /// An integer (written as a number without a fractional part).
    Int,
    /// `true` / `false`.
    Bool,
    /// A switch of the reference that optlab offers only off (GPU kernels, sharded training,
    /// tensor-wide rescalings that would break element-wise batching): `false` is accepted so
    /// that a spec copied from Python reads, `true` is refused by the key's check.
    Off,
    /// One of the listed strings.
    Choice(&'static [&'static str]),
    /// A tuple of exactly this many numbers, e.g. betas `(0.9, 0.999)`.
    Nums(usize),
    /// A list of numbers of any length, e.g. milestones `[20, 60]`.
    NumList,
    /// A number or `None`.
    MaybeNum,
    /// A tuple whose elements are numbers or `None`, e.g. Adafactor's eps `(None, 1e-3)`.
    MaybeNums(usize),
    /// A nested optimizer spec, e.g. Muon's `fallback=adamw(lr=1e-3)`.
    Optimizer,
    /// A nested optimizer spec or `None` (a selector of `partition` that takes no tensors).
    MaybeOptimizer,
    /// A list of nested scheduler specs (SequentialLR, ChainedScheduler).
    SchedulerList,
}

/// A check applied to a value after its type is known.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Anything of the right type (finite for numbers).
    Any,
    /// The learning rate: finite and ≥ 0.
    Lr,
    /// Finite and ≥ 0 (every element, for tuples and lists).
    NonNeg,
    /// Finite and > 0.
    Positive,
    /// > 0, and `inf` allowed (meaning "no limit", as Prodigy's growth_rate).
    PositiveOrInf,
    /// In [0, 1) (every element): betas, decay rates.
    Unit,
    /// In [0, 1].
    UnitClosed,
    /// In (0, 1).
    UnitOpen,
    /// An integer ≥ the given bound.
    AtLeast(i64),
    /// A rule of the method's own.
    Custom(fn(&Value) -> Result<(), String>),
}

/// One hyperparameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// PyTorch's keyword name.
    pub key: &'static str,
    pub kind: Kind,
    /// The default as spec text (what PyTorch or the reference package uses).
    pub default: &'static str,
    pub check: Check,
    pub doc: &'static str,
}

impl Param {
    pub const fn new(key: &'static str, kind: Kind, default: &'static str, check: Check, doc: &'static str) -> Param {
        Param { key, kind, default, check, doc }
    }

    /// The default, parsed.
    pub fn default_value(&self) -> Value {
        let spec = Spec::parse(&format!("d(v={})", self.default))
            .unwrap_or_else(|e| panic!("default of '{}' is not a value: {e}", self.key));
        let v = spec.args.into_iter().next().expect("one argument").value;
        coerce(self, v).unwrap_or_else(|e| panic!("default of '{}' does not fit its type: {e}", self.key))
    }
}

/// A validated set of values for a schema, in schema order.
#[derive(Clone, Debug)]
pub struct Hyper {
    /// The name of what the values belong to (the method or modifier).
    pub name: &'static str,
    pub params: &'static [Param],
    values: Vec<Value>,
}

/// Makes `v` fit `p.kind` where Python would accept it (0/1 for booleans, integers as
/// numbers, a single number where a tuple of numbers is expected is not accepted).
fn coerce(p: &Param, v: Value) -> Result<Value, String> {
    let what = |want: &str| format!("{} takes {want}", p.key);
    let num_or = |v: &Value| -> Option<f64> {
        match v {
            Value::Num(x) => Some(*x),
            _ => None,
        }
    };
    Ok(match p.kind {
        Kind::Num => Value::Num(num_or(&v).ok_or_else(|| what("a number"))?),
        Kind::Int => {
            let x = num_or(&v).ok_or_else(|| what("an integer"))?;
            if x.fract() != 0.0 || !x.is_finite() {
                return Err(what("an integer"));
            }
            Value::Num(x)
        }
        Kind::Bool | Kind::Off => match v {
            Value::Bool(b) => Value::Bool(b),
            Value::Num(x) if x == 0.0 || x == 1.0 => Value::Bool(x == 1.0),
            _ => return Err(what("true or false")),
        },
        Kind::Choice(options) => match v {
            Value::Str(s) if options.contains(&s.as_str()) => Value::Str(s),
            Value::None if options.contains(&"None") => Value::None,
            _ => {
                return Err(what(&format!(
                    "one of {}",
                    options.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ")
                )))
            }
        },
        Kind::Nums(n) => match v {
            Value::Tuple(items) | Value::List(items)
                if items.len() == n && items.iter().all(|i| matches!(i, Value::Num(_))) =>
            {
                Value::Tuple(items)
            }
            _ => return Err(what(&format!("{n} numbers, like {}", p.default))),
        },
        Kind::NumList => match v {
            Value::Tuple(items) | Value::List(items) if items.iter().all(|i| matches!(i, Value::Num(_))) => {
                Value::List(items)
            }
            Value::Num(x) => Value::List(vec![Value::Num(x)]),
            _ => return Err(what("a list of numbers, like [20, 60]")),
        },
        Kind::MaybeNum => match v {
            Value::Num(_) | Value::None => v,
            _ => return Err(what("a number or None")),
        },
        Kind::MaybeNums(n) => match v {
            Value::Tuple(items) | Value::List(items)
                if items.len() == n && items.iter().all(|i| matches!(i, Value::Num(_) | Value::None)) =>
            {
                Value::Tuple(items)
            }
            _ => return Err(what(&format!("{n} numbers or None, like {}", p.default))),
        },
        Kind::Optimizer => match v {
            Value::Call(s) => Value::Call(s),
            _ => return Err(what("an optimizer spec, like adamw(lr=1e-3)")),
        },
        Kind::MaybeOptimizer => match v {
            Value::Call(_) | Value::None => v,
            _ => return Err(what("an optimizer spec, like adamw(lr=1e-3), or None")),
        },
        Kind::SchedulerList => match v {
            Value::List(items) | Value::Tuple(items) if items.iter().all(|i| matches!(i, Value::Call(_))) => {
                Value::List(items)
            }
            _ => {
                return Err(what(
                    "a list of schedulers, like [LinearLR(start_factor=0.1), CosineAnnealingLR(T_max=100)]",
                ))
            }
        },
    })
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Num(x) => vec![*x],
        Value::Tuple(items) | Value::List(items) => items.iter().flat_map(numbers).collect(),
        _ => vec![],
    }
}

/// Applies `p.check` (and finiteness of every number) to a coerced value.
fn check(p: &Param, v: &Value) -> Result<(), String> {
    let shown = v.to_string();
    let xs = numbers(v);
    let inf_ok = matches!(p.check, Check::PositiveOrInf);
    // (where inf is allowed, NaN and -inf fail the check's own rule below, x > 0)
    if !inf_ok && xs.iter().any(|x| !x.is_finite()) {
        return Err(format!("invalid {} value: {}={shown} (use finite numbers)", p.key, p.key));
    }
    let all = |ok: &dyn Fn(f64) -> bool, rule: &str| -> Result<(), String> {
        match xs.iter().position(|&x| !ok(x)) {
            None => Ok(()),
            Some(i) if p.key == "betas" => {
                Err(format!("invalid beta parameter at index {i}: betas={shown} (each beta must be {rule})"))
            }
            Some(i) if xs.len() > 1 => {
                Err(format!("invalid {} value at index {i}: {}={shown} (each must be {rule})", p.key, p.key))
            }
            Some(_) => Err(format!("invalid {} value: {}={shown} (use {rule})", p.key, p.key)),
        }
    };
    match p.check {
        Check::Any => Ok(()),
        Check::Lr => {
            if xs.iter().any(|&x| x < 0.0) {
                Err(format!("invalid learning rate: {}={shown} (use a finite value >= 0, e.g. lr=0.01)", p.key))
            } else {
                Ok(())
            }
        }
        Check::NonNeg => all(&|x| x >= 0.0, "a finite value >= 0"),
        Check::Positive => all(&|x| x > 0.0, "a finite value > 0"),
        Check::PositiveOrInf => all(&|x| x > 0.0, "a value > 0, or inf"),
        Check::Unit => all(&|x| (0.0..1.0).contains(&x), "in [0, 1)"),
        Check::UnitClosed => all(&|x| (0.0..=1.0).contains(&x), "in [0, 1]"),
        Check::UnitOpen => all(&|x| x > 0.0 && x < 1.0, "in (0, 1)"),
        Check::AtLeast(n) => all(&|x| x >= n as f64, &format!("an integer >= {n}")),
        Check::Custom(f) => f(v),
    }
}

impl PartialEq for Hyper {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.values == other.values
    }
}

impl Hyper {
    /// Every key at its default.
    pub fn defaults(name: &'static str, params: &'static [Param]) -> Hyper {
        Hyper { name, params, values: params.iter().map(Param::default_value).collect() }
    }

    /// Reads a spec's arguments against the schema: unknown keys, positional values past the
    /// schema, wrong types and failed checks are errors pointing at the argument.
    pub fn from_spec(name: &'static str, params: &'static [Param], spec: &Spec) -> Result<Hyper, SpecError> {
        let mut h = Hyper::defaults(name, params);
        for (i, Arg { key, value, span }) in spec.args.iter().enumerate() {
            let idx = match key {
                Some(k) => params.iter().position(|p| p.key.eq_ignore_ascii_case(k)).ok_or_else(|| {
                    let keys: Vec<&str> = params.iter().map(|p| p.key).collect();
                    SpecError::new(
                        format!("unknown key '{k}' for {name} (accepted: {})", keys.join(", ")),
                        span.clone(),
                    )
                })?,
                None if i < params.len() => i,
                None => {
                    return Err(SpecError::new(
                        format!("{name} takes at most {} positional values", params.len()),
                        span.clone(),
                    ))
                }
            };
            h.set_value(idx, value.clone()).map_err(|m| SpecError::new(format!("{m} ({name})"), span.clone()))?;
        }
        Ok(h)
    }

    fn index(&self, key: &str) -> usize {
        self.params
            .iter()
            .position(|p| p.key == key)
            .unwrap_or_else(|| panic!("{} has no hyperparameter '{key}'", self.name))
    }

    fn set_value(&mut self, idx: usize, v: Value) -> Result<(), String> {
        let p = &self.params[idx];
        let v = coerce(p, v)?;
        check(p, &v)?;
        self.values[idx] = v;
        Ok(())
    }

    /// Sets `key` (any case) to `v`, checked like a spec value.
    pub fn set(&mut self, key: &str, v: Value) -> Result<(), String> {
        match self.params.iter().position(|p| p.key.eq_ignore_ascii_case(key)) {
            Some(idx) => self.set_value(idx, v),
            None => {
                let keys: Vec<&str> = self.params.iter().map(|p| p.key).collect();
                Err(format!("{} has no hyperparameter '{key}' (it has: {})", self.name, keys.join(", ")))
            }
        }
    }

    /// Whether the schema has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|p| p.key == key)
    }

    pub fn value(&self, key: &str) -> &Value {
        &self.values[self.index(key)]
    }

    /// (key, value) in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.params.iter().map(|p| p.key).zip(self.values.iter())
    }

    /// A number (`Num`/`Int` keys).
    pub fn num(&self, key: &str) -> f64 {
        match self.value(key) {
            Value::Num(x) => *x,
            v => panic!("{}.{key} is not a number: {v}", self.name),
        }
    }

    /// An integer key.
    pub fn int(&self, key: &str) -> i64 {
        self.num(key) as i64
    }

    pub fn flag(&self, key: &str) -> bool {
        match self.value(key) {
            Value::Bool(b) => *b,
            v => panic!("{}.{key} is not a boolean: {v}", self.name),
        }
    }

    /// A number or `None`.
    pub fn maybe_num(&self, key: &str) -> Option<f64> {
        match self.value(key) {
            Value::Num(x) => Some(*x),
            _ => None,
        }
    }

    /// The numbers of a tuple or list key.
    pub fn nums(&self, key: &str) -> Vec<f64> {
        numbers(self.value(key))
    }

    /// The elements of a tuple of numbers or `None`.
    pub fn maybe_nums(&self, key: &str) -> Vec<Option<f64>> {
        match self.value(key) {
            Value::Tuple(items) | Value::List(items) => {
                items.iter().map(|i| if let Value::Num(x) = i { Some(*x) } else { None }).collect()
            }
            _ => vec![],
        }
    }

    /// A pair of numbers (`Nums(2)` keys).
    pub fn pair(&self, key: &str) -> (f64, f64) {
        let v = self.nums(key);
        (v[0], v[1])
    }

    /// A string choice (`None` gives `None`).
    pub fn choice(&self, key: &str) -> Option<&str> {
        match self.value(key) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A nested spec (`Optimizer` keys).
    pub fn spec(&self, key: &str) -> &Spec {
        match self.value(key) {
            Value::Call(s) => s,
            v => panic!("{}.{key} is not a spec: {v}", self.name),
        }
    }

    /// A nested spec, or `None` (`MaybeOptimizer` keys).
    pub fn maybe_spec(&self, key: &str) -> Option<&Spec> {
        match self.value(key) {
            Value::Call(s) => Some(s),
            _ => None,
        }
    }

    /// The nested specs of a `SchedulerList` key.
    pub fn specs(&self, key: &str) -> Vec<&Spec> {
        match self.value(key) {
            Value::List(items) => {
                items.iter().filter_map(|i| if let Value::Call(s) = i { Some(s) } else { None }).collect()
            }
            _ => vec![],
        }
    }

    /// `name(key=value, ...)` with every key, in schema order.
    pub fn canonical(&self) -> String {
        let body: Vec<String> = self.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}({})", self.name, body.join(", "))
    }

    /// The name with `lr` (when the schema has one and it is not `None`) and the keys that
    /// differ from their defaults, e.g. `sgd(lr=0.01, momentum=0.9)`.
    pub fn label(&self) -> String {
        let diff: Vec<String> = self
            .params
            .iter()
            .zip(&self.values)
            .filter(|(p, v)| (p.key == "lr" && **v != Value::None) || **v != p.default_value())
            .map(|(p, v)| format!("{}={v}", p.key))
            .collect();
        if diff.is_empty() {
            self.name.to_string()
        } else {
            format!("{}({})", self.name, diff.join(", "))
        }
    }
}

impl fmt::Display for Hyper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The defaults of a schema all parse, fit their type and pass their check (used by the
/// conformance tests; a panic here names the key).
pub fn check_schema(name: &str, params: &[Param]) -> Result<(), String> {
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.key.eq_ignore_ascii_case(p.key)) {
            return Err(format!("{name}: key '{}' declared twice", p.key));
        }
        let v = p.default_value();
        // a None default is allowed to skip the numeric checks
        if !matches!(v, Value::None) {
            check(p, &v).map_err(|e| format!("{name}: default of '{}' fails its own check: {e}", p.key))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates"),
        Param::new("amsgrad", Kind::Bool, "false", Check::Any, "AMSGrad"),
        Param::new("line_search_fn", Kind::Choice(&["None", "strong_wolfe"]), "None", Check::Any, "line search"),
    ];

    #[test]
    fn defaults_parse_and_canonical_reads_back() {
        check_schema("t", PARAMS).unwrap();
        let h = Hyper::defaults("t", PARAMS);
        assert_eq!(h.canonical(), "t(lr=1e-3, betas=(0.9, 0.999), amsgrad=false, line_search_fn=None)");
        let back = Hyper::from_spec("t", PARAMS, &Spec::parse(&h.canonical()).unwrap()).unwrap();
        assert_eq!(back, h);
        assert_eq!(h.label(), "t(lr=1e-3)");
    }

    #[test]
    fn inf_is_a_value_only_where_the_check_allows_it() {
        const P: &[Param] = &[
            Param::new("growth_rate", Kind::Num, "inf", Check::PositiveOrInf, "growth"),
            Param::new("lr", Kind::Num, "0.1", Check::Lr, "learning rate"),
        ];
        check_schema("t", P).unwrap();
        let h = Hyper::defaults("t", P);
        assert_eq!(h.num("growth_rate"), f64::INFINITY);
        assert_eq!(h.canonical(), "t(growth_rate=inf, lr=0.1)");
        assert_eq!(Hyper::from_spec("t", P, &Spec::parse(&h.canonical()).unwrap()).unwrap(), h);
        for bad in ["t(growth_rate=-inf)", "t(growth_rate=nan)", "t(growth_rate=0)", "t(lr=inf)"] {
            assert!(Hyper::from_spec("t", P, &Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_errors_that_point_at_the_argument() {
        let text = "t(lr=0.1, betas=(0.9, 1.5))";
        let e = Hyper::from_spec("t", PARAMS, &Spec::parse(text).unwrap()).unwrap_err();
        assert!(e.message.contains("invalid beta parameter at index 1"), "{}", e.message);
        assert_eq!(&text[e.span.clone()], "betas=(0.9, 1.5)");
        let e = Hyper::from_spec("t", PARAMS, &Spec::parse("t(lr=-1)").unwrap()).unwrap_err();
        assert!(e.message.contains("invalid learning rate"), "{}", e.message);
        let e = Hyper::from_spec("t", PARAMS, &Spec::parse("t(foo=1)").unwrap()).unwrap_err();
        assert!(e.message.contains("unknown key 'foo'"), "{}", e.message);
        let e = Hyper::from_spec("t", PARAMS, &Spec::parse("t(line_search_fn=\"armijo\")").unwrap()).unwrap_err();
        assert!(e.message.contains("strong_wolfe"), "{}", e.message);
        let h = Hyper::from_spec("t", PARAMS, &Spec::parse("t(0.5, amsgrad=1)").unwrap()).unwrap();
        assert_eq!(h.num("lr"), 0.5);
        assert!(h.flag("amsgrad"));
    }
}
