//! Optimizer spec strings with PyTorch's keyword names:
//! `adam`, `adam(lr=0.1)`, `sgd(lr=0.1, momentum=0.9, nesterov=true)`,
//! `adam(lr=0.1, betas=(0.8, 0.99), amsgrad=true)`.

use std::fmt;
use std::ops::Range;

/// A value in a spec: a number, a boolean or a pair of numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Bool(bool),
    Pair(f64, f64),
}

/// A parsed (not yet validated) spec.
#[derive(Clone, Debug)]
pub struct Spec {
    pub text: String,
    pub name: String,
    pub name_span: Range<usize>,
    pub args: Vec<(String, Value, Range<usize>)>,
}

/// What is wrong with a spec, and where (byte range in the text; empty when it is about
/// the whole spec).
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    pub message: String,
    pub span: Range<usize>,
}

impl SpecError {
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        SpecError { message: message.into(), span }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.as_bytes().get(self.pos).copied()
    }
    fn expect(&mut self, c: u8, what: &str) -> Result<(), SpecError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_here(format!("expected {what}")))
        }
    }
    fn error_here(&self, msg: String) -> SpecError {
        let found = match self.s[self.pos..].chars().next() {
            Some(c) => format!("'{c}'"),
            None => "the end".to_string(),
        };
        SpecError::new(format!("{msg} at position {} but found {found}", self.pos + 1), self.pos..self.pos + 1)
    }
    fn ident(&mut self) -> Result<(String, Range<usize>), SpecError> {
        self.skip_ws();
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && (b[self.pos].is_ascii_alphanumeric() || b[self.pos] == b'_' || b[self.pos] == b'-')
        {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error_here("expected a name".into()));
        }
        Ok((self.s[start..self.pos].to_ascii_lowercase(), start..self.pos))
    }
    fn number(&mut self) -> Result<f64, SpecError> {
        self.skip_ws();
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && !matches!(b[self.pos], b',' | b')' | b'(') {
            self.pos += 1;
        }
        let text = self.s[start..self.pos].trim();
        text.parse::<f64>()
            .map_err(|_| SpecError::new(format!("'{text}' is not a number (write e.g. 0.01 or 1e-3)"), start..self.pos))
    }
    fn value(&mut self) -> Result<Value, SpecError> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let a = self.number()?;
                self.expect(b',', "',' between the two numbers of a pair")?;
                let b = self.number()?;
                self.expect(b')', "')' closing the pair")?;
                Ok(Value::Pair(a, b))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let save = self.pos;
                let (word, span) = self.ident()?;
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "inf" | "nan" | "infinity" => {
                        self.pos = save;
                        Ok(Value::Num(self.number()?))
                    }
                    _ => Err(SpecError::new(
                        format!("'{word}' is not a value (use a number, true/false, or a pair like (0.9, 0.999))"),
                        span,
                    )),
                }
            }
            _ => Ok(Value::Num(self.number()?)),
        }
    }
}

impl Spec {
    /// A spec with a name and no arguments.
    pub fn bare(name: &str) -> Spec {
        Spec { text: name.into(), name: name.into(), name_span: 0..name.len(), args: vec![] }
    }

    /// Parses `name` or `name(key=value, ...)`.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let mut lx = Lexer { s: text, pos: 0 };
        let (name, name_span) = lx.ident()?;
        let mut args: Vec<(String, Value, Range<usize>)> = Vec::new();
        if lx.peek() == Some(b'(') {
            lx.pos += 1;
            if lx.peek() == Some(b')') {
                lx.pos += 1;
            } else {
                loop {
                    let (key, kspan) = lx.ident()?;
                    lx.expect(b'=', &format!("'=' after '{key}'"))?;
                    let v = lx.value()?;
                    let span = kspan.start..lx.pos;
                    if args.iter().any(|(k, _, _)| *k == key) {
                        return Err(SpecError::new(format!("'{key}' is given twice"), span));
                    }
                    args.push((key, v, span));
                    match lx.peek() {
                        Some(b',') => lx.pos += 1,
                        Some(b')') => {
                            lx.pos += 1;
                            break;
                        }
                        _ => return Err(lx.error_here("expected ',' or ')'".into())),
                    }
                }
            }
        }
        if lx.peek().is_some() {
            return Err(lx.error_here("unexpected text after the spec".into()));
        }
        Ok(Spec { text: text.to_string(), name, name_span, args })
    }

    /// Checks that every key is one of `allowed`; returns an accessor for the values.
    pub fn args(&self, allowed: &[&str]) -> Result<Args<'_>, SpecError> {
        for (k, _, span) in &self.args {
            if !allowed.contains(&k.as_str()) {
                return Err(SpecError::new(
                    format!("unknown key '{k}' for {} (accepted: {})", self.name, allowed.join(", ")),
                    span.clone(),
                ));
            }
        }
        Ok(Args { spec: self })
    }
}

/// Typed access to a spec's arguments, falling back to defaults.
pub struct Args<'a> {
    spec: &'a Spec,
}

impl Args<'_> {
    fn get(&self, key: &str) -> Option<&(String, Value, Range<usize>)> {
        self.spec.args.iter().find(|(k, _, _)| k == key)
    }
    fn wrong(&self, key: &str, want: &str, span: &Range<usize>) -> SpecError {
        SpecError::new(format!("{key} of {} takes {want}", self.spec.name), span.clone())
    }
    /// A number (booleans count as 0/1, as in Python).
    pub fn num(&self, key: &str, default: f64) -> Result<f64, SpecError> {
        match self.get(key) {
            None => Ok(default),
            Some((_, Value::Num(v), _)) => Ok(*v),
            Some((_, _, span)) => Err(self.wrong(key, "a number", span)),
        }
    }
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, SpecError> {
        match self.get(key) {
            None => Ok(default),
            Some((_, Value::Bool(v), _)) => Ok(*v),
            Some((_, Value::Num(v), _)) if *v == 0.0 || *v == 1.0 => Ok(*v == 1.0),
            Some((_, _, span)) => Err(self.wrong(key, "true or false", span)),
        }
    }
    pub fn pair(&self, key: &str, default: (f64, f64)) -> Result<(f64, f64), SpecError> {
        match self.get(key) {
            None => Ok(default),
            Some((_, Value::Pair(a, b), _)) => Ok((*a, *b)),
            Some((_, _, span)) => Err(self.wrong(key, "a pair like (0.9, 0.999)", span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_numbers_bools_and_pairs() {
        let s = Spec::parse("Adam(lr=0.1, betas=(0.8, 0.99), amsgrad=true)").unwrap();
        assert_eq!(s.name, "adam");
        assert_eq!(s.args[0].1, Value::Num(0.1));
        assert_eq!(s.args[1].1, Value::Pair(0.8, 0.99));
        assert_eq!(s.args[2].1, Value::Bool(true));
        assert!(Spec::parse("adam()").unwrap().args.is_empty());
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = Spec::parse("adam(lr=0.1").unwrap_err();
        assert!(e.message.contains("expected ',' or ')'"), "{}", e.message);
        let e = Spec::parse("adam(lr=abc)").unwrap_err();
        assert!(e.message.contains("'abc' is not a value"), "{}", e.message);
        let e = Spec::parse("adam(lr=1, lr=2)").unwrap_err();
        assert!(e.message.contains("given twice"), "{}", e.message);
        let e = Spec::parse("adam(lr=1) x").unwrap_err();
        assert!(e.message.contains("unexpected text"), "{}", e.message);
    }
}
