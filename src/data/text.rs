//! Character-level text for language models: tiny Shakespeare (Karpathy's char-rnn file,
//! 1,115,394 bytes, shipped gzipped inside the binary), or any UTF-8 file (`--text FILE`).
//!
//! As nanoGPT's `shakespeare_char/prepare.py`: the vocabulary is the sorted set of the
//! file's characters (Unicode scalar values), a token is a character's index in it, the
//! first 90% of the tokens train and the rest validate. Batches are windows of `t + 1`
//! tokens at offsets drawn from a seed (`x` = the first t, `y` = the next t), so every
//! optimizer of a run sees the same windows.

use anyhow::{bail, Context, Result};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Read;
use std::path::Path;

/// The largest text file read (`--text`): 512 MiB.
pub const MAX_TEXT_BYTES: u64 = 512 << 20;
/// The largest vocabulary: 65,536 distinct characters.
pub const MAX_VOCAB: usize = 1 << 16;

/// A tokenised text split for training and validation.
#[derive(Clone, Debug)]
pub struct TextData {
    /// `shakespeare-char` or the file's name.
    pub name: String,
    /// Where it came from (for records).
    pub source: String,
    /// The vocabulary, sorted; token i is `vocab[i]`.
    pub vocab: Vec<char>,
    pub train: Vec<u32>,
    pub val: Vec<u32>,
}

/// Which split a batch comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Train,
    Val,
}

impl TextData {
    /// Tokenises `text`, refusing an empty text, and splits it 90/10.
    pub fn from_text(name: &str, source: &str, text: &str) -> Result<TextData> {
        if text.is_empty() {
            bail!("{source}: the text is empty");
        }
        // a BTreeSet iterates in order: the vocabulary comes out sorted
        let vocab: Vec<char> = text.chars().collect::<std::collections::BTreeSet<char>>().into_iter().collect();
        if vocab.len() > MAX_VOCAB {
            bail!("{source}: {} distinct characters, more than the {MAX_VOCAB} a vocabulary may hold", vocab.len());
        }
        let tokens: Vec<u32> =
            text.chars().map(|c| vocab.binary_search(&c).expect("in the vocabulary") as u32).collect();
        // nanoGPT: n = len(data); train = data[:int(n*0.9)]
        let n_train = (tokens.len() as f64 * 0.9) as usize;
        let val = tokens[n_train..].to_vec();
        let mut train = tokens;
        train.truncate(n_train);
        Ok(TextData { name: name.into(), source: source.into(), vocab, train, val })
    }

    /// Tiny Shakespeare from the copy inside the binary.
    pub fn shakespeare() -> Result<TextData> {
        let gz: &[u8] = include_bytes!("../../assets/tinyshakespeare/input.txt.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz).read_to_string(&mut text).context("the embedded tiny Shakespeare")?;
        TextData::from_text("shakespeare-char", "embedded tiny Shakespeare (1,115,394 characters)", &text)
    }

    /// A UTF-8 text file; a missing, unreadable, binary (NUL bytes), non-UTF-8, empty or
    /// oversized file is a one-line error naming it.
    pub fn from_file(path: &Path) -> Result<TextData> {
        let shown = path.display();
        let meta = std::fs::metadata(path).with_context(|| format!("--text {shown}"))?;
        if !meta.is_file() {
            bail!("--text {shown}: not a regular file");
        }
        let f = std::fs::File::open(path).with_context(|| format!("--text {shown}"))?;
        let mut bytes = Vec::new();
        f.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("--text {shown}"))?;
        if bytes.len() as u64 > MAX_TEXT_BYTES {
            bail!("--text {shown}: larger than {} MiB", MAX_TEXT_BYTES >> 20);
        }
        if bytes.is_empty() {
            bail!("--text {shown}: the file is empty");
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            bail!("--text {shown}: a binary file (a NUL byte at offset {at}), not text");
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!("--text {shown}: not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
        })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "text".into());
        TextData::from_text(&name, &shown.to_string(), &text)
    }

    /// Loads a dataset by name (`shakespeare-char`) or the file of `--text`.
    pub fn load(dataset: &str, text: Option<&Path>) -> Result<TextData> {
        match text {
            Some(p) => TextData::from_file(p),
            None if dataset == "shakespeare-char" => TextData::shakespeare(),
            None => bail!(
                "--dataset {dataset}: not a text dataset (the text dataset is shakespeare-char, or give --text FILE)"
            ),
        }
    }

    /// Checks that both splits hold at least one window of `t + 1` tokens.
    pub fn check_windows(&self, t: usize) -> Result<(), String> {
        for (what, s) in [("training", &self.train), ("validation", &self.val)] {
            if s.len() < t + 1 {
                return Err(format!(
                    "{}: the {what} split holds {} characters, too short for windows of {} (block_size {t} + 1); the text needs at least {} characters",
                    self.source,
                    s.len(),
                    t + 1,
                    (t + 1) * 10
                ));
            }
        }
        Ok(())
    }

    pub fn split(&self, part: Part) -> &[u32] {
        match part {
            Part::Train => &self.train,
            Part::Val => &self.val,
        }
    }

    /// Writes `n` windows of `t` tokens into `x` and their next tokens into `y`, at offsets
    /// drawn uniformly from `[0, len − t − 1]` by ChaCha8 seeded from (`seed`, `stream`):
    /// the same windows for the same seed and stream on every machine.
    #[allow(clippy::too_many_arguments)]
    pub fn batch(&self, part: Part, seed: u64, stream: u64, n: usize, t: usize, x: &mut [u32], y: &mut [u32]) {
        let s = self.split(part);
        let span = (s.len() - t) as u64; // offsets 0 ..= len − t − 1
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_add(1));
        for b in 0..n {
            let o = (rng.next_u64() % span) as usize;
            x[b * t..(b + 1) * t].copy_from_slice(&s[o..o + t]);
            y[b * t..(b + 1) * t].copy_from_slice(&s[o + 1..o + 1 + t]);
        }
    }

    /// The tokens of `s`, or the first character outside the vocabulary.
    pub fn encode(&self, s: &str) -> Result<Vec<u32>, char> {
        s.chars().map(|c| self.vocab.binary_search(&c).map(|i| i as u32).map_err(|_| c)).collect()
    }

    pub fn decode(&self, tokens: &[u32]) -> String {
        tokens.iter().map(|&t| self.vocab[t as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shakespeare_has_nanogpts_vocabulary_and_split() {
        let d = TextData::shakespeare().unwrap();
        assert_eq!(d.vocab.len(), 65);
        assert_eq!(
            d.vocab.iter().collect::<String>(),
            "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        );
        assert_eq!(d.train.len(), 1_003_854);
        assert_eq!(d.val.len(), 111_540);
        assert_eq!(d.decode(&d.train[..14]), "First Citizen:");
    }

    #[test]
    fn windows_are_the_next_tokens_and_repeat_for_a_seed() {
        let d = TextData::from_text("t", "t", &"abcdefghij".repeat(20)).unwrap();
        let (mut x, mut y) = (vec![0; 3 * 5], vec![0; 3 * 5]);
        d.batch(Part::Train, 7, 3, 3, 5, &mut x, &mut y);
        for b in 0..3 {
            assert_eq!((x[b * 5] + 1) % 10, y[b * 5]);
            assert_eq!(&x[b * 5 + 1..b * 5 + 5], &y[b * 5..b * 5 + 4]);
        }
        let (mut x2, mut y2) = (vec![0; 15], vec![0; 15]);
        d.batch(Part::Train, 7, 3, 3, 5, &mut x2, &mut y2);
        assert_eq!((x, y), (x2, y2));
    }

    #[test]
    fn bad_text_files_are_one_line_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("optlab-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes, says) in [
            ("empty.txt", &b""[..], "empty"),
            ("bin.dat", &b"ab\0cd"[..], "binary"),
            ("latin1.txt", &b"caf\xe9"[..], "not UTF-8"),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = format!("{:#}", TextData::from_file(&p).unwrap_err());
            assert!(e.contains(name) && e.contains(says) && !e.contains('\n'), "{e}");
        }
        let e = format!("{:#}", TextData::from_file(&dir.join("missing.txt")).unwrap_err());
        assert!(e.contains("missing.txt"), "{e}");
        let short = TextData::from_text("s", "short.txt", "hello world").unwrap();
        assert!(short.check_windows(64).unwrap_err().contains("too short"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn prompts_outside_the_vocabulary_name_the_character() {
        let d = TextData::from_text("t", "t", "abc").unwrap();
        assert_eq!(d.encode("cab"), Ok(vec![2, 0, 1]));
        assert_eq!(d.encode("abz"), Err('z'));
    }
}
