//! The `%` directive engine shared by the `var-subst` and `build-id`
//! filters and by `id_format` (1.36 behaviour, see
//! `specs/sequencer-filters.md` §5).
//!
//! Pure and allocation-light: literal runs are copied in bulk, a name is
//! borrowed from the input unless it contains `\` escapes. The caller
//! supplies a handler that appends a directive's expansion to the output.
//!
//! Syntax, byte by byte:
//! - `%%` → `%`;
//! - `%` + ASCII letter `L` → handler(`L`, no argument);
//! - `%(NAME)D` → handler(`D`, `NAME`), where `D` may be any byte, `NAME`
//!   ends at the first unescaped `)` and `\x` stands for the byte `x`; an
//!   empty name counts as no argument;
//! - `%` + any other byte → `Unknown directive 'C' at position P`.
//!
//! Errors carry 0-based byte offsets into `input`. Handler errors get
//! ` at position P` appended, P being the offset of the directive byte.
//! [`render_partial`] tolerates a directive cut off at the end of the input
//! (for streamed bodies) and reports where it starts so it can be kept.

use std::borrow::Cow;

/// Renders `input` completely; an incomplete directive at the end is an error.
///
/// `handler(directive, argument, out)` appends the expansion to `out` or
/// returns an error text (without position).
pub fn render<F>(input: &[u8], handler: F) -> Result<Vec<u8>, String>
where
    F: FnMut(u8, Option<&[u8]>, &mut Vec<u8>) -> Result<(), String>,
{
    run(input, handler, false).map(|(out, _)| out)
}

/// Renders as much of `input` as possible: returns the output and the
/// length consumed. A directive cut off at the end is not an error; the
/// bytes `input[consumed..]` (starting at its `%`) are left for the next
/// call, prepended to the next chunk. Unknown directives and handler errors
/// are still errors.
pub fn render_partial<F>(input: &[u8], handler: F) -> Result<(Vec<u8>, usize), String>
where
    F: FnMut(u8, Option<&[u8]>, &mut Vec<u8>) -> Result<(), String>,
{
    run(input, handler, true)
}

/// How a directive ended up: parsed, or cut off by the end of the input.
enum Parsed<'a> {
    /// Directive byte, its argument, and the offset just past it.
    Directive(u8, Option<Cow<'a, [u8]>>, usize),
    /// `%%` (the offset just past it).
    Percent(usize),
    /// Cut off at end of input: the strict-mode error text and position.
    Incomplete(&'static str, usize),
}

fn run<F>(input: &[u8], mut handler: F, partial: bool) -> Result<(Vec<u8>, usize), String>
where
    F: FnMut(u8, Option<&[u8]>, &mut Vec<u8>) -> Result<(), String>,
{
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    while let Some(off) = input[pos..].iter().position(|&b| b == b'%') {
        let at = pos + off;
        out.extend_from_slice(&input[pos..at]);
        match parse(input, at)? {
            Parsed::Percent(next) => {
                out.push(b'%');
                pos = next;
            }
            Parsed::Directive(d, arg, next) => {
                let arg = arg.as_deref().filter(|a| !a.is_empty());
                handler(d, arg, &mut out).map_err(|e| format!("{e} at position {}", next - 1))?;
                pos = next;
            }
            Parsed::Incomplete(..) if partial => return Ok((out, at)),
            Parsed::Incomplete(what, p) => return Err(format!("{what} at position {p}")),
        }
    }
    out.extend_from_slice(&input[pos..]);
    Ok((out, input.len()))
}

/// Parses the directive whose `%` is at `at`.
fn parse(input: &[u8], at: usize) -> Result<Parsed<'_>, String> {
    let Some(&c) = input.get(at + 1) else {
        return Ok(incomplete("Expected directive after '%'", at));
    };
    match c {
        b'%' => Ok(Parsed::Percent(at + 2)),
        b'(' => Ok(parse_named(input, at + 1)),
        c if c.is_ascii_alphabetic() => Ok(Parsed::Directive(c, None, at + 2)),
        c => Err(format!(
            "Unknown directive '{}' at position {}",
            char::from(c),
            at + 1
        )),
    }
}

/// Parses `(NAME)D` with the `(` at `open`.
fn parse_named(input: &[u8], open: usize) -> Parsed<'_> {
    let start = open + 1;
    if start >= input.len() {
        return incomplete("Expected character after '('", open);
    }
    let mut decoded: Option<Vec<u8>> = None;
    let mut i = start;
    let close = loop {
        match input.get(i) {
            None => return incomplete("Unterminated field starting", open),
            Some(b')') => break i,
            Some(b'\\') => {
                let Some(&x) = input.get(i + 1) else {
                    return incomplete("Expected character after '\\'", i);
                };
                decoded
                    .get_or_insert_with(|| input[start..i].to_vec())
                    .push(x);
                i += 2;
            }
            Some(&b) => {
                if let Some(d) = decoded.as_mut() {
                    d.push(b);
                }
                i += 1;
            }
        }
    };
    let Some(&d) = input.get(close + 1) else {
        return incomplete("Expected directive after ')'", close);
    };
    let name = match decoded {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(&input[start..close]),
    };
    Parsed::Directive(d, Some(name), close + 2)
}

fn incomplete(what: &'static str, pos: usize) -> Parsed<'static> {
    Parsed::Incomplete(what, pos)
}

#[cfg(test)]
mod tests;
