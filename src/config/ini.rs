//! A reader for pushpin.conf's INI dialect (Qt `QSettings` style).
//!
//! `[section]` headers, `key=value` lines, `;` comments (also after a value,
//! outside quotes) and `#` comment lines. Values may be double-quoted with
//! C escapes; an unquoted comma makes a value a list. Every entry keeps its
//! line so errors can name file, line and key. Unlike Qt, a line that is
//! neither a section, a comment nor `key=value` is an error, because it is
//! almost always a typo that would otherwise be silently ignored.

use std::path::{Path, PathBuf};

/// A value as written: one string, or a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    List(Vec<String>),
}

impl Value {
    /// The value as one string (a list is joined back with commas).
    pub fn as_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::List(l) => l.join(","),
        }
    }

    /// The value as a list; empty elements are dropped.
    pub fn as_list(&self) -> Vec<String> {
        match self {
            Value::Str(s) if s.is_empty() => Vec::new(),
            Value::Str(s) => vec![s.clone()],
            Value::List(l) => l.iter().filter(|s| !s.is_empty()).cloned().collect(),
        }
    }
}

/// One `key=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    pub key: String,
    pub value: Value,
    pub line: usize,
}

/// A parsed file: entries in file order (later ones win on lookup).
#[derive(Debug, Clone, Default)]
pub struct Ini {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// A line that is not INI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct IniError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl Ini {
    /// Parses INI text read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Ini, IniError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ini = Ini {
            path: path.to_owned(),
            entries: Vec::new(),
        };
        let mut section = String::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_start_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let err = |message: String| IniError {
                path: path.to_owned(),
                line: line_no,
                message,
            };
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest.split(']').next().unwrap_or("").trim();
                section = if name.eq_ignore_ascii_case("general") {
                    String::new()
                } else {
                    name.to_owned()
                };
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(err(format!(
                    "expected 'key=value', got '{}'",
                    line.trim_end()
                )));
            };
            let key = key.trim_end_matches([' ', '\t']).to_owned();
            if key.is_empty() {
                return Err(err("empty key name".to_owned()));
            }
            let value = parse_value(value).map_err(|m| err(format!("{key}: {m}")))?;
            ini.entries.push(Entry {
                section: section.clone(),
                key,
                value,
                line: line_no,
            });
        }
        Ok(ini)
    }

    /// The last entry for `section`/`key`.
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.section == section && e.key == key)
    }
}

/// Parses the text after `=`.
fn parse_value(s: &str) -> Result<Value, String> {
    let mut items: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quoted_any = false;
    let mut chars = s.chars().peekable();
    let mut in_quotes = false;
    let mut is_list = false;
    // leading blanks are not part of the value
    while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
        chars.next();
    }
    let finish = |cur: &mut String, quoted: bool, items: &mut Vec<String>| {
        let v = if quoted {
            std::mem::take(cur)
        } else {
            let t = cur.trim_matches([' ', '\t']).to_owned();
            cur.clear();
            t
        };
        items.push(v);
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                quoted_any = true;
            }
            '\\' => {
                let Some(e) = chars.next() else {
                    return Err("value ends with a lone backslash".to_owned());
                };
                match e {
                    'n' => cur.push('\n'),
                    'r' => cur.push('\r'),
                    't' => cur.push('\t'),
                    'a' => cur.push('\u{7}'),
                    'b' => cur.push('\u{8}'),
                    'f' => cur.push('\u{c}'),
                    'v' => cur.push('\u{b}'),
                    '"' | '\'' | '?' | '\\' => cur.push(e),
                    'x' => {
                        let mut n: u32 = 0;
                        let mut any = false;
                        while let Some(d) = chars.peek().and_then(|c| c.to_digit(16)) {
                            n = n.saturating_mul(16).saturating_add(d);
                            any = true;
                            chars.next();
                        }
                        if !any {
                            return Err("'\\x' without hex digits".to_owned());
                        }
                        cur.push(char::from_u32(n).ok_or("invalid '\\x' escape")?);
                    }
                    _ => return Err(format!("unknown escape '\\{e}'")),
                }
            }
            ';' if !in_quotes => break,
            ',' if !in_quotes => {
                is_list = true;
                finish(&mut cur, quoted_any, &mut items);
                quoted_any = false;
                while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                    chars.next();
                }
            }
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quote".to_owned());
    }
    finish(&mut cur, quoted_any, &mut items);
    Ok(if is_list {
        Value::List(items)
    } else {
        Value::Str(items.pop().unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Ini, IniError> {
        Ini::parse(text, Path::new("test.conf"))
    }

    #[test]
    fn sections_keys_values() {
        let ini = parse(
            "# comment\n; another\n[global]\ninclude={libdir}/internal.conf\n\n[runner]\nhttp_port=7999, 127.0.0.1:8000\nlogdir = log ; trailing\n[proxy]\nsig_key=\"a;b,c\"\nx=\n[General]\ntop=1\n",
        )
        .unwrap();
        assert_eq!(
            ini.get("global", "include").unwrap().value,
            Value::Str("{libdir}/internal.conf".into())
        );
        let hp = ini.get("runner", "http_port").unwrap();
        assert_eq!(hp.value.as_list(), vec!["7999", "127.0.0.1:8000"]);
        assert_eq!(hp.line, 7);
        assert_eq!(
            ini.get("runner", "logdir").unwrap().value.as_string(),
            "log"
        );
        assert_eq!(
            ini.get("proxy", "sig_key").unwrap().value.as_string(),
            "a;b,c"
        );
        assert_eq!(
            ini.get("proxy", "x").unwrap().value,
            Value::Str(String::new())
        );
        assert!(ini.get("", "top").is_some());
    }

    #[test]
    fn last_duplicate_wins_and_escapes() {
        let ini = parse("[a]\nk=1\nk=\"x\\ty\\x41\"\n").unwrap();
        assert_eq!(ini.get("a", "k").unwrap().value.as_string(), "x\tyA");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[a]\nk=1\nthis is not ini\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e
            .to_string()
            .starts_with("test.conf:3: expected 'key=value'"));
        assert_eq!(parse("[a]\nk=\"open\n").unwrap_err().line, 2);
        assert!(parse("[a]\nk=\\q\n")
            .unwrap_err()
            .message
            .contains("k: unknown escape"));
        assert!(parse("=v\n").unwrap_err().message.contains("empty key"));
        assert!(parse("k=\\x\n").is_err());
        assert!(parse("k=a\\\n").is_err());
    }
}
