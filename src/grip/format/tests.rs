use super::*;

/// Expands `%X` to `<X>` and `%(n)X` to `<X:n>`; `%E` fails.
fn echo(d: u8, arg: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), String> {
    if d == b'E' {
        return Err(format!("bad '{}'", char::from(d)));
    }
    out.push(b'<');
    out.push(d);
    if let Some(a) = arg {
        out.push(b':');
        out.extend_from_slice(a);
    }
    out.push(b'>');
    Ok(())
}

fn strict(input: &str) -> Result<String, String> {
    render(input.as_bytes(), echo).map(|v| String::from_utf8(v).unwrap())
}

fn partial(input: &str) -> Result<(String, usize), String> {
    render_partial(input.as_bytes(), echo).map(|(v, n)| (String::from_utf8(v).unwrap(), n))
}

#[test]
fn literals_and_percent() {
    assert_eq!(strict("").unwrap(), "");
    assert_eq!(strict("plain text").unwrap(), "plain text");
    assert_eq!(strict("100%% sure %%%%").unwrap(), "100% sure %%");
}

#[test]
fn letter_directives() {
    assert_eq!(strict("a%sb%Ic").unwrap(), "a<s>b<I>c");
    assert_eq!(strict("%z%Z").unwrap(), "<z><Z>");
}

#[test]
fn named_directives() {
    assert_eq!(strict("x%(user)sy").unwrap(), "x<s:user>y");
    // Any byte may be the directive, even `%`, `(`, a digit or a space.
    assert_eq!(
        strict("%(a)%%(b)(%(c)1%(d) ").unwrap(),
        "<%:a><(:b><1:c>< :d>"
    );
    // An empty name is no argument.
    assert_eq!(strict("%()s").unwrap(), "<s>");
    // `(` needs no escape; `\x` is `x`.
    assert_eq!(
        strict(r"%(food\\fruit(type\))s").unwrap(),
        r"<s:food\fruit(type)>"
    );
    assert_eq!(strict(r"%(\a\b)s").unwrap(), "<s:ab>");
    assert_eq!(strict(r"%(\))s").unwrap(), "<s:)>");
}

#[test]
fn non_utf8_bytes_pass_through() {
    let out = render(b"\xff%(\xfe)s\x80", echo).unwrap();
    assert_eq!(out, b"\xff<s:\xfe>\x80");
}

#[test]
fn unknown_directive() {
    assert_eq!(
        strict("ab%1").unwrap_err(),
        "Unknown directive '1' at position 3"
    );
    assert_eq!(
        strict("%-").unwrap_err(),
        "Unknown directive '-' at position 1"
    );
    assert_eq!(
        strict("% x").unwrap_err(),
        "Unknown directive ' ' at position 1"
    );
    // Latin-1 interpretation of the byte.
    let e = render(b"%\xe9", echo).unwrap_err();
    assert_eq!(e, "Unknown directive '\u{e9}' at position 1");
    // Errors in partial mode too.
    assert_eq!(
        partial("ab%1").unwrap_err(),
        "Unknown directive '1' at position 3"
    );
}

#[test]
fn handler_error_gets_directive_position() {
    assert_eq!(strict("xy%E").unwrap_err(), "bad 'E' at position 3");
    assert_eq!(strict("%(abc)E").unwrap_err(), "bad 'E' at position 6");
    assert_eq!(strict(r"%(a\)c)E").unwrap_err(), "bad 'E' at position 7");
    assert_eq!(partial("%s%(n)E").unwrap_err(), "bad 'E' at position 6");
}

#[test]
fn strict_incomplete_errors() {
    let cases = [
        ("abc%", "Expected directive after '%' at position 3"),
        ("a%(", "Expected character after '(' at position 2"),
        (r"%(ab\", r"Expected character after '\' at position 4"),
        ("x%(ab", "Unterminated field starting at position 2"),
        ("x%(ab\\)", "Unterminated field starting at position 2"),
        ("%(ab)", "Expected directive after ')' at position 4"),
        ("%()", "Expected directive after ')' at position 2"),
    ];
    for (input, err) in cases {
        assert_eq!(strict(input).unwrap_err(), err, "input {input:?}");
    }
}

#[test]
fn partial_keeps_incomplete_tail() {
    let cases = [
        ("abc%", "abc", 3),
        ("a%s%(", "a<s>", 3),
        (r"%(ab\", "", 0),
        ("x%(ab", "x", 1),
        ("%%%(ab)", "%", 2),
        ("%()", "", 0),
    ];
    for (input, out, consumed) in cases {
        assert_eq!(
            partial(input).unwrap(),
            (out.to_owned(), consumed),
            "input {input:?}"
        );
    }
    assert_eq!(partial("done %s").unwrap(), ("done <s>".to_owned(), 7));
}

#[test]
fn partial_tail_completes_with_next_chunk() {
    let (out, n) = partial("a%(us").unwrap();
    assert_eq!((out.as_str(), n), ("a", 1));
    let mut buf = b"a%(us"[n..].to_vec();
    buf.extend_from_slice(b"er)sb");
    assert_eq!(render(&buf, echo).unwrap(), b"<s:user>b");
}

proptest::proptest! {
    /// Splitting the input anywhere and carrying the partial leftover over
    /// gives the same output as rendering it whole.
    #[test]
    fn chunking_is_transparent(
        input in proptest::collection::vec(
            proptest::sample::select(b"%()\\sIa".to_vec()), 0..24),
        split in 0usize..24,
    ) {
        let split = split.min(input.len());
        if let Ok(whole) = render(&input, echo) {
            let (mut out, used) = render_partial(&input[..split], echo).unwrap();
            let mut rest = input[used..split].to_vec();
            rest.extend_from_slice(&input[split..]);
            out.extend(render(&rest, echo).unwrap());
            proptest::prop_assert_eq!(out, whole);
        }
    }
}
