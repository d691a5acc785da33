//! Splits one routes-file line into sections (value + properties).
//!
//! Grammar, as 1.36 reads it: tokens are separated by spaces (only the space
//! character); `#` outside quotes starts a comment; a token is
//! `VALUE[,name[=value]]...`; double quotes may wrap any part of a token,
//! with `\\` and `\"` as the only escapes. The first section is the
//! condition, the others are targets.

/// One space-separated token: its value and its `name[=value]` properties,
/// in line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub value: String,
    pub props: Vec<(String, String)>,
}

impl Section {
    /// Last value of a property (1.36 uses the last occurrence).
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.props.iter().any(|(n, _)| n == name)
    }

    /// All values of a repeatable property, in line order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.props
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a line could not be tokenised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("expecting property after ','")]
    ExpectingProp,
    #[error("empty property name")]
    EmptyPropName,
    #[error("unterminated quote")]
    UnterminatedQuote,
    #[error("invalid escape in quoted text")]
    BadEscape,
}

/// Reads one token starting at `pos`; returns the raw text (quotes
/// resolved), the terminating byte (if any) and the position after the token.
fn read_part(line: &[u8], mut pos: usize) -> Result<(String, Option<u8>, usize), TokenError> {
    let mut part: Vec<u8> = Vec::new();
    while pos < line.len() {
        match line[pos] {
            b'"' => {
                pos += 1;
                loop {
                    match line.get(pos) {
                        None => return Err(TokenError::UnterminatedQuote),
                        Some(b'"') => {
                            pos += 1;
                            break;
                        }
                        Some(b'\\') => match line.get(pos + 1) {
                            Some(&c @ (b'\\' | b'"')) => {
                                part.push(c);
                                pos += 2;
                            }
                            _ => return Err(TokenError::BadEscape),
                        },
                        Some(&c) => {
                            part.push(c);
                            pos += 1;
                        }
                    }
                }
            }
            c @ (b',' | b' ' | b'#') => {
                return Ok((String::from_utf8_lossy(&part).into_owned(), Some(c), pos));
            }
            c => {
                part.push(c);
                pos += 1;
            }
        }
    }
    Ok((String::from_utf8_lossy(&part).into_owned(), None, pos))
}

fn split_prop(part: &str) -> Result<(String, String), TokenError> {
    if part.is_empty() {
        return Err(TokenError::ExpectingProp);
    }
    let (name, value) = part.split_once('=').unwrap_or((part, ""));
    if name.is_empty() {
        return Err(TokenError::EmptyPropName);
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Tokenises a line. Blank and comment lines give no sections.
pub fn tokenize(line: &str) -> Result<Vec<Section>, TokenError> {
    let bytes = line.as_bytes();
    let mut sections: Vec<Section> = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && bytes[pos] == b' ' {
            pos += 1;
        }
        if pos >= bytes.len() || bytes[pos] == b'#' {
            return Ok(sections);
        }
        let (part, term, next) = read_part(bytes, pos)?;
        let mut section = Section::default();
        if part.contains('=') {
            // a token that starts with a property has an empty value
            section.props.push(split_prop(&part)?);
        } else {
            section.value = part;
        }
        pos = next;
        let mut term = term;
        while term == Some(b',') {
            let (part, t, next) = read_part(bytes, pos + 1)?;
            section.props.push(split_prop(&part)?);
            term = t;
            pos = next;
        }
        sections.push(section);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(value: &str, props: &[(&str, &str)]) -> Section {
        Section {
            value: value.to_owned(),
            props: props
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn basic_lines() {
        assert_eq!(tokenize("").unwrap(), vec![]);
        assert_eq!(tokenize("   # comment").unwrap(), vec![]);
        assert_eq!(
            tokenize("a b # c").unwrap(),
            vec![sec("a", &[]), sec("b", &[])]
        );
        assert_eq!(
            tokenize(r#"a,x,y=1 b,z="p, \"q\"""#).unwrap(),
            vec![
                sec("a", &[("x", ""), ("y", "1")]),
                sec("b", &[("z", "p, \"q\"")])
            ]
        );
        assert_eq!(tokenize("a#b c").unwrap(), vec![sec("a", &[])]);
        assert_eq!(
            tokenize("id=foo t").unwrap(),
            vec![sec("", &[("id", "foo")]), sec("t", &[])]
        );
        assert_eq!(tokenize(r#"a"b c"d"#).unwrap(), vec![sec("ab cd", &[])]);
    }

    #[test]
    fn errors() {
        assert_eq!(tokenize("a,").unwrap_err(), TokenError::ExpectingProp);
        assert_eq!(tokenize("a,,b").unwrap_err(), TokenError::ExpectingProp);
        assert_eq!(tokenize("a,=v").unwrap_err(), TokenError::EmptyPropName);
        assert_eq!(
            tokenize("a,x=\"v").unwrap_err(),
            TokenError::UnterminatedQuote
        );
        assert_eq!(tokenize(r#"a,x="\n""#).unwrap_err(), TokenError::BadEscape);
    }

    #[test]
    fn repeated_props() {
        let s = &tokenize("a,h=1,h=2 t").unwrap()[0];
        assert_eq!(s.prop("h"), Some("2"));
        assert_eq!(s.all("h").collect::<Vec<_>>(), vec!["1", "2"]);
    }
}
