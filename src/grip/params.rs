//! Header value grammar shared by the `Grip-*` headers: comma lists (quote
//! aware) and `;` parameters, as 1.36 parses them.

/// Splits a header value on commas outside double quotes. Pieces are
/// trimmed; empty pieces between commas are kept, a single trailing comma
/// adds nothing, and an empty value gives no pieces.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                cur.push(c);
            }
            '\\' if in_quotes => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !in_quotes => {
                out.push(cur.trim().to_owned());
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    let last = cur.trim();
    if !last.is_empty() {
        out.push(last.to_owned());
    }
    out
}

/// One `name[=value]` parameter; `value` is `None` when absent or `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// A parameter list that cannot be read: an unterminated quote, or a
/// backslash ending quoted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quoted parameter value")]
pub struct ParamError;

/// Parses `;`-separated parameters.
pub fn parse_params(s: &str) -> Result<Vec<Param>, ParamError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let name = s[start..i].trim().to_owned();
        let mut value = None;
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = Vec::new();
                loop {
                    match b.get(i) {
                        None => return Err(ParamError),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let Some(&n) = b.get(i + 1) else {
                                return Err(ParamError);
                            };
                            v.push(n);
                            i += 2;
                        }
                        Some(&c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                while i < b.len() && b[i] != b';' {
                    i += 1;
                }
                let v = String::from_utf8_lossy(&v).into_owned();
                value = if v.is_empty() { None } else { Some(v) };
            } else {
                let vs = i;
                while i < b.len() && b[i] != b';' {
                    i += 1;
                }
                value = Some(s[vs..i].trim().to_owned());
            }
        }
        if i < b.len() && b[i] == b';' {
            i += 1;
        }
        if !name.is_empty() || value.is_some() {
            out.push(Param { name, value });
        }
    }
    Ok(out)
}

/// A piece in "value; params" form: the leading value (up to the first `;`)
/// and its parameters.
pub fn value_and_params(piece: &str) -> Result<(String, Vec<Param>), ParamError> {
    match piece.split_once(';') {
        Some((v, rest)) => Ok((v.trim().to_owned(), parse_params(rest)?)),
        None => Ok((piece.trim().to_owned(), Vec::new())),
    }
}

/// First parameter named `name` (case-insensitive).
pub fn find<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Integer as 1.36 reads header numbers: optional sign, surrounding blanks.
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    i32::try_from(n).ok().map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: Option<&str>) -> Param {
        Param {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("a, b"), vec!["a", "b"]);
        assert_eq!(split_list("a,,b"), vec!["a", "", "b"]);
        assert_eq!(split_list("a,"), vec!["a"]);
        assert_eq!(split_list(",a"), vec!["", "a"]);
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list("x; v=\"1,2\", y"), vec!["x; v=\"1,2\"", "y"]);
        assert_eq!(
            split_list(r#"x; v="a\"b,c", y"#),
            vec![r#"x; v="a\"b,c""#, "y"]
        );
    }

    #[test]
    fn params() {
        assert_eq!(
            parse_params(" prev-id=1; filter=a ;filter=\"b;c\"; flag").unwrap(),
            vec![
                p("prev-id", Some("1")),
                p("filter", Some("a")),
                p("filter", Some("b;c")),
                p("flag", None)
            ]
        );
        assert_eq!(parse_params("a=").unwrap(), vec![p("a", Some(""))]);
        assert_eq!(parse_params("a=\"\"").unwrap(), vec![p("a", None)]);
        assert!(parse_params("a=\"open").is_err());
        assert!(parse_params("a=\"x\\").is_err());
        let (v, ps) = value_and_params("ping\\n; format=cstring; timeout=2").unwrap();
        assert_eq!(v, "ping\\n");
        assert_eq!(
            find(&ps, "FORMAT").unwrap().value.as_deref(),
            Some("cstring")
        );
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(" 55 "), Some(55));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("5s"), None);
        assert_eq!(parse_int("99999999999"), None);
    }
}
