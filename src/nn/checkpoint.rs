//! GPT checkpoints in safetensors (the `safetensors` crate): every parameter under its
//! PyTorch name as little-endian float32 in PyTorch's shape, plus `head.weight` (the head is
//! tied to `wte.weight`, and PyTorch's `state_dict()` lists the tied tensor under both
//! names), so `model.load_state_dict(safetensors.torch.load_file(path))` loads it into the
//! reference model. The header's metadata holds the model spec (`config`), the vocabulary
//! (`vocab`, a JSON string), and what made it (`optimizer`, `seed`, `step`, `format`).
//!
//! Reading checks everything before use: the file size, the header (by the crate), that
//! the format and config are optlab's, every tensor's presence, dtype and shape; a bad file
//! is a one-line error naming it, never a panic.

use super::gpt::{Gpt, GptConfig};
use crate::limits::Allow;
use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The `format` a checkpoint's metadata names.
pub const FORMAT: &str = "optlab-gpt-1";
/// The largest checkpoint read: 4 GiB.
pub const MAX_BYTES: u64 = 4 << 30;

/// What a checkpoint holds besides the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub vocab: Vec<char>,
    pub optimizer: String,
    pub seed: u64,
    pub step: usize,
}

/// The bytes of a checkpoint of `params` for `model`.
pub fn to_bytes(model: &Gpt, params: &[f32], meta: &Meta) -> Result<Vec<u8>> {
    assert_eq!(params.len(), model.n_params);
    let bytes: Vec<u8> = params.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut views = Vec::with_capacity(model.tensors().len() + 1);
    for t in model.tensors() {
        let data = &bytes[t.offset * 4..(t.offset + t.len()) * 4];
        views.push((t.name.clone(), TensorView::new(Dtype::F32, t.shape.clone(), data)?));
        if t.name == "wte.weight" {
            views.push(("head.weight".to_string(), TensorView::new(Dtype::F32, t.shape.clone(), data)?));
        }
    }
    let vocab: String = meta.vocab.iter().collect();
    let info = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("config".to_string(), model.cfg.canonical()),
        ("vocab".to_string(), serde_json::to_string(&vocab)?),
        ("optimizer".to_string(), meta.optimizer.clone()),
        ("seed".to_string(), meta.seed.to_string()),
        ("step".to_string(), meta.step.to_string()),
    ]);
    Ok(canonical_header(safetensors::serialize(views, Some(info))?))
}

/// The same file with its JSON header's keys in sorted order (the metadata is a hash map,
/// so the crate writes it in a different order every run): the same checkpoint is the same
/// bytes. The header stays padded with spaces to a multiple of 8 bytes, and the tensors'
/// offsets are relative to the data, so nothing else moves.
fn canonical_header(file: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&file[8..8 + n]) else { return file };
    // serde_json's maps are ordered by key
    let mut text = serde_json::to_vec(&header).expect("a JSON value serialises");
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + text.len() + file.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&file[8 + n..]);
    out
}

/// Reads a checkpoint: the model (built within the ordinary limits unless `allow.large`),
/// its parameters and metadata.
pub fn load(path: &Path, allow: Allow) -> Result<(Gpt, Vec<f32>, Meta)> {
    let shown = path.display();
    let f = std::fs::File::open(path).with_context(|| format!("checkpoint {shown}"))?;
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        bail!("checkpoint {shown}: not a regular file");
    }
    let mut buf = Vec::new();
    f.take(MAX_BYTES + 1).read_to_end(&mut buf).with_context(|| format!("checkpoint {shown}"))?;
    if buf.len() as u64 > MAX_BYTES {
        bail!("checkpoint {shown}: larger than 4 GiB");
    }
    from_bytes(&buf, allow).map_err(|e| anyhow::anyhow!("checkpoint {shown}: {e:#}"))
}

/// [`load`] from bytes.
pub fn from_bytes(buf: &[u8], allow: Allow) -> Result<(Gpt, Vec<f32>, Meta)> {
    let (_, header) = SafeTensors::read_metadata(buf).map_err(|e| anyhow::anyhow!("not a safetensors file ({e})"))?;
    let st = SafeTensors::deserialize(buf).map_err(|e| anyhow::anyhow!("not a safetensors file ({e})"))?;
    let info = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| info.get(k).with_context(|| format!("no '{k}' in its metadata (not an optlab GPT checkpoint)"));
    if get("format")? != FORMAT {
        bail!("format '{}' is not {FORMAT}", get("format")?);
    }
    let vocab: String = serde_json::from_str(get("vocab")?).context("its vocabulary is not a JSON string")?;
    let vocab: Vec<char> = vocab.chars().collect();
    if vocab.is_empty() || vocab.windows(2).any(|w| w[0] >= w[1]) {
        bail!("its vocabulary is empty or not sorted");
    }
    let cfg = GptConfig::parse(get("config")?, vocab.len())?;
    let model = Gpt::new(cfg, allow)?;
    let mut params = vec![0f32; model.n_params];
    for t in model.tensors() {
        let v = st.tensor(&t.name).map_err(|_| anyhow::anyhow!("tensor {} is missing", t.name))?;
        if v.dtype() != Dtype::F32 || v.shape() != t.shape.as_slice() {
            bail!("tensor {} is {:?} {:?}, not F32 {:?}", t.name, v.dtype(), v.shape(), t.shape);
        }
        for (o, c) in params[t.offset..t.offset + t.len()].iter_mut().zip(v.data().chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    let num = |k: &str| -> Result<u64> { get(k)?.parse().with_context(|| format!("'{k}' is not a number")) };
    let meta = Meta { vocab, optimizer: get("optimizer")?.clone(), seed: num("seed")?, step: num("step")? as usize };
    Ok((model, params, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Gpt {
        let cfg = GptConfig::parse("gpt(n_layer=1, n_head=2, n_embd=8, block_size=4)", 5).unwrap();
        Gpt::new(cfg, Allow::DEFAULT).unwrap()
    }

    #[test]
    fn a_checkpoint_reads_back_the_same_model_parameters_and_metadata() {
        let m = small();
        let p = m.init(3);
        let meta = Meta { vocab: "abcde".chars().collect(), optimizer: "adamw(lr=0.001)".into(), seed: 3, step: 7 };
        let bytes = to_bytes(&m, &p, &meta).unwrap();
        let (m2, p2, meta2) = from_bytes(&bytes, Allow::DEFAULT).unwrap();
        assert_eq!(m2.cfg, m.cfg);
        assert_eq!(p2, p);
        assert_eq!(meta2, meta);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("head.weight").unwrap().data(), st.tensor("wte.weight").unwrap().data());
    }

    #[test]
    fn the_same_checkpoint_is_the_same_bytes_with_an_aligned_header() {
        let m = small();
        let p = m.init(5);
        let meta = Meta { vocab: "abcde".chars().collect(), optimizer: "sgd".into(), seed: 5, step: 1 };
        let first = to_bytes(&m, &p, &meta).unwrap();
        // the metadata map iterates in a new order in every process and often within one
        for _ in 0..20 {
            assert_eq!(to_bytes(&m, &p, &meta).unwrap(), first);
        }
        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header = std::str::from_utf8(&first[8..8 + n]).unwrap();
        assert!(header.starts_with("{\"__metadata__\":{\"config\":"), "{header}");
    }

    #[test]
    fn damaged_checkpoints_are_errors_not_panics() {
        let m = small();
        let meta = Meta { vocab: "abcde".chars().collect(), optimizer: "sgd".into(), seed: 0, step: 1 };
        let good = to_bytes(&m, &m.init(0), &meta).unwrap();
        for cut in [0, 7, 8, 20, good.len() / 2, good.len() - 1] {
            assert!(from_bytes(&good[..cut], Allow::DEFAULT).is_err(), "cut at {cut}");
        }
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(from_bytes(&huge, Allow::DEFAULT).is_err());
        // a config over the limits is refused before anything is allocated
        let info = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("config".to_string(), "gpt(n_layer=1000, n_embd=60000, n_head=1)".to_string()),
            ("vocab".to_string(), "\"ab\"".to_string()),
        ]);
        let none: Vec<(String, TensorView)> = vec![];
        let bytes = safetensors::serialize(none, Some(info)).unwrap();
        let e = format!("{:#}", from_bytes(&bytes, Allow::DEFAULT).unwrap_err());
        assert!(e.contains("parameters") || e.contains("limit"), "{e}");
    }
}
