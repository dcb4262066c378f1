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
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => out.push(v),
                    None => return Err(format!("malformed percent-encoding in '{s}'")),
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
        let n: usize = v.trim().parse().map_err(|_| format!("{key} '{v}' is not a whole number"))?;
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
    }
}
