//! The query string of a request: `key=value` pairs, percent-decoded (`+` is a space).

/// Decoded pairs in order; keys may repeat (`optimizer=...&optimizer=...`).
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // exactly two hex digits (from_str_radix alone would take a sign: `%+9`)
                let digit = |j: usize| b.get(j).and_then(|&c| (c as char).to_digit(16));
                match (digit(i + 1), digit(i + 2)) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(format!("malformed percent-encoding in '{}'", crate::limits::shorten(s, 80))),
                }
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' is not UTF-8 once decoded"))
}

impl Query {
    pub fn parse(q: &str) -> Result<Query, String> {
        let mut pairs = Vec::new();
        for part in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Query { pairs })
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// Refuses keys the endpoint does not know (a typo should not silently fall back).
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(format!("unknown parameter '{k}' (this endpoint takes: {})", known.join(", "))),
            None => Ok(()),
        }
    }

    /// A whole number in `range`, or `default` when absent.
    pub fn count(&self, key: &str, default: usize, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
        let Some(v) = self.get(key) else { return Ok(default) };
        let short = crate::limits::shorten(v, 40);
        if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("{key} '{short}' is not a whole number"));
        }
        let n: usize = v.parse().map_err(|_| format!("{key} '{short}' is out of range"))?;
        if !range.contains(&n) {
            return Err(format!("{key} {n} is out of range: use {} to {}", range.start(), range.end()));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let q = Query::parse("function=x%5E2+%2B+y&optimizer=adam(lr%3D0.1)&optimizer=gd&steps=5").unwrap();
        assert_eq!(q.get("function"), Some("x^2 + y"));
        assert_eq!(q.all("optimizer"), vec!["adam(lr=0.1)".to_string(), "gd".to_string()]);
        assert_eq!(q.count("steps", 1, 1..=10).unwrap(), 5);
        assert!(q.count("steps", 1, 1..=4).is_err());
        assert!(Query::parse("a=%zz").is_err());
        assert!(Query::parse("a=%e2%82").is_err());
        // a sign is not a hex digit, nor is a space
        for bad in ["a=%+9", "a=%-1", "a=%+f", "a=% 9", "a=%9", "a=%"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
        let q = Query::parse("steps=+5&grid=%205").unwrap();
        assert!(q.count("steps", 1, 1..=10).is_err());
        assert!(q.count("grid", 1, 1..=10).is_err());
    }
}
