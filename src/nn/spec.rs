//! Model specs: the seminar's `mlp`, `mlp-relu`, `cnn`, or a list of layers such as
//! `conv(8,k=3,p=1),relu,maxpool(2),linear(64),relu,linear(10)`, read by the same parser as
//! optimizer specs ([`crate::optim::Spec`]), so layers nest:
//! `linear(64),residual(layer_norm,linear(64),gelu),linear(10)`.
//!
//! Each layer kind declares itself once, in its own file under `layers/`, as a [`LayerKind`]
//! (its name and aliases, its keys with their defaults, and how to build it), listed in the
//! registry [`super::layers::KINDS`]. This module checks a spec against those declarations:
//! every argument is given at most once (a repeated key, a key that repeats a positional
//! value and more values than the layer takes are errors, never silently dropped); sizes are
//! whole numbers written in digits that fit in 64 bits (whether they are within the stated
//! limits is checked when the model is built, where the input shape is known); nesting is
//! bounded by the spec parser's depth limit.

use super::build::Builder;
use super::layer::Layer;
use crate::limits;
use crate::optim::{Spec, Value};
use anyhow::{anyhow, bail, Result};
use std::fmt;

/// The type of a layer's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A whole number ≥ 1 written in digits (a width, a kernel size).
    Size,
    /// A whole number ≥ 0 written in digits (a padding).
    Count,
    /// `true` or `false`.
    Flag,
    /// A positive number (an epsilon).
    Float,
}

/// A value of a layer's key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    Size(u64),
    Flag(bool),
    Float(f64),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Size(v) => write!(f, "{v}"),
            Val::Flag(b) => write!(f, "{b}"),
            Val::Float(v) => f.write_str(&crate::optim::fmt_num(*v)),
        }
    }
}

/// One key of a layer: the names it may be given as (the first is its own), its type and
/// its default (`None`: required).
#[derive(Debug)]
pub struct Key {
    pub names: &'static [&'static str],
    pub ty: Ty,
    pub default: Option<Val>,
    /// Written as `key=value` even when it has its default (conv's k, s and p).
    pub always_shown: bool,
}

/// A layer kind, declared once in its own file.
pub struct LayerKind {
    /// The spec name (`linear`, `layer_norm`, ...).
    pub name: &'static str,
    /// Other names it may be written with (`fc`, `dense`, PyTorch's `Linear`...).
    pub aliases: &'static [&'static str],
    /// What it computes, in one line (PyTorch's module and formula).
    pub about: &'static str,
    pub keys: &'static [Key],
    /// Takes a list of layers as its positional values (`residual(layer_norm, linear(64))`).
    pub body: bool,
    /// Builds the layer for the input the builder holds, declaring its parameters.
    pub build: fn(&LayerSpec, &mut Builder) -> Result<Box<dyn Layer>>,
}

impl fmt::Debug for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for LayerKind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// One layer as written in a spec, checked against its kind: a value for every key (the
/// given one or the default), and the layers of its body.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    pub kind: &'static LayerKind,
    pub vals: Vec<Val>,
    pub body: Vec<LayerSpec>,
}

impl LayerSpec {
    fn val(&self, key: &str) -> Val {
        let i = self.kind.keys.iter().position(|k| k.names[0] == key);
        self.vals[i.unwrap_or_else(|| panic!("layer {} has no key {key}", self.kind.name))]
    }
    /// The value of a size key (a declared key of this layer's kind).
    pub fn size(&self, key: &str) -> u64 {
        match self.val(key) {
            Val::Size(v) => v,
            v => panic!("{key} is {v:?}, not a size"),
        }
    }
    pub fn flag(&self, key: &str) -> bool {
        match self.val(key) {
            Val::Flag(v) => v,
            v => panic!("{key} is {v:?}, not a flag"),
        }
    }
    pub fn float(&self, key: &str) -> f64 {
        match self.val(key) {
            Val::Float(v) => v,
            v => panic!("{key} is {v:?}, not a number"),
        }
    }
}

impl fmt::Display for LayerSpec {
    /// The layer as a spec spells it (reads back to the same layer): a required first key
    /// positionally, the others as `key=value` where they differ from the default or are
    /// always shown, then the body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        for (i, (k, v)) in self.kind.keys.iter().zip(&self.vals).enumerate() {
            if i == 0 && matches!(k.ty, Ty::Size) && (k.default.is_none() || !k.always_shown) {
                parts.push(v.to_string());
            } else if k.always_shown || k.default != Some(*v) {
                parts.push(format!("{}={v}", k.names[0]));
            }
        }
        parts.extend(self.body.iter().map(|l| l.to_string()));
        if parts.is_empty() {
            f.write_str(self.kind.name)
        } else {
            write!(f, "{}({})", self.kind.name, parts.join(","))
        }
    }
}

/// The seminar's models.
pub const NAMED: &[(&str, &str, &str)] = &[
    ("mlp", "linear(64),linear(10)", "the seminar's MLP: Linear(784,64) → Linear(64,10) → LogSoftmax, with NO activation in between (so it is a linear model)"),
    ("mlp-relu", "linear(64),relu,linear(10)", "the MLP with a ReLU between its layers"),
    ("cnn", "conv(3,k=3,p=1),relu,maxpool(2),linear(10)", "the seminar's CNN: Conv2d(1,3,3,padding=1) → ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax"),
];

/// How much of the user's text an error message echoes.
const SHOWN: usize = 60;

/// The user's text for a message: control characters escaped (so the message stays on
/// one line), at most `max` characters.
pub(crate) fn show(text: &str, max: usize) -> String {
    limits::echo(text, max)
}

/// The layer kind a name (or alias) stands for, case-insensitively.
pub fn kind(name: &str) -> Option<&'static LayerKind> {
    let n = name.to_ascii_lowercase();
    super::layers::KINDS.iter().copied().find(|k| k.name == n || k.aliases.contains(&n.as_str()))
}

/// The names of the layer kinds, for messages.
fn kind_names() -> String {
    super::layers::KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// A whole number written in decimal digits (no sign, no fraction, no exponent), from the
/// argument's own text.
fn whole(layer: &str, what: &str, text: &str) -> Result<u64> {
    let shown = show(text, 24);
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        if text.starts_with('-') {
            bail!("layer '{layer}': {what}{shown}: sizes cannot be negative");
        }
        if text.parse::<f64>().is_ok() {
            bail!("layer '{layer}': {what}{shown} is not a whole number (sizes are whole numbers, like 10)");
        }
        bail!("layer '{layer}': {what}{shown} is not a whole number");
    }
    text.parse::<u64>().map_err(|_| {
        anyhow!(
            "layer '{layer}': {what}{shown} is too large (more than 2^64; the limit for a layer is {} units)",
            limits::group(limits::WIDTH.max)
        )
    })
}

/// Checks one parsed layer against its kind (`src` is the whole text its spans refer to).
fn layer(spec: &Spec, src: &str) -> Result<LayerSpec> {
    let text = show(spec.text.trim(), SHOWN);
    let Some(kind) = kind(&spec.name) else {
        bail!("unknown layer '{}' (layers: {})", show(&spec.name, 24), kind_names());
    };
    let mut got: Vec<Option<Val>> = vec![None; kind.keys.len()];
    let mut body = Vec::new();
    let mut positional = 0usize;
    for a in &spec.args {
        let (slot, what) = match &a.key {
            Some(k) => {
                let Some(slot) = kind.keys.iter().position(|key| key.names.contains(&k.as_str())) else {
                    let accepted: Vec<&str> = kind.keys.iter().map(|k| k.names[0]).collect();
                    let accepted = if accepted.is_empty() { "none".to_string() } else { accepted.join(", ") };
                    bail!("layer '{text}': unknown key '{}' (accepted: {accepted})", show(k, 24));
                };
                (slot, format!("{}=", kind.keys[slot].names[0]))
            }
            None if kind.body => {
                let Value::Call(inner) = &a.value else {
                    bail!("layer '{text}': {} takes layers, like {}(layer_norm, linear(64))", kind.name, kind.name);
                };
                body.push(layer(inner, src)?);
                continue;
            }
            None => {
                if positional >= kind.keys.len() {
                    let n = kind.keys.len();
                    if n == 0 {
                        bail!("layer '{text}': {} takes no arguments", kind.name);
                    }
                    let names: Vec<&str> = kind.keys.iter().map(|k| k.names[0]).collect();
                    bail!(
                        "layer '{text}': {} takes at most {n} value{} ({})",
                        kind.name,
                        if n == 1 { "" } else { "s" },
                        names.join(", ")
                    );
                }
                positional += 1;
                (positional - 1, String::new())
            }
        };
        let key = &kind.keys[slot];
        if got[slot].is_some() {
            bail!("layer '{text}': {} is given twice", key.names[0]);
        }
        // the value's own text, for sizes written as digits
        let raw = src.get(a.span.clone()).unwrap_or("");
        let raw = if a.key.is_some() { raw.split_once('=').map_or("", |(_, v)| v) } else { raw }.trim();
        let v = match (key.ty, &a.value) {
            (Ty::Size | Ty::Count, _) => {
                let n = whole(&text, &what, raw)?;
                if key.ty == Ty::Size && n == 0 {
                    bail!("layer '{text}': {} must be at least 1", key.names[0]);
                }
                Val::Size(n)
            }
            (Ty::Flag, Value::Bool(b)) => Val::Flag(*b),
            (Ty::Float, Value::Num(x)) if x.is_finite() && *x > 0.0 => Val::Float(*x),
            (Ty::Flag, _) => bail!("layer '{text}': {what}{} is not true or false", show(raw, 24)),
            (Ty::Float, _) => bail!("layer '{text}': {what}{} is not a positive number", show(raw, 24)),
        };
        got[slot] = Some(v);
    }
    let vals = got
        .iter()
        .zip(kind.keys)
        .map(|(g, k)| match g.or(k.default) {
            Some(v) => Ok(v),
            None => bail!("layer '{text}': needs {} (e.g. {}(10))", k.names[0], kind.name),
        })
        .collect::<Result<Vec<_>>>()?;
    if kind.body && body.is_empty() {
        bail!("layer '{text}': {} needs at least one layer, like {}(layer_norm, linear(64))", kind.name, kind.name);
    }
    Ok(LayerSpec { kind, vals, body })
}

/// `optlab list layers`: the named models, then every layer kind with its aliases, keys and
/// defaults, from the declarations.
pub fn list_layers() -> String {
    let mut s = String::from("Named models:\n");
    for (name, layers, about) in NAMED {
        s.push_str(&format!("  {name:<9} {layers}\n            {about}\n"));
    }
    s.push_str("\nLayers (a --model spec is a comma-separated list of them; blocks nest):\n");
    for k in super::layers::KINDS {
        let mut args: Vec<String> = k
            .keys
            .iter()
            .map(|key| {
                let names = key.names.join("|");
                match key.default {
                    Some(v) => format!("{names}={v}"),
                    None => names,
                }
            })
            .collect();
        if k.body {
            args.push("layer, ...".into());
        }
        let sig = if args.is_empty() { k.name.to_string() } else { format!("{}({})", k.name, args.join(", ")) };
        let aka = if k.aliases.is_empty() { String::new() } else { format!(" (also {})", k.aliases.join(", ")) };
        s.push_str(&format!("  {sig}{aka}\n      {}\n", k.about));
    }
    s.push_str("\nExample: --model \"linear(64),residual(layer_norm,linear(64),gelu),linear(10)\"\n");
    s
}

/// Parses a layer list.
fn layers(text: &str) -> Result<Vec<LayerSpec>> {
    let specs = Spec::parse_list(text).map_err(|e| anyhow!("model spec '{}': {e}", show(text.trim(), SHOWN)))?;
    specs.iter().map(|s| layer(s, text)).collect()
}

/// Parses a model name or a layer list.
pub fn parse(text: &str) -> Result<(String, Vec<LayerSpec>)> {
    if text.len() > limits::TEXT.max as usize {
        bail!(
            "the model spec '{}' is too long (the limit is {} characters)",
            show(text, SHOWN),
            limits::group(limits::TEXT.max)
        );
    }
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if let Some((name, list, _)) = NAMED.iter().find(|(n, _, _)| *n == lower) {
        return Ok((name.to_string(), layers(list)?));
    }
    if t.is_empty() {
        bail!("the model spec is empty (named models: mlp, mlp-relu, cnn; or a layer list like \"conv(8,k=3,p=1),relu,maxpool(2),linear(10)\")");
    }
    if !t.contains(['(', ',']) && kind(&lower).is_none() {
        let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
        bail!(
            "unknown model '{}' (named models: {}; or a layer list like \"conv(8,k=3,p=1),relu,maxpool(2),linear(10)\")",
            show(t, SHOWN),
            names.join(", ")
        );
    }
    Ok((t.to_string(), layers(t)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        let e = parse(s).unwrap_err().to_string();
        assert!(!e.contains('\n') && e.len() < 300, "{e}");
        e
    }

    /// The canonical text of each layer of a spec.
    fn canon(s: &str) -> Vec<String> {
        parse(s).unwrap().1.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn parses_named_and_custom_models() {
        assert_eq!(canon("cnn"), ["conv(3,k=3,s=1,p=1)", "relu", "maxpool(2)", "linear(10)"]);
        let l = canon("conv(8,k=5,p=2,s=2), tanh, flatten, linear(32), sigmoid, linear(10)");
        assert_eq!(l[0], "conv(8,k=5,s=2,p=2)");
        assert_eq!(l.len(), 6);
        assert_eq!(
            canon("Conv(4, 5, 1, 2),ReLU(),MaxPool(kernel=3),Linear(out=10)"),
            ["conv(4,k=5,s=1,p=2)", "relu", "maxpool(3)", "linear(10)"]
        );
        let (_, l) =
            parse("conv2d(out_channels=4,kernel_size=5),pool,fc(7),dense(out_features=10,bias=false)").unwrap();
        assert_eq!(l[0].size("out"), 4);
        assert_eq!(l[0].size("k"), 5);
        assert_eq!(l[1].size("k"), 2);
        assert!(l[2].flag("bias") && !l[3].flag("bias"));
    }

    #[test]
    fn layers_nest_inside_blocks_through_the_optimizer_spec_parser() {
        let (_, l) = parse("linear(64), residual(layer_norm, linear(64), gelu), linear(10)").unwrap();
        assert_eq!(l[1].kind.name, "residual");
        let inner: Vec<String> = l[1].body.iter().map(|x| x.to_string()).collect();
        assert_eq!(inner, ["layer_norm", "linear(64)", "gelu"]);
        assert_eq!(l[1].to_string(), "residual(layer_norm,linear(64),gelu)");
        let (_, l) = parse("linear(8),residual(residual(ln(eps=0.001,bias=false),linear(8)),tanh),linear(10)").unwrap();
        assert_eq!(l[1].body[0].body[0].float("eps"), 0.001);
        assert_eq!(l[1].to_string(), "residual(residual(layer_norm(eps=1e-3,bias=false),linear(8)),tanh)");
        assert!(err("residual").contains("residual needs at least one layer"));
        assert!(err("residual(3)").contains("residual takes layers"));
        assert!(err("linear(8),residual(linear(8),softmax)").contains("unknown layer 'softmax'"));
        assert!(err("layer_norm(eps=-1)").contains("not a positive number"));
        assert!(err("linear(10,bias=2)").contains("not true or false"));
    }

    #[test]
    fn every_layer_reads_back_from_its_display() {
        let text = "conv(8,k=5,p=2,s=2),relu,maxpool(3),tanh,flatten,sigmoid,linear(10,bias=false),\
                    residual(layer_norm(eps=0.01),linear(10),gelu)";
        let (_, l) = parse(text).unwrap();
        let shown: Vec<String> = l.iter().map(|x| x.to_string()).collect();
        assert_eq!(parse(&shown.join(",")).unwrap().1, l);
        // every registered kind, by its name, reads back
        for k in crate::nn::layers::KINDS {
            let t = if k.body {
                format!("{}(relu)", k.name)
            } else if k.keys.first().is_some_and(|k| k.default.is_none()) {
                format!("{}(3)", k.name)
            } else {
                k.name.to_string()
            };
            let (_, l) = parse(&format!("{t},linear(10)")).unwrap();
            assert_eq!(l[0].kind.name, k.name);
            assert_eq!(parse(&format!("{},linear(10)", l[0])).unwrap().1[0], l[0], "{t}");
        }
    }

    #[test]
    fn bad_models_say_what_is_wrong() {
        assert!(err("resnet").contains("unknown model 'resnet'"));
        assert!(err("linear(64),softmax").contains("unknown layer 'softmax'"));
        assert!(err("conv(8,q=3)").contains("unknown key 'q'"));
        assert!(err("linear(x)").contains("not a whole number"));
        assert!(err("linear(0),linear(10)").contains("at least 1"));
        assert!(err("conv(3,s=0)").contains("s must be at least 1"));
        assert!(err("linear").contains("needs out"));
    }

    #[test]
    fn duplicate_and_extra_arguments_are_errors_not_dropped() {
        assert!(err("conv(3,k=3,k=5)").contains("'k' is given twice"));
        assert!(err("conv(3,k=3,kernel=5)").contains("k is given twice"));
        assert!(err("conv(3,out=4)").contains("out is given twice"));
        assert!(err("conv(3,3,1,0,7)").contains("conv takes at most 4 values"));
        assert!(err("linear(10,true,20)").contains("linear takes at most 2 values"));
        assert!(err("maxpool(2,2)").contains("maxpool takes at most 1 value"));
        assert!(err("relu(3)").contains("relu takes no arguments"));
        assert!(err("conv(k=3,8)").contains("positional value cannot follow"));
        assert!(err("linear(10,,3)").contains("not a number"));
        assert!(err("linear(out=)").contains("not a number"));
    }

    #[test]
    fn negative_float_and_huge_sizes_are_one_line_errors() {
        assert!(err("linear(-3)").contains("sizes cannot be negative"));
        assert!(err("linear(2.5)").contains("sizes are whole numbers"));
        assert!(err("linear(1e3)").contains("sizes are whole numbers"));
        assert!(err("linear(+4)").contains("not a whole number"));
        assert!(err("linear(18446744073709551616)").contains("too large"));
        let e = err(&format!("linear({})", "9".repeat(5000)));
        assert!(e.contains("too large") && e.len() < 300, "{e}");
        // 18446744073709551615 fits in 64 bits: refused by the limits when the model is built
        assert_eq!(parse("linear(18446744073709551615)").unwrap().1[0].size("out"), u64::MAX);
    }

    #[test]
    fn unbalanced_and_nested_parentheses_are_errors() {
        assert!(err("linear(10").contains("expected ',' or ')'"));
        assert!(err("linear(10))").contains("expected ',' or the end"));
        assert!(err("linear((10))").contains("not a whole number"));
        assert!(err("linear(10)x").contains("expected ',' or the end"));
        assert!(err("(10)").contains("expected a name"));
        assert!(err("linear(10),,linear(10)").contains("expected a name"));
    }

    #[test]
    fn nesting_30000_deep_fails_cleanly_without_deep_recursion() {
        let deep = format!("linear{}10{}", "(".repeat(30_000), ")".repeat(30_000));
        assert!(err(&deep).contains("too long"));
        let deep = format!("linear{}10{}", "(".repeat(4_000), ")".repeat(4_000));
        assert!(err(&deep).contains("nested deeper than 16 levels"));
        let deep = format!("{}relu{}", "residual(".repeat(40), ")".repeat(40));
        assert!(err(&deep).contains("nested deeper than 16 levels"));
    }

    /// Found by fuzzing: a newline in the text was echoed into the message.
    #[test]
    fn control_characters_in_the_spec_stay_escaped_in_the_one_line_error() {
        let e = err("linear(10),li\nnear");
        assert!(e.contains("'linear(10),li\\nnear'"), "{e}");
        assert!(err("linear(1\r0)").contains("1\\r0"));
        assert!(err("conv(3,q1\n=3)").contains("\\n"));
    }

    #[test]
    fn long_specs_are_shortened_in_errors() {
        let e = err(&format!("linear(10),{}", "x".repeat(5000)));
        assert!(e.contains("unknown layer") && e.len() < 200, "{e}");
        let e = err(&"z".repeat(20_000));
        assert!(e.contains("too long") && e.len() < 200, "{e}");
    }
}
