//! JSON Pointer / JSON Patch as Pushpin 1.36 applies the `body-patch` of a
//! published `http-response` item to a held response's body.
//!
//! Pure and synchronous: the response-hold session calls [`apply_to_body`]
//! with the held instruct's body and the published ops, inside its own task,
//! and turns an `Err` into the filter-error 502 (the message is only logged).
//!
//! # Deliberate differences from RFC 6901 / RFC 6902
//!
//! This follows Pushpin 1.36 (Qt 5.15) on purpose, because a published patch
//! must produce the same body through this proxy as through the original:
//!
//! - `add` at an existing array index **replaces** the element instead of
//!   inserting before it; `-` appends; an index equal to the array length is
//!   rejected (`index out of range`) for every op, `add` included.
//! - Array indexes are parsed leniently: leading zeros, a sign and
//!   surrounding whitespace are accepted (`/a/01`, `/a/+1`, `/a/ 1 `).
//! - The empty pointer `""` (the whole document in RFC 6901) is rejected;
//!   `/` is the root instead of the member named `""`, and empty reference
//!   tokens (`/a//b`, `/a/`) are rejected.
//! - `remove` of the root fails with an empty message.
//! - `move` into a proper descendant of `from` is rejected by comparing the
//!   raw (still escaped) segments; `path` is resolved only after `from` has
//!   been removed, so indexes in `path` refer to the shortened array.
//! - `test` does not use JSON equality: numbers, strings and booleans of
//!   different types, and any two numbers, compare as integers (numbers
//!   rounded half up, strings parsed as decimal integers with anything else
//!   reading as `0`, `true` = 1, `false` = 0), so `1.2` equals `1`, `"5"`
//!   equals `5` and `"abc"` equals `0`. A JSON `null` never equals anything,
//!   not even `null`.
//! - Error texts are Pushpin's (e.g. `location does not exist`,
//!   `unsupported op: x`, `pointer must start with /`).
//!
//! Not reproduced: Qt's number formatting. Numbers written as integer
//! literals come out unchanged, as in Pushpin, but other numbers are written
//! by `serde_json` (`1.0`, `1e20`) where Qt writes `1`, `1e+20`. Strings use
//! `serde_json`'s escaping.

use serde_json::{Map, Value};

/// One step from a container to a child, as resolved against a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object member (which need not exist yet when it is the last step).
    Key(String),
    /// An existing array element (`0 <= index < len` at resolution time).
    Index(usize),
    /// `-`: the position just past the end of an array; never exists.
    Append,
}

/// A resolved pointer: the steps to an existing container, then the last
/// step inside it. Only valid against the document it was resolved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Steps from the root to the parent container; every one exists.
    parent: Vec<Step>,
    /// `None` for the root itself.
    last: Option<Step>,
}

/// Resolves `pointer` against `doc` with Pushpin 1.36's rules: every step
/// but the last must exist, and array indexes must be in range.
pub fn resolve(doc: &Value, pointer: &str) -> Result<Location, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("pointer must start with /".into());
    };
    let mut loc = Location {
        parent: Vec::new(),
        last: None,
    };
    if rest.is_empty() {
        return Ok(loc);
    }
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err("reference cannot be empty".into());
        }
        segments.push(raw.replace("~1", "/").replace("~0", "~"));
    }
    let mut current = doc;
    for segment in segments {
        if let Some(step) = loc.last.take() {
            current = step_into(current, &step)?;
            loc.parent.push(step);
        }
        loc.last = Some(match current {
            Value::Object(_) => Step::Key(segment),
            Value::Array(items) => array_step(&segment, items.len())?,
            _ => return Err("non-container value cannot have child reference".into()),
        });
    }
    Ok(loc)
}

fn step_into<'a>(container: &'a Value, step: &Step) -> Result<&'a Value, String> {
    let found = match step {
        Step::Key(key) => container.get(key.as_str()),
        Step::Index(i) => container.get(*i),
        Step::Append => None,
    };
    found.ok_or_else(|| match step {
        Step::Key(key) => format!("cannot step into undefined reference: key={key}"),
        Step::Index(i) => format!("cannot step into undefined reference: index={i}"),
        Step::Append => "cannot step into undefined reference: index=-1".into(),
    })
}

fn array_step(segment: &str, len: usize) -> Result<Step, String> {
    if segment == "-" {
        return Ok(Step::Append);
    }
    // Qt's QString::toInt: a 32-bit int, sign and surrounding space allowed.
    let index: i32 = segment
        .trim()
        .parse()
        .map_err(|_| "index must be an integer".to_string())?;
    match usize::try_from(index) {
        Ok(i) if i < len => Ok(Step::Index(i)),
        _ => Err("index out of range".into()),
    }
}

impl Location {
    /// The value here, or `None` for a missing object member or `-`.
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let container = self.container(doc)?;
        match &self.last {
            None => Some(container),
            Some(step) => step_into(container, step).ok(),
        }
    }

    fn container<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.parent
            .iter()
            .try_fold(doc, |v, step| step_into(v, step).ok())
    }

    fn container_mut<'a>(&self, doc: &'a mut Value) -> Result<&'a mut Value, String> {
        let mut v = doc;
        for step in &self.parent {
            v = match (v, step) {
                (Value::Object(map), Step::Key(key)) => map.get_mut(key),
                (Value::Array(items), Step::Index(i)) => items.get_mut(*i),
                _ => None,
            }
            .ok_or_else(not_found)?;
        }
        Ok(v)
    }

    /// Writes `value` here: inserts or overwrites a member, replaces an
    /// element, appends at `-`, or replaces the whole document.
    pub fn set(&self, doc: &mut Value, value: Value) -> Result<(), String> {
        let container = self.container_mut(doc)?;
        match (&self.last, container) {
            (None, root) => *root = value,
            (Some(Step::Key(key)), Value::Object(map)) => {
                map.insert(key.clone(), value);
            }
            (Some(Step::Index(i)), Value::Array(items)) => {
                *items.get_mut(*i).ok_or_else(not_found)? = value;
            }
            (Some(Step::Append), Value::Array(items)) => items.push(value),
            _ => return Err(not_found()),
        }
        Ok(())
    }

    /// Removes and returns the value here. The root cannot be removed
    /// (1.36 fails with an empty message).
    pub fn take(&self, doc: &mut Value) -> Result<Value, String> {
        let container = self.container_mut(doc)?;
        let taken = match (&self.last, container) {
            (None, _) => return Err(String::new()),
            (Some(Step::Key(key)), Value::Object(map)) => map.remove(key),
            (Some(Step::Index(i)), Value::Array(items)) if *i < items.len() => {
                Some(items.remove(*i))
            }
            _ => None,
        };
        taken.ok_or_else(not_found)
    }
}

fn not_found() -> String {
    "location does not exist".into()
}

/// Applies a patch (a JSON array of op objects) to `doc`, op by op. The first
/// failing op aborts the patch, and `doc` is then left as it was.
pub fn apply(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let mut work = doc.clone();
    apply_in_place(&mut work, ops)?;
    *doc = work;
    Ok(())
}

/// Like [`apply`], but on error `doc` holds whatever the ops before the
/// failing one did. Callers that discard `doc` on error skip a copy.
fn apply_in_place(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops.as_array().ok_or("patch must be an array")?;
    ops.iter().try_for_each(|op| apply_op(doc, op))
}

/// Applies `ops` to a held response body, as a response-hold session does
/// when an `http-response` item with `body-patch` arrives. The body must be a
/// JSON object or array, and so must the result. The result is compact JSON
/// with sorted keys, plus the body's trailing `\r\n` or `\n` if it had one.
pub fn apply_to_body(body: &[u8], ops: &Value) -> Result<Vec<u8>, String> {
    let mut doc: Value = serde_json::from_slice(body)
        .ok()
        .filter(is_container)
        .ok_or("failed to parse original response body as JSON")?;
    apply_in_place(&mut doc, ops)?;
    if !is_container(&doc) {
        return Err("patched document is not an object or array".into());
    }
    let mut out = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    if body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    } else if body.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

fn is_container(v: &Value) -> bool {
    v.is_object() || v.is_array()
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let op = op.as_object().ok_or("invalid op")?;
    let name = str_field(op, "op")?;
    let path = str_field(op, "path")?;
    if name == "move" {
        return apply_move(doc, op, path);
    }
    let loc = resolve(doc, path)?;
    match name {
        "add" => loc.set(doc, value_field(op)?.clone()),
        "remove" => loc.take(doc).map(drop),
        "replace" => {
            let value = value_field(op)?;
            loc.get(doc).ok_or_else(not_found)?;
            loc.set(doc, value.clone())
        }
        "copy" => {
            let from = resolve(doc, str_field(op, "from")?)?;
            let value = from.get(doc).ok_or_else(not_found)?.clone();
            loc.set(doc, value)
        }
        "test" => {
            let expected = value_field(op)?;
            if loose_eq(loc.get(doc), Some(expected)) {
                Ok(())
            } else {
                Err("tested values are not equal".into())
            }
        }
        other => Err(format!("unsupported op: {other}")),
    }
}

fn apply_move(doc: &mut Value, op: &Map<String, Value>, path: &str) -> Result<(), String> {
    let from = str_field(op, "from")?;
    if is_strictly_inside(path, from) {
        return Err("cannot move location into itself".into());
    }
    let value = resolve(doc, from)?.take(doc)?;
    resolve(doc, path)?.set(doc, value)
}

/// Whether `path`'s raw segments extend `from`'s (both absolute, not equal).
fn is_strictly_inside(path: &str, from: &str) -> bool {
    match (path.strip_prefix('/'), from.strip_prefix('/')) {
        (Some(path), Some(from)) if path != from => {
            let mut path = path.split('/');
            from.split('/').all(|f| path.next() == Some(f)) && path.next().is_some()
        }
        _ => false,
    }
}

fn str_field<'a>(op: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match op.get(key) {
        None => Err(format!("op does not contain '{key}'")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("op contains '{key}' with wrong type")),
    }
}

fn value_field(op: &Map<String, Value>) -> Result<&Value, String> {
    op.get("value")
        .ok_or_else(|| "op does not contain 'value'".to_string())
}

/// `test` equality as in Pushpin 1.36 on Qt 5.15; `None` is "no value"
/// (a missing member or `-`).
fn loose_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let (a, b) = match (a, b) {
        (None, None) => return true,
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(Some(v), Some(w))))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| loose_eq(Some(v), Some(w)))
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => match (as_integer(a), as_integer(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// A number, string or boolean converted to an integer the way Qt does for
/// `test`; `None` for containers and null.
fn as_integer(v: &Value) -> Option<i128> {
    match v {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::String(s) => Some(s.trim().parse::<i64>().map_or(0, i128::from)),
        Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            i128::from(i)
        } else if let Some(u) = n.as_u64() {
            i128::from(u)
        } else {
            // Qt 5's qRound: halves round up. `as` saturates, and serde_json
            // numbers are always finite.
            (n.as_f64().unwrap_or(0.0) + 0.5).floor() as i128
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests;
