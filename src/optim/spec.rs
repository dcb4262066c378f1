//! Spec strings with PyTorch's names: an optimizer, optionally followed by modifiers
//! (schedulers, gradient clipping) joined with `|`:
//!
//! ```text
//! adam
//! adam(lr=0.1, betas=(0.8, 0.99), amsgrad=true)
//! sgd(lr=0.1, momentum=0.9) | MultiStepLR(milestones=[20, 60], gamma=0.3) | clip_grad_norm(max_norm=1.0)
//! muon(lr=0.02, fallback=adamw(lr=1e-3))
//! lbfgs(lr=1, line_search_fn="strong_wolfe")
//! ```
//!
//! Values are numbers, `true`/`false` (Python's `True`/`False` too), `None`, strings in
//! single or double quotes, tuples `(a, b)`, lists `[a, b]`, and nested specs. Names and
//! keys are matched without regard to case. This module only reads the text; what a name
//! or key means is the business of [`super::schema`].

use std::fmt;
use std::ops::Range;

/// Nesting deeper than this is refused (it is never needed, and it bounds the recursion).
pub const MAX_DEPTH: usize = 16;

/// A value in a spec.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Bool(bool),
    Str(String),
    /// Python's `None`.
    None,
    /// `(a, b, ...)`
    Tuple(Vec<Value>),
    /// `[a, b, ...]`
    List(Vec<Value>),
    /// A nested spec, e.g. `adamw(lr=1e-3)` or `LinearLR(start_factor=0.1)`.
    Call(Spec),
}

/// One argument: `key=value`, or a positional value (`key` is `None`).
#[derive(Clone, Debug)]
pub struct Arg {
    pub key: Option<String>,
    pub value: Value,
    /// Where the argument stands in the text (for error carets).
    pub span: Range<usize>,
}

/// Arguments are equal when they say the same thing, wherever they stand in the text.
impl PartialEq for Arg {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// A parsed (not yet validated) spec: `name(args)`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The text of this spec alone.
    pub text: String,
    /// The name, lower-cased.
    pub name: String,
    pub name_span: Range<usize>,
    pub args: Vec<Arg>,
}

/// Specs are equal when they have the same name and arguments, however they are spaced and
/// wherever they stand (a nested spec read from a default or from a canonical spec).
impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.args == other.args
    }
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

    /// The text with a caret line under the fault (when the error has a position).
    pub fn caret(&self, text: &str) -> Option<String> {
        if self.span.is_empty() || self.span.start > text.len() {
            return None;
        }
        let pad = text[..self.span.start].chars().count();
        let width = text.get(self.span.clone()).map_or(1, |s| s.chars().count().max(1));
        Some(format!("{text}\n{}{}", " ".repeat(pad), "^".repeat(width)))
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

/// The user's text for a message: control characters escaped (so the message stays on one
/// line), cut after `max` characters.
fn shown(text: &str, max: usize) -> String {
    let mut s = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            s.push('…');
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
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
    fn error_here(&self, msg: String) -> SpecError {
        let found = match self.s[self.pos..].chars().next() {
            Some(c) => format!("'{}'", shown(c.encode_utf8(&mut [0; 4]), 1)),
            None => "the end".to_string(),
        };
        let end = self.s[self.pos..].chars().next().map_or(self.pos + 1, |c| self.pos + c.len_utf8());
        SpecError::new(format!("{msg} at position {} but found {found}", self.pos + 1), self.pos..end)
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
        while self.pos < b.len() && !matches!(b[self.pos], b',' | b')' | b'(' | b'[' | b']' | b'|' | b'=') {
            self.pos += 1;
        }
        let text = self.s[start..self.pos].trim();
        let shown = shown(text, 24);
        text.parse::<f64>().map_err(|_| {
            SpecError::new(
                format!("'{shown}' is not a number (write e.g. 0.01 or 1e-3)"),
                start..self.pos.max(start + 1),
            )
        })
    }
    fn string(&mut self, quote: u8) -> Result<Value, SpecError> {
        let start = self.pos;
        self.pos += 1;
        match self.s[self.pos..].find(quote as char) {
            Some(len) => {
                let v = self.s[self.pos..self.pos + len].to_string();
                self.pos += len + 1;
                Ok(Value::Str(v))
            }
            None => Err(SpecError::new("unterminated string (close it with the same quote)", start..start + 1)),
        }
    }
    fn seq(&mut self, close: u8) -> Result<Vec<Value>, SpecError> {
        self.pos += 1;
        let mut items = Vec::new();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(items);
                    }
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error_here(format!("expected ',' or '{}'", close as char))),
            }
        }
    }
    fn value(&mut self) -> Result<Value, SpecError> {
        if self.depth >= MAX_DEPTH {
            return Err(SpecError::new(format!("nested deeper than {MAX_DEPTH} levels"), self.pos..self.pos + 1));
        }
        self.depth += 1;
        let v = self.value_inner();
        self.depth -= 1;
        v
    }
    fn value_inner(&mut self) -> Result<Value, SpecError> {
        match self.peek() {
            Some(b'(') => Ok(Value::Tuple(self.seq(b')')?)),
            Some(b'[') => Ok(Value::List(self.seq(b']')?)),
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(c) if c.is_ascii_alphabetic() => {
                let save = self.pos;
                let (word, _) = self.ident()?;
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "none" => Ok(Value::None),
                    "inf" | "nan" | "infinity" => {
                        self.pos = save;
                        Ok(Value::Num(self.number()?))
                    }
                    _ => {
                        self.pos = save;
                        Ok(Value::Call(self.call()?))
                    }
                }
            }
            _ => Ok(Value::Num(self.number()?)),
        }
    }
    /// `name` or `name(args)`.
    fn call(&mut self) -> Result<Spec, SpecError> {
        let (name, name_span) = self.ident()?;
        let start = name_span.start;
        let mut args: Vec<Arg> = Vec::new();
        if self.peek() == Some(b'(') {
            self.pos += 1;
            if self.peek() == Some(b')') {
                self.pos += 1;
            } else {
                loop {
                    self.skip_ws();
                    let arg_start = self.pos;
                    // `key=value` or a positional value
                    let save = self.pos;
                    let key = match self.ident() {
                        Ok((k, _)) if self.peek() == Some(b'=') => {
                            self.pos += 1;
                            Some(k)
                        }
                        _ => {
                            self.pos = save;
                            None
                        }
                    };
                    if key.is_none() && args.iter().any(|a| a.key.is_some()) {
                        return Err(SpecError::new(
                            "a positional value cannot follow key=value arguments",
                            arg_start..arg_start + 1,
                        ));
                    }
                    let value = self.value()?;
                    let span = arg_start..self.pos;
                    if let Some(k) = &key {
                        if args.iter().any(|a| a.key.as_ref() == Some(k)) {
                            return Err(SpecError::new(format!("'{k}' is given twice"), span));
                        }
                    }
                    args.push(Arg { key, value, span });
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            if self.peek() == Some(b')') {
                                self.pos += 1;
                                break;
                            }
                        }
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error_here("expected ',' or ')'".into())),
                    }
                }
            }
        }
        Ok(Spec { text: self.s[start..self.pos].to_string(), name, name_span, args })
    }
}

impl Spec {
    /// A spec with a name and no arguments.
    pub fn bare(name: &str) -> Spec {
        Spec { text: name.into(), name: name.to_ascii_lowercase(), name_span: 0..name.len(), args: vec![] }
    }

    /// Parses one `name` or `name(key=value, ...)` (no `|` modifiers).
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let mut lx = Lexer { s: text, pos: 0, depth: 0 };
        let spec = lx.call()?;
        if lx.peek().is_some() {
            return Err(lx.error_here("unexpected text after the spec".into()));
        }
        Ok(spec)
    }

    /// Parses `spec | modifier | modifier ...`; spans refer to the whole text.
    pub fn parse_pipeline(text: &str) -> Result<Vec<Spec>, SpecError> {
        let mut lx = Lexer { s: text, pos: 0, depth: 0 };
        let mut out = vec![lx.call()?];
        loop {
            match lx.peek() {
                None => return Ok(out),
                Some(b'|') => {
                    lx.pos += 1;
                    out.push(lx.call()?);
                }
                Some(_) => return Err(lx.error_here("expected '|' or the end of the spec".into())),
            }
        }
    }

    /// Parses `spec, spec, ...` (a model's layer list); spans refer to the whole text.
    pub fn parse_list(text: &str) -> Result<Vec<Spec>, SpecError> {
        let mut lx = Lexer { s: text, pos: 0, depth: 0 };
        let mut out = vec![lx.call()?];
        loop {
            match lx.peek() {
                None => return Ok(out),
                Some(b',') => {
                    lx.pos += 1;
                    out.push(lx.call()?);
                }
                Some(_) => return Err(lx.error_here("expected ',' or the end of the list".into())),
            }
        }
    }

    /// The value given for `key` (case-insensitive), if any.
    pub fn get(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key)))
    }
}

impl fmt::Display for Value {
    /// Writes the value the way a spec spells it (reads back to the same value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, items: &[Value]) -> fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        }
        match self {
            Value::Num(v) => f.write_str(&super::fmt_num(*v)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "\"{s}\""),
            Value::None => f.write_str("None"),
            Value::Tuple(items) => {
                f.write_str("(")?;
                join(f, items)?;
                f.write_str(")")
            }
            Value::List(items) => {
                f.write_str("[")?;
                join(f, items)?;
                f.write_str("]")
            }
            Value::Call(spec) => f.write_str(&spec.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_bools_tuples_lists_strings_and_nested_specs() {
        let s = Spec::parse("Adam(lr=0.1, betas=(0.8, 0.99), amsgrad=true)").unwrap();
        assert_eq!(s.name, "adam");
        assert_eq!(s.args[0].value, Value::Num(0.1));
        assert_eq!(s.args[1].value, Value::Tuple(vec![Value::Num(0.8), Value::Num(0.99)]));
        assert_eq!(s.args[2].value, Value::Bool(true));
        assert!(Spec::parse("adam()").unwrap().args.is_empty());
        let s = Spec::parse("lbfgs(line_search_fn=\"strong_wolfe\", x=None, m=[20, 60])").unwrap();
        assert_eq!(s.args[0].value, Value::Str("strong_wolfe".into()));
        assert_eq!(s.args[1].value, Value::None);
        assert_eq!(s.args[2].value, Value::List(vec![Value::Num(20.0), Value::Num(60.0)]));
        let s = Spec::parse("muon(fallback=adamw(lr=1e-3))").unwrap();
        match &s.args[0].value {
            Value::Call(inner) => {
                assert_eq!(inner.name, "adamw");
                assert_eq!(inner.text, "adamw(lr=1e-3)");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pipelines_split_at_bars_with_spans_into_the_whole_text() {
        let text = "adam(lr=0.05) | CosineAnnealingLR(T_max=150) | clip_grad_norm(1.0)";
        let p = Spec::parse_pipeline(text).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].name, "cosineannealinglr");
        assert_eq!(&text[p[1].name_span.clone()], "CosineAnnealingLR");
        assert_eq!(p[2].args[0].key, None);
        let e = Spec::parse_pipeline("adam | ").unwrap_err();
        assert!(e.message.contains("expected a name"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = Spec::parse("adam(lr=0.1").unwrap_err();
        assert!(e.message.contains("expected ',' or ')'"), "{}", e.message);
        let e = Spec::parse("adam(lr=1, lr=2)").unwrap_err();
        assert!(e.message.contains("given twice"), "{}", e.message);
        let e = Spec::parse("adam(lr=1) x").unwrap_err();
        assert!(e.message.contains("unexpected text"), "{}", e.message);
        let e = Spec::parse("adam(lr=0.1x)").unwrap_err();
        assert_eq!(e.caret("adam(lr=0.1x)").unwrap(), "adam(lr=0.1x)\n        ^^^^");
        let e = Spec::parse("a(x=\"abc)").unwrap_err();
        assert!(e.message.contains("unterminated string"), "{}", e.message);
    }

    /// Found by fuzzing: a newline inside a number was echoed into the one-line message.
    #[test]
    fn control_characters_stay_escaped_in_messages() {
        let e = Spec::parse("adam(lr=0.1\n\n x)").unwrap_err();
        assert_eq!(e.message, "'0.1\\n\\n x' is not a number (write e.g. 0.01 or 1e-3)");
        let e = Spec::parse("adam(lr=1)\u{b}").unwrap_err();
        assert!(e.message.contains("found '\\u{b}'"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("adam(x={}1{})", "(".repeat(10_000), ")".repeat(10_000));
        let e = Spec::parse(&text).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{}", e.message);
    }
}
