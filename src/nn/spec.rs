//! Model specs: the seminar's `mlp`, `mlp-relu`, `cnn`, or a sequence of layers such as
//! `conv(8,k=3,p=1),relu,maxpool(2),linear(64),relu,linear(10)`.
//!
//! The parser reads the text in one pass without recursion (a layer's arguments are plain
//! whole numbers, so parentheses never nest), and every argument is given at most once:
//! a repeated key (`conv(3,k=3,k=5)`), a key that repeats a positional value
//! (`conv(3,out=4)`) or more values than the layer takes (`linear(10,20)`) is an error,
//! never silently dropped. Sizes are read as whole numbers that fit in 64 bits; whether
//! they are within the stated limits is checked when the model is built
//! ([`super::Model::new`]), where the input shape is known.

use crate::limits;
use anyhow::{bail, Result};
use std::fmt;

/// One layer as written in a spec.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// Fully connected layer with `out` outputs (its input is flattened).
    Linear {
        out: usize,
    },
    /// 2-D convolution: `out` channels, k×k kernel, stride, zero padding.
    Conv {
        out: usize,
        k: usize,
        stride: usize,
        pad: usize,
    },
    Relu,
    Tanh,
    Sigmoid,
    /// Max pooling with a k×k window and stride k.
    MaxPool {
        k: usize,
    },
    Flatten,
}

impl fmt::Display for LayerSpec {
    /// The layer as a spec spells it (reads back to the same layer).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSpec::Linear { out } => write!(f, "linear({out})"),
            LayerSpec::Conv { out, k, stride, pad } => write!(f, "conv({out},k={k},s={stride},p={pad})"),
            LayerSpec::Relu => f.write_str("relu"),
            LayerSpec::Tanh => f.write_str("tanh"),
            LayerSpec::Sigmoid => f.write_str("sigmoid"),
            LayerSpec::MaxPool { k } => write!(f, "maxpool({k})"),
            LayerSpec::Flatten => f.write_str("flatten"),
        }
    }
}

/// The seminar's models.
pub const NAMED: &[(&str, &str, &str)] = &[
    ("mlp", "linear(64),linear(10)", "the seminar's MLP: Linear(784,64) → Linear(64,10) → LogSoftmax, with NO activation in between (so it is a linear model)"),
    ("mlp-relu", "linear(64),relu,linear(10)", "the MLP with a ReLU between its layers"),
    ("cnn", "conv(3,k=3,p=1),relu,maxpool(2),linear(10)", "the seminar's CNN: Conv2d(1,3,3,padding=1) → ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax"),
];

/// Layer names in messages.
const LAYERS: &str = "linear, conv, relu, tanh, sigmoid, maxpool, flatten";

/// Every name a layer may be written with.
const LAYER_NAMES: &[&str] =
    &["linear", "fc", "dense", "conv", "conv2d", "maxpool", "maxpool2d", "pool", "relu", "tanh", "sigmoid", "flatten"];

/// How much of the user's text an error message echoes.
const SHOWN: usize = 60;

/// The user's text for a message: control characters escaped (so the message stays on
/// one line), at most `max` characters.
pub(crate) fn show(text: &str, max: usize) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    limits::shorten(&s, max)
}

/// One layer's text, and the parameters its arguments fill.
struct Params {
    /// Each parameter: the names it may be given as (the first is its own), and its default
    /// (`None`: required).
    names: &'static [(&'static [&'static str], Option<usize>)],
}

const LINEAR: Params = Params { names: &[(&["out", "out_features"], None)] };
const CONV: Params = Params {
    names: &[
        (&["out", "out_channels"], None),
        (&["k", "kernel", "kernel_size"], Some(3)),
        (&["s", "stride"], Some(1)),
        (&["p", "padding"], Some(0)),
    ],
};
const POOL: Params = Params { names: &[(&["k", "kernel", "kernel_size"], Some(2))] };

/// Splits at the commas outside parentheses, refusing nested or unbalanced parentheses.
fn split_top(s: &str) -> Result<Vec<&str>> {
    let (mut open, mut start, mut out) = (None::<usize>, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' if open.is_some() => {
                bail!("nested parentheses in '{}' (layer arguments are whole numbers)", show(&s[start..], SHOWN))
            }
            '(' => open = Some(i),
            ')' if open.is_none() => bail!("')' without '(' in '{}'", show(&s[start..], SHOWN)),
            ')' => open = None,
            ',' if open.is_none() => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if open.is_some() {
        bail!("layer '{}': missing ')'", show(s[start..].trim(), SHOWN));
    }
    out.push(&s[start..]);
    Ok(out)
}

/// A whole number ≥ 0 written in decimal digits (no sign, no fraction, no exponent).
fn whole(layer: &str, key: Option<&str>, v: &str) -> Result<usize> {
    let what = key.map_or_else(String::new, |k| format!("{k}="));
    let shown = show(v, 24);
    if v.is_empty() {
        bail!("layer '{layer}': {what} needs a value");
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        if v.starts_with('-') {
            bail!("layer '{layer}': {what}{shown}: sizes cannot be negative");
        }
        if v.parse::<f64>().is_ok() {
            bail!("layer '{layer}': {what}{shown} is not a whole number (sizes are whole numbers, like 10)");
        }
        bail!("layer '{layer}': {what}{shown} is not a whole number");
    }
    match v.parse::<u64>().ok().and_then(|n| usize::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => bail!(
            "layer '{layer}': {what}{shown} is too large (more than 2^64; the limit for a layer is {} units)",
            limits::group(limits::WIDTH.max)
        ),
    }
}

/// Reads the arguments of one layer against its parameters: positional values in order,
/// then `key=value`; each parameter at most once.
fn fill(layer: &str, kind: &str, args: &str, p: &Params) -> Result<Vec<usize>> {
    let mut got: Vec<Option<usize>> = vec![None; p.names.len()];
    let mut seen_key = false;
    let mut positional = 0usize;
    let items: Vec<&str> = args.split(',').map(str::trim).collect();
    if items.len() == 1 && items[0].is_empty() {
        // `layer()`
    } else {
        for a in &items {
            if a.is_empty() {
                bail!("layer '{layer}': empty argument (two commas in a row, or a trailing comma?)");
            }
            let (slot, key, v) = match a.split_once('=') {
                Some((k, v)) => {
                    let k = k.trim().to_ascii_lowercase();
                    let Some(slot) = p.names.iter().position(|(names, _)| names.contains(&k.as_str())) else {
                        let accepted: Vec<&str> = p.names.iter().map(|(n, _)| n[0]).collect();
                        bail!("layer '{layer}': unknown key '{}' (accepted: {})", show(&k, 24), accepted.join(", "));
                    };
                    seen_key = true;
                    (slot, Some(p.names[slot].0[0]), v.trim())
                }
                None => {
                    if seen_key {
                        bail!("layer '{layer}': a positional value cannot follow key=value arguments");
                    }
                    if positional >= p.names.len() {
                        let n = p.names.len();
                        bail!(
                            "layer '{layer}': {kind} takes at most {n} value{} ({})",
                            if n == 1 { "" } else { "s" },
                            p.names.iter().map(|(n, _)| n[0]).collect::<Vec<_>>().join(", ")
                        );
                    }
                    positional += 1;
                    (positional - 1, None, *a)
                }
            };
            let n = whole(layer, key, v)?;
            if got[slot].is_some() {
                bail!("layer '{layer}': {} is given twice", p.names[slot].0[0]);
            }
            got[slot] = Some(n);
        }
    }
    got.iter()
        .zip(p.names)
        .map(|(g, (names, def))| match g.or(*def) {
            Some(v) => Ok(v),
            None => bail!("layer '{layer}': needs {} (e.g. {kind}(10))", names[0]),
        })
        .collect()
}

fn parse_layer(text: &str) -> Result<LayerSpec> {
    let t = text.trim();
    let layer = show(t, SHOWN);
    let (name, args) = match t.find('(') {
        Some(i) => {
            let Some(close) = t[i..].find(')').map(|c| i + c) else { bail!("layer '{layer}': missing ')'") };
            if close + 1 != t.len() {
                bail!("layer '{layer}': unexpected text after ')'");
            }
            (t[..i].trim().to_ascii_lowercase(), Some(&t[i + 1..close]))
        }
        None => (t.to_ascii_lowercase(), None),
    };
    let no_args = |l: LayerSpec| -> Result<LayerSpec> {
        match args {
            Some(a) if !a.trim().is_empty() => bail!("layer '{layer}': {name} takes no arguments"),
            _ => Ok(l),
        }
    };
    let l = match name.as_str() {
        "linear" | "fc" | "dense" => {
            let v = fill(&layer, "linear", args.unwrap_or(""), &LINEAR)?;
            LayerSpec::Linear { out: v[0] }
        }
        "conv" | "conv2d" => {
            let v = fill(&layer, "conv", args.unwrap_or(""), &CONV)?;
            LayerSpec::Conv { out: v[0], k: v[1], stride: v[2], pad: v[3] }
        }
        "maxpool" | "maxpool2d" | "pool" => {
            let v = fill(&layer, "maxpool", args.unwrap_or(""), &POOL)?;
            LayerSpec::MaxPool { k: v[0] }
        }
        "relu" => no_args(LayerSpec::Relu)?,
        "tanh" => no_args(LayerSpec::Tanh)?,
        "sigmoid" => no_args(LayerSpec::Sigmoid)?,
        "flatten" => no_args(LayerSpec::Flatten)?,
        "" if args.is_none() => bail!("empty layer in the model spec (two commas in a row?)"),
        "" => bail!("layer '{layer}': a layer name is missing before '('"),
        other => bail!("unknown layer '{}' (layers: {LAYERS})", show(other, 24)),
    };
    let sizes: &[(&str, usize)] = match &l {
        LayerSpec::Linear { out } => &[("out", *out)],
        LayerSpec::Conv { out, k, stride, .. } => &[("out", *out), ("k", *k), ("s", *stride)],
        LayerSpec::MaxPool { k } => &[("k", *k)],
        _ => &[],
    };
    if let Some((key, _)) = sizes.iter().find(|(_, v)| *v == 0) {
        bail!("layer '{layer}': {key} must be at least 1");
    }
    Ok(l)
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
    if let Some((name, layers, _)) = NAMED.iter().find(|(n, _, _)| *n == lower) {
        let layers = split_top(layers)?.into_iter().map(parse_layer).collect::<Result<_>>()?;
        return Ok((name.to_string(), layers));
    }
    if !t.contains(['(', ',']) && !LAYER_NAMES.contains(&lower.as_str()) {
        let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
        bail!(
            "unknown model '{}' (named models: {}; or a layer list like \"conv(8,k=3,p=1),relu,maxpool(2),linear(10)\")",
            show(t, SHOWN),
            names.join(", ")
        );
    }
    let layers = split_top(t)?.into_iter().map(parse_layer).collect::<Result<Vec<_>>>()?;
    Ok((t.to_string(), layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        let e = parse(s).unwrap_err().to_string();
        assert!(!e.contains('\n') && e.len() < 300, "{e}");
        e
    }

    #[test]
    fn parses_named_and_custom_models() {
        let (_, l) = parse("cnn").unwrap();
        assert_eq!(l[0], LayerSpec::Conv { out: 3, k: 3, stride: 1, pad: 1 });
        assert_eq!(l[2], LayerSpec::MaxPool { k: 2 });
        let (_, l) = parse("conv(8,k=5,p=2,s=2), tanh, flatten, linear(32), sigmoid, linear(10)").unwrap();
        assert_eq!(l[0], LayerSpec::Conv { out: 8, k: 5, stride: 2, pad: 2 });
        assert_eq!(l.len(), 6);
        let (_, l) = parse("Conv(4, 5, 1, 2),ReLU(),MaxPool(kernel=3),Linear(out=10)").unwrap();
        assert_eq!(l[0], LayerSpec::Conv { out: 4, k: 5, stride: 1, pad: 2 });
        assert_eq!(l[1], LayerSpec::Relu);
        assert_eq!(l[2], LayerSpec::MaxPool { k: 3 });
        assert_eq!(l[3], LayerSpec::Linear { out: 10 });
    }

    #[test]
    fn every_layer_reads_back_from_its_display() {
        let (_, l) = parse("conv(8,k=5,p=2,s=2),relu,maxpool(3),tanh,flatten,sigmoid,linear(10)").unwrap();
        let text: Vec<String> = l.iter().map(|x| x.to_string()).collect();
        assert_eq!(parse(&text.join(",")).unwrap().1, l);
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
        assert!(err("conv(3,k=3,k=5)").contains("k is given twice"));
        assert!(err("conv(3,k=3,kernel=5)").contains("k is given twice"));
        assert!(err("conv(3,out=4)").contains("out is given twice"));
        assert!(err("conv(3,3,1,0,7)").contains("conv takes at most 4 values"));
        assert!(err("linear(10,20)").contains("linear takes at most 1 value"));
        assert!(err("maxpool(2,2)").contains("maxpool takes at most 1 value"));
        assert!(err("relu(3)").contains("relu takes no arguments"));
        assert!(err("conv(k=3,8)").contains("positional value cannot follow"));
        assert!(err("linear(10,)").contains("empty argument"));
        assert!(err("linear(out=)").contains("out= needs a value"));
    }

    #[test]
    fn negative_float_and_huge_sizes_are_one_line_errors() {
        assert!(err("linear(-3)").contains("sizes cannot be negative"));
        assert!(err("linear(2.5)").contains("sizes are whole numbers"));
        assert!(err("linear(1e3)").contains("sizes are whole numbers"));
        assert!(err("linear(18446744073709551616)").contains("too large"));
        let e = err(&format!("linear({})", "9".repeat(5000)));
        assert!(e.contains("too large") && e.len() < 300, "{e}");
        // 18446744073709551615 fits in 64 bits: refused by the limits when the model is built
        assert_eq!(parse("linear(18446744073709551615)").unwrap().1[0], LayerSpec::Linear { out: usize::MAX });
    }

    #[test]
    fn unbalanced_and_nested_parentheses_are_errors() {
        assert!(err("linear(10").contains("missing ')'"));
        assert!(err("linear(10))").contains("')' without '('"));
        assert!(err("linear((10))").contains("nested parentheses"));
        assert!(err("linear(10)x").contains("unexpected text after ')'"));
        assert!(err("(10)").contains("layer name is missing"));
        assert!(err("linear(10),,linear(10)").contains("empty layer"));
    }

    #[test]
    fn nesting_30000_deep_fails_cleanly_without_recursion() {
        let deep = format!("linear{}10{}", "(".repeat(30_000), ")".repeat(30_000));
        assert!(err(&deep).contains("too long"));
        let deep = format!("linear{}10{}", "(".repeat(4_000), ")".repeat(4_000));
        assert!(err(&deep).contains("nested parentheses"));
    }

    /// Found by fuzzing: a newline in the text was echoed into the message.
    #[test]
    fn control_characters_in_the_spec_stay_escaped_in_the_one_line_error() {
        let e = err("linear(10),li\nnear");
        assert!(e.contains("unknown layer 'li\\nnear'"), "{e}");
        assert!(err("linear(1\r0)").contains("1\\r0"));
        assert!(err("conv(3,q\n1=3)").contains("unknown key 'q\\n1'"));
    }

    #[test]
    fn long_specs_are_shortened_in_errors() {
        let e = err(&format!("linear(10),{}", "x".repeat(5000)));
        assert!(e.contains("unknown layer") && e.len() < 200, "{e}");
        let e = err(&"z".repeat(20_000));
        assert!(e.contains("too long") && e.len() < 200, "{e}");
    }
}
