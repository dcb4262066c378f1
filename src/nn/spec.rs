//! Model specs: the seminar's `mlp`, `mlp-relu`, `cnn`, or a sequence of layers such as
//! `conv(8,k=3,p=1),relu,maxpool(2),linear(64),relu,linear(10)`.

use anyhow::{bail, Result};

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

/// The seminar's models.
pub const NAMED: &[(&str, &str, &str)] = &[
    ("mlp", "linear(64),linear(10)", "the seminar's MLP: Linear(784,64) → Linear(64,10) → LogSoftmax, with NO activation in between (so it is a linear model)"),
    ("mlp-relu", "linear(64),relu,linear(10)", "the MLP with a ReLU between its layers"),
    ("cnn", "conv(3,k=3,p=1),relu,maxpool(2),linear(10)", "the seminar's CNN: Conv2d(1,3,3,padding=1) → ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax"),
];

fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_layer(text: &str) -> Result<LayerSpec> {
    let t = text.trim();
    let (name, args) = match t.find('(') {
        Some(i) if t.ends_with(')') => (t[..i].trim().to_ascii_lowercase(), &t[i + 1..t.len() - 1]),
        Some(_) => bail!("layer '{t}': missing ')'"),
        None => (t.to_ascii_lowercase(), ""),
    };
    let mut pos: Vec<usize> = Vec::new();
    let mut kw: Vec<(String, usize)> = Vec::new();
    for a in args.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (Some(k.trim().to_ascii_lowercase()), v.trim()),
            None => (None, a),
        };
        let n: usize = v.parse().map_err(|_| anyhow::anyhow!("layer '{t}': '{v}' is not a whole number"))?;
        match k {
            Some(k) => kw.push((k, n)),
            None => pos.push(n),
        }
    }
    let get = |keys: &[&str], def: Option<usize>, idx: usize| -> Result<usize> {
        if let Some((_, v)) = kw.iter().find(|(k, _)| keys.contains(&k.as_str())) {
            return Ok(*v);
        }
        if let Some(v) = pos.get(idx) {
            return Ok(*v);
        }
        def.ok_or_else(|| anyhow::anyhow!("layer '{t}' needs {}", keys[0]))
    };
    let check_keys = |allowed: &[&str]| -> Result<()> {
        for (k, _) in &kw {
            if !allowed.contains(&k.as_str()) {
                bail!("layer '{t}': unknown key '{k}' (accepted: {})", allowed.join(", "));
            }
        }
        Ok(())
    };
    let l = match name.as_str() {
        "linear" | "fc" | "dense" => {
            check_keys(&["out"])?;
            LayerSpec::Linear { out: get(&["out"], None, 0)? }
        }
        "conv" | "conv2d" => {
            check_keys(&["out", "k", "kernel", "s", "stride", "p", "padding"])?;
            LayerSpec::Conv {
                out: get(&["out"], None, 0)?,
                k: get(&["k", "kernel"], Some(3), 1)?,
                stride: get(&["s", "stride"], Some(1), 2)?,
                pad: get(&["p", "padding"], Some(0), 3)?,
            }
        }
        "relu" => LayerSpec::Relu,
        "tanh" => LayerSpec::Tanh,
        "sigmoid" => LayerSpec::Sigmoid,
        "flatten" => LayerSpec::Flatten,
        "maxpool" | "maxpool2d" | "pool" => {
            check_keys(&["k", "kernel"])?;
            LayerSpec::MaxPool { k: get(&["k", "kernel"], Some(2), 0)? }
        }
        "" => bail!("empty layer in the model spec (two commas in a row?)"),
        other => bail!("unknown layer '{other}' (layers: linear, conv, relu, tanh, sigmoid, maxpool, flatten)"),
    };
    for v in match &l {
        LayerSpec::Linear { out } => vec![*out],
        LayerSpec::Conv { out, k, stride, .. } => vec![*out, *k, *stride],
        LayerSpec::MaxPool { k } => vec![*k],
        _ => vec![],
    } {
        if v == 0 {
            bail!("layer '{t}': sizes must be at least 1");
        }
    }
    Ok(l)
}

/// Parses a model name or a layer list.
pub fn parse(text: &str) -> Result<(String, Vec<LayerSpec>)> {
    let t = text.trim();
    if let Some((name, layers, _)) = NAMED.iter().find(|(n, _, _)| *n == t.to_ascii_lowercase()) {
        return Ok((name.to_string(), split_top(layers).into_iter().map(parse_layer).collect::<Result<_>>()?));
    }
    if !t.contains(['(', ',']) && !["relu", "tanh", "sigmoid", "flatten"].contains(&t) {
        let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
        bail!("unknown model '{t}' (named models: {}; or a layer list like \"conv(8,k=3,p=1),relu,maxpool(2),linear(10)\")", names.join(", "));
    }
    let layers = split_top(t).into_iter().map(parse_layer).collect::<Result<Vec<_>>>()?;
    Ok((t.to_string(), layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_and_custom_models() {
        let (_, l) = parse("cnn").unwrap();
        assert_eq!(l[0], LayerSpec::Conv { out: 3, k: 3, stride: 1, pad: 1 });
        assert_eq!(l[2], LayerSpec::MaxPool { k: 2 });
        let (_, l) = parse("conv(8,k=5,p=2,s=2), tanh, flatten, linear(32), sigmoid, linear(10)").unwrap();
        assert_eq!(l[0], LayerSpec::Conv { out: 8, k: 5, stride: 2, pad: 2 });
        assert_eq!(l.len(), 6);
    }

    #[test]
    fn bad_models_say_what_is_wrong() {
        assert!(parse("resnet").unwrap_err().to_string().contains("unknown model 'resnet'"));
        assert!(parse("linear(64),softmax").unwrap_err().to_string().contains("unknown layer 'softmax'"));
        assert!(parse("conv(8,q=3)").unwrap_err().to_string().contains("unknown key 'q'"));
        assert!(parse("linear(x)").unwrap_err().to_string().contains("not a whole number"));
        assert!(parse("linear(0),linear(10)").unwrap_err().to_string().contains("at least 1"));
    }
}
