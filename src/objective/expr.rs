//! Functions typed on the command line: `x^2*sin(x)/10 + y^2*cos(y)/10`.
//!
//! Grammar: `+ - * / ^ **`, unary minus, parentheses, the functions
//! `sin cos tan exp ln log sqrt abs tanh`, the constants `pi` and `e`, the variables `x`
//! and `y`. `^` and `**` bind tighter than unary minus and associate to the right, so
//! `-x^2` is `-(x^2)` and `2^3^2` is `2^9`, as in Python.
//!
//! Gradients are exact: the expression is compiled to a tape and differentiated in
//! reverse mode with the same backward rules (and the same rounding order) as PyTorch's
//! autograd, so `x**2/10*sin(x)` here gives bit-for-bit the gradient torch computes.

use crate::limits;
use std::fmt;

/// The longest expression accepted, in bytes (the limit of every typed text).
pub const MAX_LEN: usize = limits::TEXT.max as usize;

/// How deep parentheses and function calls may nest. The parser recurses once per level
/// (signs and `^` chains are parsed in loops), so this bounds its stack use (about 1 KB a
/// level in a release build, 200 KB in all) whatever the input.
pub const MAX_DEPTH: usize = 200;

/// A parse error: message and the byte range of the fault in the expression.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprError {
    pub expr: String,
    pub message: String,
    pub start: usize,
    pub len: usize,
}

/// Characters of the expression shown around the fault.
const SHOWN: usize = 72;

impl fmt::Display for ExprError {
    /// Three lines: the message, the expression (a window around the fault when it is long,
    /// control characters shown as spaces), a caret under the fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<(usize, char)> = self.expr.char_indices().collect();
        // the fault as character positions (byte offsets need not fall on a character)
        let at = chars.iter().position(|&(b, _)| b >= self.start).unwrap_or(chars.len());
        let end =
            chars.iter().position(|&(b, _)| b >= self.start.saturating_add(self.len.max(1))).unwrap_or(chars.len());
        let (mut from, mut to) = (0, chars.len());
        if chars.len() > SHOWN {
            from = at.saturating_sub(SHOWN / 2).min(chars.len().saturating_sub(SHOWN));
            to = (from + SHOWN).min(chars.len());
        }
        let clean = |c: char| if c.is_control() { ' ' } else { c };
        let mut line: String = chars[from..to].iter().map(|&(_, c)| clean(c)).collect();
        let mut pad = at.saturating_sub(from);
        if from > 0 {
            line.insert(0, '…');
            pad += 1;
        }
        if to < chars.len() {
            line.push_str(&format!("… ({} characters in all)", chars.len()));
        }
        let carets = end.saturating_sub(at).clamp(1, to.saturating_sub(at).max(1));
        write!(f, "{}\n  {}\n  {}{}", self.message, line, " ".repeat(pad), "^".repeat(carets))
    }
}

impl std::error::Error for ExprError {}

/// A piece of user text for a message: at most 40 characters.
fn quoted(text: &str) -> String {
    limits::shorten(text, 40)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
    Sqrt,
    Abs,
    Tanh,
}

const FUNCS: &[(&str, Func)] = &[
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("tan", Func::Tan),
    ("exp", Func::Exp),
    ("ln", Func::Ln),
    ("log", Func::Ln),
    ("sqrt", Func::Sqrt),
    ("abs", Func::Abs),
    ("tanh", Func::Tanh),
];

/// One tape entry; operands are indices of earlier entries.
#[derive(Clone, Copy, Debug)]
enum Op {
    X,
    Y,
    Const(f64),
    Neg(usize),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    /// power with a constant exponent (ATen special-cases 2, 3, 0.5, -1, -2)
    PowC(usize, f64),
    Pow(usize, usize),
    F(Func, usize),
}

impl Op {
    /// The entries this one reads.
    fn operands(self) -> [Option<usize>; 2] {
        match self {
            Op::X | Op::Y | Op::Const(_) => [None, None],
            Op::Neg(a) | Op::PowC(a, _) | Op::F(_, a) => [Some(a), None],
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Pow(a, b) => [Some(a), Some(b)],
        }
    }
}

/// A compiled expression in x and y.
#[derive(Clone, Debug)]
pub struct Expr {
    pub source: String,
    tape: Vec<Op>,
    /// The byte range of the source each tape entry was parsed from (for messages).
    spans: Vec<(usize, usize)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    Pow,
    LParen,
    RParen,
}

fn lex(s: &str) -> Result<Vec<(Tok, usize, usize)>, ExprError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |m: String, at: usize, len: usize| ExprError { expr: s.to_string(), message: m, start: at, len };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text = &s[start..i];
            let v: f64 =
                text.parse().map_err(|_| err(format!("'{}' is not a number", quoted(text)), start, i - start))?;
            if !v.is_finite() {
                return Err(err(
                    format!("{} is too large (the largest number is about 1.8e308)", quoted(text)),
                    start,
                    i - start,
                ));
            }
            out.push((Tok::Num(v), start, i - start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Name(s[start..i].to_ascii_lowercase()), start, i - start));
        } else if c == b'*' && i + 1 < b.len() && b[i + 1] == b'*' {
            i += 2;
            out.push((Tok::Pow, start, 2));
        } else {
            i += 1;
            let t = match c {
                b'^' => Tok::Pow,
                b'+' | b'-' | b'*' | b'/' => Tok::Op(c as char),
                b'(' => Tok::LParen,
                b')' => Tok::RParen,
                _ => {
                    let ch = s[start..].chars().next().unwrap_or('?');
                    let shown = if ch.is_control() { format!("{:?}", ch) } else { format!("'{ch}'") };
                    return Err(err(format!("unexpected character {shown}"), start, ch.len_utf8()));
                }
            };
            out.push((t, start, 1));
        }
    }
    Ok(out)
}

/// One link of a power chain `a₀ ^ ±a₁ ^ ±a₂ …`: the atom's tape index, the tape length
/// right after it, the byte offsets of the minus signs before it, where it starts.
struct Link {
    atom: usize,
    end: usize,
    minus: Vec<usize>,
    start: usize,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    tape: Vec<Op>,
    spans: Vec<(usize, usize)>,
    /// The value of each entry whose sub-expression holds no variable (constant folding of
    /// exponents), `None` otherwise.
    konst: Vec<Option<f64>>,
    depth: usize,
}

impl Parser<'_> {
    #[cold]
    #[inline(never)]
    fn err(&self, m: impl Into<String>) -> ExprError {
        let (start, len) = match self.toks.get(self.pos) {
            Some((_, s, l)) => (*s, *l),
            None => (self.src.len(), 1),
        };
        ExprError { expr: self.src.to_string(), message: m.into(), start, len }
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    /// End (byte offset) of the last token consumed.
    fn last_end(&self) -> usize {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i)).map_or(0, |(_, s, l)| s + l)
    }
    fn push(&mut self, op: Op, span: (usize, usize)) -> usize {
        let k = match op.operands() {
            [None, None] => match op {
                Op::Const(c) => Some(c),
                _ => None,
            },
            [Some(a), b] if self.konst[a].is_some() && b.is_none_or(|b| self.konst[b].is_some()) => {
                // the same operation as at run time, on the operands' values
                let mut vals = [0.0; 2];
                let remap = |i: usize, slot: usize, vals: &mut [f64; 2]| {
                    vals[slot] = self.konst[i].unwrap_or(0.0);
                    slot
                };
                let local = match op {
                    Op::Neg(a) => Op::Neg(remap(a, 0, &mut vals)),
                    Op::PowC(a, c) => Op::PowC(remap(a, 0, &mut vals), c),
                    Op::F(f, a) => Op::F(f, remap(a, 0, &mut vals)),
                    Op::Add(a, b) => Op::Add(remap(a, 0, &mut vals), remap(b, 1, &mut vals)),
                    Op::Sub(a, b) => Op::Sub(remap(a, 0, &mut vals), remap(b, 1, &mut vals)),
                    Op::Mul(a, b) => Op::Mul(remap(a, 0, &mut vals), remap(b, 1, &mut vals)),
                    Op::Div(a, b) => Op::Div(remap(a, 0, &mut vals), remap(b, 1, &mut vals)),
                    Op::Pow(a, b) => Op::Pow(remap(a, 0, &mut vals), remap(b, 1, &mut vals)),
                    other => other,
                };
                Some(forward_op(local, &vals, 0.0, 0.0))
            }
            _ => None,
        };
        self.tape.push(op);
        self.spans.push(span);
        self.konst.push(k);
        self.tape.len() - 1
    }
    fn truncate(&mut self, len: usize) {
        self.tape.truncate(len);
        self.spans.truncate(len);
        self.konst.truncate(len);
    }
    fn start_of(&self, idx: usize) -> usize {
        self.spans[idx].0
    }
    // sum := term (('+'|'-') term)*
    fn sum(&mut self) -> Result<usize, ExprError> {
        let mut a = self.term()?;
        while let Some(&Tok::Op(c @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            let b = self.term()?;
            let span = (self.start_of(a), self.last_end());
            a = self.push(if c == '+' { Op::Add(a, b) } else { Op::Sub(a, b) }, span);
        }
        Ok(a)
    }
    // term := unary (('*'|'/') unary)*
    fn term(&mut self) -> Result<usize, ExprError> {
        let mut a = self.unary()?;
        while let Some(&Tok::Op(c @ ('*' | '/'))) = self.peek() {
            self.pos += 1;
            let b = self.unary()?;
            let span = (self.start_of(a), self.last_end());
            a = self.push(if c == '*' { Op::Mul(a, b) } else { Op::Div(a, b) }, span);
        }
        Ok(a)
    }
    /// The signs before an operand: the byte offsets of its minus signs (plus signs vanish).
    fn signs(&mut self) -> Vec<usize> {
        let mut minus = Vec::new();
        while let Some((Tok::Op(c @ ('-' | '+')), s, _)) = self.toks.get(self.pos) {
            if *c == '-' {
                minus.push(*s);
            }
            self.pos += 1;
        }
        minus
    }
    /// Applies the minus signs (innermost first) to `a`.
    fn negate(&mut self, mut a: usize, minus: &[usize]) -> usize {
        let end = self.spans[a].1;
        for &s in minus.iter().rev() {
            a = self.push(Op::Neg(a), (s, end));
        }
        a
    }
    // unary := ('-'|'+')* power
    fn unary(&mut self) -> Result<usize, ExprError> {
        let minus = self.signs();
        let a = self.power()?;
        Ok(self.negate(a, &minus))
    }
    // power := atom ('^' unary)?     (right-associative; exponent may carry a sign)
    //
    // Parsed as a loop over the chain a₀ ^ ±a₁ ^ ±a₂ …, then folded from the right, which
    // builds the same tape as the recursive rule: the atoms in order, then each power and
    // its signs innermost first; an exponent without variables becomes a constant power.
    fn power(&mut self) -> Result<usize, ExprError> {
        let start = self.toks.get(self.pos).map_or(self.src.len(), |t| t.1);
        let a = self.atom()?;
        let mut chain = vec![Link { atom: a, end: self.tape.len(), minus: Vec::new(), start }];
        while let Some(Tok::Pow) = self.peek() {
            self.pos += 1;
            let minus = self.signs();
            let start = self.toks.get(self.pos).map_or(self.src.len(), |t| t.1);
            let a = self.atom()?;
            chain.push(Link { atom: a, end: self.tape.len(), minus, start });
        }
        let end = self.last_end();
        let mut exponent: Option<usize> = None;
        while let Some(link) = chain.pop() {
            let mut cur = link.atom;
            if let Some(e) = exponent {
                let span = (link.start, end);
                cur = match self.konst[e] {
                    Some(c) => {
                        self.truncate(link.end);
                        self.push(Op::PowC(link.atom, c), span)
                    }
                    None => self.push(Op::Pow(link.atom, e), span),
                };
            }
            cur = self.negate(cur, &link.minus);
            exponent = Some(cur);
        }
        Ok(exponent.unwrap_or(a))
    }
    #[cold]
    #[inline(never)]
    fn unknown_name(&self, name: &str) -> ExprError {
        self.err(format!(
            "unknown name '{}' (variables: x, y; constants: pi, e; functions: sin cos tan exp ln log sqrt abs tanh)",
            quoted(name)
        ))
    }
    #[cold]
    #[inline(never)]
    fn err_after(&self, name: &str) -> ExprError {
        self.err(format!("expected '(' after {name}"))
    }
    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> ExprError {
        self.err(format!("the expression nests parentheses and function calls more than {MAX_DEPTH} deep"))
    }
    /// A parenthesised sum, one level deeper.
    fn nested(&mut self) -> Result<usize, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.depth += 1;
        self.pos += 1;
        let a = self.sum()?;
        if self.peek() != Some(&Tok::RParen) {
            return Err(self.err("expected ')'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(a)
    }
    fn atom(&mut self) -> Result<usize, ExprError> {
        let Some((tok, s, l)) = self.toks.get(self.pos).cloned() else {
            return Err(self.err("the expression ends too early"));
        };
        match tok {
            Tok::Num(v) => {
                self.pos += 1;
                Ok(self.push(Op::Const(v), (s, s + l)))
            }
            Tok::LParen => {
                let a = self.nested()?;
                // the parentheses belong to the span, for messages
                self.spans[a] = (s.min(self.spans[a].0), self.last_end());
                Ok(a)
            }
            Tok::Name(name) => {
                let op = match name.as_str() {
                    "x" => Some(Op::X),
                    "y" => Some(Op::Y),
                    "pi" => Some(Op::Const(std::f64::consts::PI)),
                    "e" => Some(Op::Const(std::f64::consts::E)),
                    _ => None,
                };
                if let Some(op) = op {
                    self.pos += 1;
                    return Ok(self.push(op, (s, s + l)));
                }
                let Some(&(_, f)) = FUNCS.iter().find(|(n, _)| *n == name) else {
                    return Err(self.unknown_name(&name));
                };
                self.pos += 1;
                if self.peek() != Some(&Tok::LParen) {
                    return Err(self.err_after(&name));
                }
                let a = self.nested()?;
                Ok(self.push(Op::F(f, a), (s, self.last_end())))
            }
            _ => Err(self.err("expected a number, x, y, a function or '('")),
        }
    }
}

#[inline]
fn pow_const(a: f64, c: f64) -> f64 {
    if c == 2.0 {
        a * a
    } else if c == 3.0 {
        a * a * a
    } else if c == 0.5 {
        a.sqrt()
    } else if c == -1.0 {
        1.0 / a
    } else if c == -2.0 {
        1.0 / (a * a)
    } else if c == 1.0 {
        a
    } else if c == 0.0 {
        1.0
    } else {
        a.powf(c)
    }
}

#[inline]
fn forward_op(op: Op, v: &[f64], x: f64, y: f64) -> f64 {
    match op {
        Op::X => x,
        Op::Y => y,
        Op::Const(c) => c,
        Op::Neg(a) => -v[a],
        Op::Add(a, b) => v[a] + v[b],
        Op::Sub(a, b) => v[a] - v[b],
        Op::Mul(a, b) => v[a] * v[b],
        Op::Div(a, b) => v[a] / v[b],
        Op::PowC(a, c) => pow_const(v[a], c),
        Op::Pow(a, b) => v[a].powf(v[b]),
        Op::F(f, a) => {
            let u = v[a];
            match f {
                Func::Sin => u.sin(),
                Func::Cos => u.cos(),
                Func::Tan => u.tan(),
                Func::Exp => u.exp(),
                Func::Ln => u.ln(),
                Func::Sqrt => u.sqrt(),
                Func::Abs => u.abs(),
                Func::Tanh => u.tanh(),
            }
        }
    }
}

impl Expr {
    /// Parses an expression in x and y. Inputs longer than [`MAX_LEN`] bytes or nested
    /// deeper than [`MAX_DEPTH`] are refused; the parser's stack use is bounded either way.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        if src.len() > MAX_LEN {
            return Err(ExprError {
                expr: src.into(),
                message: format!(
                    "the expression is {} characters long; the limit is {}",
                    limits::group(src.chars().count() as u64),
                    limits::group(MAX_LEN as u64)
                ),
                start: 0,
                len: 1,
            });
        }
        let toks = lex(src)?;
        if toks.is_empty() {
            return Err(ExprError { expr: src.into(), message: "the expression is empty".into(), start: 0, len: 1 });
        }
        let mut p = Parser { src, toks, pos: 0, tape: Vec::new(), spans: Vec::new(), konst: Vec::new(), depth: 0 };
        p.sum()?;
        if p.pos < p.toks.len() {
            return Err(p.err("unexpected token (is an operator missing?)"));
        }
        Ok(Expr { source: src.to_string(), tape: p.tape, spans: p.spans })
    }

    /// Whether the expression reads x (and y): a function of one variable has minima on
    /// whole lines, which the minima search treats as such.
    pub fn uses(&self) -> (bool, bool) {
        (self.tape.iter().any(|op| matches!(op, Op::X)), self.tape.iter().any(|op| matches!(op, Op::Y)))
    }

    /// The source text of tape entry `i`, shortened for a message.
    fn text(&self, i: usize) -> String {
        let (s, e) = self.spans[i];
        quoted(self.source.get(s..e).unwrap_or("?").trim())
    }

    /// Why the value or the gradient at (x, y) is not finite: the first operation that
    /// turns finite operands into a non-finite value ("ln(x) = NaN"), or else the first
    /// whose derivative is not finite ("sqrt(x) has the derivative inf"); `None` when the
    /// value and both partial derivatives are finite.
    pub fn explain_nonfinite(&self, x: f64, y: f64) -> Option<String> {
        let (value, gx, gy) = self.eval(x, y);
        if value.is_finite() && gx.is_finite() && gy.is_finite() {
            return None;
        }
        let n = self.tape.len();
        let mut v = vec![0.0; n];
        for (i, &op) in self.tape.iter().enumerate() {
            v[i] = forward_op(op, &v, x, y);
            let finite_in = op.operands().iter().flatten().all(|&a| v[a].is_finite());
            if !v[i].is_finite() && finite_in {
                return Some(format!("{} = {}", self.text(i), limits::fmt_value(v[i])));
            }
        }
        // reverse sweep: the first entry with a finite adjoint that passes on a non-finite one
        let mut adj = vec![0.0f64; n];
        adj[n - 1] = 1.0;
        for i in (0..n).rev() {
            let g = adj[i];
            if g == 0.0 || !g.is_finite() {
                continue;
            }
            let parts: [(Option<usize>, f64); 2] = match self.tape[i] {
                Op::X | Op::Y | Op::Const(_) => [(None, 0.0), (None, 0.0)],
                Op::Neg(a) => [(Some(a), -g), (None, 0.0)],
                Op::Add(a, b) => [(Some(a), g), (Some(b), g)],
                Op::Sub(a, b) => [(Some(a), g), (Some(b), -g)],
                Op::Mul(a, b) => [(Some(a), g * v[b]), (Some(b), g * v[a])],
                Op::Div(a, b) => [(Some(a), g / v[b]), (Some(b), -g * v[a] / (v[b] * v[b]))],
                Op::PowC(a, c) => {
                    [(Some(a), g * if c == 0.0 { 0.0 } else { c * pow_const(v[a], c - 1.0) }), (None, 0.0)]
                }
                Op::Pow(a, b) => {
                    let lb = if v[a] == 0.0 && v[b] >= 0.0 { 0.0 } else { g * (v[i] * v[a].ln()) };
                    [(Some(a), g * (v[b] * v[a].powf(v[b] - 1.0))), (Some(b), lb)]
                }
                Op::F(f, a) => {
                    let d = chain(f, g, v[a], v[i]);
                    [(Some(a), d), (None, 0.0)]
                }
            };
            for (a, d) in parts {
                if let Some(a) = a {
                    if !d.is_finite() {
                        return Some(format!("{} has the derivative {}", self.text(i), limits::fmt_value(d / g)));
                    }
                    adj[a] += d;
                }
            }
        }
        Some(format!("the gradient is ({}, {})", limits::fmt_value(gx), limits::fmt_value(gy)))
    }

    /// The cost of one evaluation (value and gradient) in work units of the minima search,
    /// about the time of one arithmetic operation: 1 per operation, 2 for the slower ones
    /// (sine, cosine, tangent, tanh, general powers).
    pub fn cost(&self) -> u64 {
        self.tape
            .iter()
            .map(|op| match op {
                Op::F(Func::Sin | Func::Cos | Func::Tan | Func::Tanh, _) | Op::Pow(..) => 2,
                Op::PowC(_, c) if ![2.0, 3.0, 0.5, -1.0, -2.0, 1.0, 0.0].contains(c) => 2,
                _ => 1,
            })
            .sum()
    }

    /// Number of tape entries (operations).
    pub fn len(&self) -> usize {
        self.tape.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tape.is_empty()
    }

    /// The value at (x, y).
    pub fn value(&self, x: f64, y: f64) -> f64 {
        SCRATCH.with(|s| {
            let v = &mut s.borrow_mut().0;
            v.clear();
            v.resize(self.tape.len(), 0.0);
            for (i, &op) in self.tape.iter().enumerate() {
                v[i] = forward_op(op, v, x, y);
            }
            v[v.len() - 1]
        })
    }

    /// Value and exact gradient at (x, y), using the caller's scratch buffers (values,
    /// adjoints, and whether each adjoint has received a contribution yet), so that repeated
    /// evaluations allocate nothing.
    pub fn eval_with(
        &self,
        x: f64,
        y: f64,
        v: &mut Vec<f64>,
        adj: &mut Vec<f64>,
        seen: &mut Vec<bool>,
    ) -> (f64, f64, f64) {
        let n = self.tape.len();
        v.clear();
        v.resize(n, 0.0);
        for (i, &op) in self.tape.iter().enumerate() {
            v[i] = forward_op(op, v, x, y);
        }
        // Reverse sweep. `seen` marks "has a gradient", so the first contribution is taken
        // as is and later ones are added in the order autograd adds them.
        adj.clear();
        adj.resize(n, f64::NAN);
        seen.clear();
        seen.resize(n, false);
        let add = |adj: &mut Vec<f64>, seen: &mut Vec<bool>, i: usize, g: f64| {
            if seen[i] {
                adj[i] += g;
            } else {
                adj[i] = g;
                seen[i] = true;
            }
        };
        add(adj, seen, n - 1, 1.0);
        let (mut gx, mut gy) = (None::<f64>, None::<f64>);
        for i in (0..n).rev() {
            if !seen[i] {
                continue;
            }
            let g = adj[i];
            match self.tape[i] {
                Op::X => gx = Some(gx.map_or(g, |s| s + g)),
                Op::Y => gy = Some(gy.map_or(g, |s| s + g)),
                Op::Const(_) => {}
                Op::Neg(a) => add(adj, seen, a, -g),
                Op::Add(a, b) => {
                    add(adj, seen, a, g);
                    add(adj, seen, b, g);
                }
                Op::Sub(a, b) => {
                    add(adj, seen, a, g);
                    add(adj, seen, b, -g);
                }
                Op::Mul(a, b) => {
                    let (va, vb) = (v[a], v[b]);
                    add(adj, seen, a, g * vb);
                    add(adj, seen, b, g * va);
                }
                Op::Div(a, b) => {
                    let (va, vb) = (v[a], v[b]);
                    add(adj, seen, a, g / vb);
                    add(adj, seen, b, -g * va / (vb * vb));
                }
                Op::PowC(a, c) => {
                    let d = if c == 0.0 { 0.0 } else { c * pow_const(v[a], c - 1.0) };
                    add(adj, seen, a, g * d);
                }
                Op::Pow(a, b) => {
                    let (va, vb) = (v[a], v[b]);
                    add(adj, seen, a, g * (vb * va.powf(vb - 1.0)));
                    let lb = if va == 0.0 && vb >= 0.0 { 0.0 } else { g * (v[i] * va.ln()) };
                    add(adj, seen, b, lb);
                }
                Op::F(f, a) => {
                    let d = chain(f, g, v[a], v[i]);
                    add(adj, seen, a, d);
                }
            }
        }
        (v[n - 1], gx.unwrap_or(0.0), gy.unwrap_or(0.0))
    }

    /// Value and exact gradient at (x, y).
    pub fn eval(&self, x: f64, y: f64) -> (f64, f64, f64) {
        SCRATCH.with(|s| {
            let (v, a, seen) = &mut *s.borrow_mut();
            self.eval_with(x, y, v, a, seen)
        })
    }
}

/// Points per block of the batched evaluation.
const LANES: usize = 64;
type Row = [f64; LANES];

/// The buffers of [`Expr::grad_batch`]: a row of `LANES` values per tape entry, the row of
/// each sine's cosine (and each cosine's sine) for the backward pass, the adjoints.
#[derive(Default)]
struct Rows {
    v: Vec<Row>,
    aux: Vec<Row>,
    adj: Vec<Row>,
    seen: Vec<bool>,
}

/// `adj[i][l] (+)= f(l)` for every lane, the first contribution taken as is, as in
/// [`Expr::eval_with`].
#[inline(always)]
fn add_row(adj: &mut [Row], seen: &mut [bool], i: usize, f: impl Fn(usize) -> f64) {
    let r = &mut adj[i];
    if seen[i] {
        for (l, a) in r.iter_mut().enumerate() {
            *a += f(l);
        }
    } else {
        for (l, a) in r.iter_mut().enumerate() {
            *a = f(l);
        }
        seen[i] = true;
    }
}

/// `out[l] = f(l)` for every lane.
#[inline(always)]
fn set(out: &mut Row, f: impl Fn(usize) -> f64) {
    for (l, o) in out.iter_mut().enumerate() {
        *o = f(l);
    }
}

impl Expr {
    /// The gradients at many points `p` = [x₀, y₀, x₁, y₁, …], written into `g` (same
    /// layout), for basin maps: the tape runs on blocks of 64 points at once (element-wise
    /// operations vectorised for the CPU), with the same operations per point as
    /// [`Expr::eval`], except that sin and cos come from the kernels' own polynomial (within
    /// 2 ulp of libm, the same bits on every kernel path) instead of libm.
    pub fn grad_batch(&self, k: &crate::kernels::Kernels, p: &[f64], g: &mut [f64]) {
        BATCH.with(|rows| {
            let rows = &mut *rows.borrow_mut();
            let n = self.tape.len();
            if rows.v.len() < n {
                rows.v.resize(n, [0.0; LANES]);
                rows.aux.resize(n, [0.0; LANES]);
                rows.adj.resize(n, [0.0; LANES]);
                rows.seen.resize(n, false);
            }
            for (pc, gc) in p.chunks(2 * LANES).zip(g.chunks_mut(2 * LANES)) {
                crate::fused!(self.grad_block(k, pc, gc, rows));
            }
        })
    }

    #[inline(always)]
    fn grad_block(&self, k: &crate::kernels::Kernels, p: &[f64], g: &mut [f64], rows: &mut Rows) {
        let n = self.tape.len();
        let m = (p.len() / 2).min(g.len() / 2).min(LANES);
        let (mut xs, mut ys) = ([0.0; LANES], [0.0; LANES]);
        for j in 0..m {
            xs[j] = p[2 * j];
            ys[j] = p[2 * j + 1];
        }
        let Rows { v, aux, adj, seen } = rows;
        for (i, &op) in self.tape.iter().enumerate() {
            let (done, rest) = v.split_at_mut(i);
            let out = &mut rest[0];
            match op {
                Op::X => *out = xs,
                Op::Y => *out = ys,
                Op::Const(c) => *out = [c; LANES],
                Op::Neg(a) => set(out, |l| -done[a][l]),
                Op::Add(a, b) => set(out, |l| done[a][l] + done[b][l]),
                Op::Sub(a, b) => set(out, |l| done[a][l] - done[b][l]),
                Op::Mul(a, b) => set(out, |l| done[a][l] * done[b][l]),
                Op::Div(a, b) => set(out, |l| done[a][l] / done[b][l]),
                Op::PowC(a, c) => set(out, |l| pow_const(done[a][l], c)),
                Op::Pow(a, b) => set(out, |l| done[a][l].powf(done[b][l])),
                Op::F(Func::Sin, a) => k.sincos(&done[a], out, &mut aux[i]),
                Op::F(Func::Cos, a) => k.sincos(&done[a], &mut aux[i], out),
                Op::F(f, a) => {
                    let u = &done[a];
                    match f {
                        Func::Tan => set(out, |l| u[l].tan()),
                        Func::Exp => set(out, |l| u[l].exp()),
                        Func::Ln => set(out, |l| u[l].ln()),
                        Func::Sqrt => set(out, |l| u[l].sqrt()),
                        Func::Abs => set(out, |l| u[l].abs()),
                        _ => set(out, |l| u[l].tanh()),
                    }
                }
            }
        }
        seen[..n].fill(false);
        add_row(adj, seen, n - 1, |_| 1.0);
        let (mut gx, mut gy) = (None::<Row>, None::<Row>);
        let sum = |acc: &mut Option<Row>, g: &Row| match acc {
            Some(s) => s.iter_mut().zip(g).for_each(|(a, &b)| *a += b),
            None => *acc = Some(*g),
        };
        for i in (0..n).rev() {
            if !seen[i] {
                continue;
            }
            let (lower, rest) = adj.split_at_mut(i);
            let g = &rest[0];
            match self.tape[i] {
                Op::X => sum(&mut gx, g),
                Op::Y => sum(&mut gy, g),
                Op::Const(_) => {}
                Op::Neg(a) => add_row(lower, seen, a, |l| -g[l]),
                Op::Add(a, b) => {
                    add_row(lower, seen, a, |l| g[l]);
                    add_row(lower, seen, b, |l| g[l]);
                }
                Op::Sub(a, b) => {
                    add_row(lower, seen, a, |l| g[l]);
                    add_row(lower, seen, b, |l| -g[l]);
                }
                Op::Mul(a, b) => {
                    let (va, vb) = (&v[a], &v[b]);
                    add_row(lower, seen, a, |l| g[l] * vb[l]);
                    add_row(lower, seen, b, |l| g[l] * va[l]);
                }
                Op::Div(a, b) => {
                    let (va, vb) = (&v[a], &v[b]);
                    add_row(lower, seen, a, |l| g[l] / vb[l]);
                    add_row(lower, seen, b, |l| -g[l] * va[l] / (vb[l] * vb[l]));
                }
                Op::PowC(a, c) => {
                    let va = &v[a];
                    add_row(lower, seen, a, |l| g[l] * if c == 0.0 { 0.0 } else { c * pow_const(va[l], c - 1.0) });
                }
                Op::Pow(a, b) => {
                    let (va, vb, vi) = (&v[a], &v[b], &v[i]);
                    add_row(lower, seen, a, |l| g[l] * (vb[l] * va[l].powf(vb[l] - 1.0)));
                    add_row(lower, seen, b, |l| {
                        if va[l] == 0.0 && vb[l] >= 0.0 {
                            0.0
                        } else {
                            g[l] * (vi[l] * va[l].ln())
                        }
                    });
                }
                Op::F(f, a) => {
                    let (u, vi, w) = (&v[a], &v[i], &aux[i]);
                    match f {
                        Func::Sin => add_row(lower, seen, a, |l| g[l] * w[l]),
                        Func::Cos => add_row(lower, seen, a, |l| g[l] * -w[l]),
                        Func::Tan => add_row(lower, seen, a, |l| g[l] * (1.0 + vi[l] * vi[l])),
                        Func::Exp => add_row(lower, seen, a, |l| g[l] * vi[l]),
                        Func::Ln => add_row(lower, seen, a, |l| g[l] / u[l]),
                        Func::Sqrt => add_row(lower, seen, a, |l| g[l] / (2.0 * vi[l])),
                        Func::Abs => add_row(lower, seen, a, |l| g[l] * sgn(u[l])),
                        Func::Tanh => add_row(lower, seen, a, |l| g[l] * (1.0 - vi[l] * vi[l])),
                    }
                }
            }
        }
        let (gx, gy) = (gx.unwrap_or([0.0; LANES]), gy.unwrap_or([0.0; LANES]));
        for j in 0..m {
            g[2 * j] = gx[j];
            g[2 * j + 1] = gy[j];
        }
    }
}

thread_local! {
    /// Per-thread buffers of [`Expr::grad_batch`].
    static BATCH: std::cell::RefCell<Rows> = std::cell::RefCell::new(Rows::default());
    /// Per-thread buffers of [`Expr::value`] and [`Expr::eval`] (values, adjoints, seen).
    static SCRATCH: std::cell::RefCell<(Vec<f64>, Vec<f64>, Vec<bool>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// `g · f′(u)`, the adjoint a function node passes to its argument `u`, given the node's
/// value `fu` = f(u) (reused where the derivative is written in terms of it). One formula
/// for the reverse pass and for the explanation of non-finite values, so they agree.
fn chain(f: Func, g: f64, u: f64, fu: f64) -> f64 {
    match f {
        Func::Sin => g * u.cos(),
        Func::Cos => g * -u.sin(),
        Func::Tan => g * (1.0 + fu * fu),
        Func::Exp => g * fu,
        Func::Ln => g / u,
        Func::Sqrt => g / (2.0 * fu),
        Func::Abs => g * sgn(u),
        Func::Tanh => g * (1.0 - fu * fu),
    }
}

fn sgn(u: f64) -> f64 {
    if u > 0.0 {
        1.0
    } else if u < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_matches_python() {
        let e = Expr::parse("-x^2").unwrap();
        assert_eq!(e.value(3.0, 0.0), -9.0);
        let e = Expr::parse("2^3^2").unwrap();
        assert_eq!(e.value(0.0, 0.0), 512.0);
        let e = Expr::parse("2**-1 + x*y - y/4").unwrap();
        assert_eq!(e.value(2.0, 4.0), 0.5 + 8.0 - 1.0);
        let e = Expr::parse("e^(ln(2)) + pi - pi").unwrap();
        assert!((e.value(0.0, 0.0) - 2.0).abs() < 1e-15);
    }

    #[test]
    fn gradient_of_products_and_compositions_is_exact() {
        let e = Expr::parse("x^2*sin(x)/10 + y^2*cos(y)/10").unwrap();
        let (x, y) = (1.3_f64, -0.7_f64);
        let (_, gx, gy) = e.eval(x, y);
        let ex = (2.0 * x * x.sin() + x * x * x.cos()) / 10.0;
        let ey = (2.0 * y * y.cos() - y * y * y.sin()) / 10.0;
        assert!((gx - ex).abs() < 1e-15 && (gy - ey).abs() < 1e-15, "{gx} {gy}");
        let e = Expr::parse("x^y + sqrt(abs(x)) + tanh(y) + exp(-x) + tan(y)").unwrap();
        let (_, gx, gy) = e.eval(1.5, 0.5);
        let ex = 0.5 * 1.5f64.powf(-0.5) + 0.5 / 1.5f64.sqrt() - (-1.5f64).exp();
        let ey = 1.5f64.powf(0.5) * 1.5f64.ln() + 1.0 - 0.5f64.tanh().powi(2) + 1.0 + 0.5f64.tan().powi(2);
        assert!((gx - ex).abs() < 1e-14, "{gx} vs {ex}");
        assert!((gy - ey).abs() < 1e-14, "{gy} vs {ey}");
    }

    #[test]
    fn errors_point_at_the_fault() {
        let e = Expr::parse("x^2 + sinn(y)").unwrap_err();
        assert_eq!((e.start, e.len), (6, 4));
        assert!(e.to_string().contains("unknown name 'sinn'"));
        assert!(e.to_string().ends_with("\n  x^2 + sinn(y)\n        ^^^^"), "{e}");
        let e = Expr::parse("(x + y").unwrap_err();
        assert!(e.message.contains("expected ')'"));
        assert_eq!(e.start, 6);
        let e = Expr::parse("x y").unwrap_err();
        assert!(e.message.contains("operator missing"));
        let e = Expr::parse("x $ y").unwrap_err();
        assert!(e.message.contains("unexpected character '$'"));
        assert!(Expr::parse("  ").is_err());
        assert!(Expr::parse("x +").unwrap_err().message.contains("ends too early"));
    }

    /// Runs `f` on a thread with a 512 KB stack, a quarter of what a spawned thread gets by
    /// default (a release build needs about 200 KB for the deepest expression allowed).
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new().stack_size(512 * 1024).spawn(f).unwrap().join().unwrap()
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = |n: usize| format!("{}x{}", "(".repeat(n), ")".repeat(n));
        let ok = on_small_stack(move || Expr::parse(&deep(MAX_DEPTH)).map(|e| e.value(2.0, 0.0)));
        assert_eq!(ok, Ok(2.0));
        let e = on_small_stack(move || Expr::parse(&deep(MAX_DEPTH + 1))).unwrap_err();
        assert!(e.message.contains("more than 200 deep"), "{}", e.message);
        let e = Expr::parse(&format!("{}x", "sin(".repeat(2000))).unwrap_err();
        assert!(e.message.contains("more than 200 deep"), "{}", e.message);
        // 30,000 parentheses are over the length limit before anything else
        let e = Expr::parse(&deep(30_000)).unwrap_err();
        assert!(e.message.contains("60,001 characters long; the limit is 10,000"), "{}", e.message);
        assert!(e.to_string().len() < 400, "the error echoes the input: {} bytes", e.to_string().len());
    }

    #[test]
    fn long_chains_of_signs_powers_and_sums_parse_in_loops() {
        let t = std::time::Instant::now();
        let signs = format!("{}x", "-".repeat(9_999));
        let e = on_small_stack(move || Expr::parse(&signs).map(|e| e.eval(3.0, 1.0))).unwrap();
        assert_eq!(e, (-3.0, -1.0, 0.0));
        let signs = format!("{}x", "-+".repeat(4_999));
        assert_eq!(Expr::parse(&signs).unwrap().value(3.0, 1.0), -3.0);
        // x^x^…^x: right-associative, 5,000 levels
        let tower = format!("{}x", "x^".repeat(4_999));
        let (v, gx, _) = on_small_stack(move || Expr::parse(&tower).map(|e| e.eval(1.0, 0.0))).unwrap();
        assert_eq!((v, gx), (1.0, 1.0));
        // constant exponents fold in constant time each
        let consts = format!("x^{}1", "1^".repeat(4_990));
        assert_eq!(Expr::parse(&consts).unwrap().len(), 2);
        let sum = format!("{}x", "x+".repeat(4_999));
        assert_eq!(Expr::parse(&sum).unwrap().eval(1.0, 2.0), (5000.0, 5000.0, 0.0));
        let mixed = format!("{}y", "-x^-y*".repeat(1_600));
        assert!(Expr::parse(&mixed).is_ok());
        assert!(t.elapsed().as_secs_f64() < 5.0, "took {:?}", t.elapsed());
    }

    #[test]
    fn a_leading_minus_parses() {
        let e = Expr::parse("-exp(-x^2-y^2)").unwrap();
        assert_eq!(e.value(0.0, 0.0), -1.0);
        assert_eq!(Expr::parse("--x").unwrap().value(2.0, 0.0), 2.0);
        assert_eq!(Expr::parse("-2^2").unwrap().value(0.0, 0.0), -4.0);
        assert_eq!(Expr::parse("2^-2^2").unwrap().value(0.0, 0.0), 2f64.powf(-4.0));
    }

    #[test]
    fn errors_shorten_long_inputs_names_and_numbers() {
        let long = format!("{}$", "x+".repeat(3000));
        let e = Expr::parse(&long).unwrap_err();
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].len() < 200 && lines[1].contains("…"), "{}", lines[1]);
        // the caret is under the '$'
        let col = lines[2].find('^').unwrap();
        assert_eq!(lines[1].chars().nth(col), Some('$'), "{text}");
        let e = Expr::parse(&format!("{}(x)", "a".repeat(5000))).unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message);
        let e = Expr::parse(&format!("1.{}.5", "1".repeat(5000))).unwrap_err();
        assert!(e.message.len() < 100, "{}", e.message);
        let e = Expr::parse("x * 1e400").unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        // control characters and a fault inside a multi-byte character never break the display
        let e = Expr::parse("x +\n\u{1b}[2J y").unwrap_err();
        assert_eq!(e.to_string().lines().count(), 3);
        let e = ExprError { expr: "é+x".into(), message: "m".into(), start: 1, len: 1 };
        assert_eq!(e.to_string().lines().count(), 3);
    }

    #[test]
    fn the_first_non_finite_operation_is_named() {
        let e = Expr::parse("x^2 + ln(x - 9)").unwrap();
        assert_eq!(e.explain_nonfinite(8.0, 0.1).as_deref(), Some("ln(x - 9) = NaN"));
        let e = Expr::parse("1/0 + x").unwrap();
        assert_eq!(e.explain_nonfinite(1.0, 1.0).as_deref(), Some("1/0 = inf"));
        let e = Expr::parse("sqrt(x) + y").unwrap();
        assert_eq!(e.explain_nonfinite(0.0, 1.0).as_deref(), Some("sqrt(x) has the derivative inf"));
        let e = Expr::parse("exp(x)").unwrap();
        assert_eq!(e.explain_nonfinite(1e3, 0.0).as_deref(), Some("exp(x) = inf"));
        assert_eq!(e.explain_nonfinite(1.0, 0.0), None);
    }
}
