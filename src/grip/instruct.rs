//! GRIP instructions from a backend response → [`Instruct`].
//!
//! Pure: takes the response's status, reason, headers and (complete) body.
//! Header instructions are read in 1.36's order and fail with its messages;
//! an `application/grip-instruct` body is then applied on top. The proxy
//! turns any error into a 502 (see [`crate::error`]).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::base64::decode_lenient;
use super::params::{find, parse_int, parse_params, split_list, value_and_params};
use crate::publish::parse::{parse_headers, to_int};
use crate::server::respond::reason_for;

/// Default hold timeout (response holds) and keep-alive interval.
pub const DEFAULT_TIMEOUT: u64 = 55;
/// Shortest response-hold timeout.
pub const MIN_TIMEOUT: u64 = 5;
/// Default `Grip-Link` timeout.
pub const DEFAULT_LINK_TIMEOUT: u64 = 120;

/// How a request is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldMode {
    Response,
    Stream,
}

/// One channel to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub name: String,
    pub prev_id: Option<String>,
    pub filters: Vec<String>,
}

/// When keep-alives are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveMode {
    /// After `timeout` without any send (deliveries restart the timer).
    Idle,
    /// Every `timeout`, whatever else was sent.
    Interval,
}

/// `Grip-Keep-Alive` (or the instruct `keep-alive` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub data: Bytes,
    pub timeout: Duration,
    pub mode: KeepAliveMode,
}

/// A `Grip-Link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// As written (may be relative).
    pub uri: String,
    pub timeout: Duration,
}

/// The response to send (held response, or the initial stream response).
#[derive(Debug, Clone, PartialEq)]
pub struct InstructResponse {
    pub code: u16,
    pub reason: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Everything a backend asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruct {
    pub hold: Option<HoldMode>,
    pub channels: Vec<ChannelSpec>,
    /// Response-hold timeout (already at least [`MIN_TIMEOUT`]).
    pub timeout: Duration,
    pub keep_alive: Option<KeepAlive>,
    /// Subscription meta (`None` values were given without a value).
    pub meta: BTreeMap<String, Option<String>>,
    pub next_link: Option<Link>,
    pub gone_link: Option<String>,
    /// Names from `Grip-Expose-Headers` (lower-case).
    pub expose_headers: Vec<String>,
    pub response: InstructResponse,
}

/// Whether a backend response carries GRIP instructions: any `Grip-*`
/// header, or `Content-Type: application/grip-instruct`.
pub fn is_grip_response(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| k.as_str().starts_with("grip-")) || is_instruct_content(headers)
}

fn is_instruct_content(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/grip-instruct")
}

fn first<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap_or(""))
}

fn pieces(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .flat_map(|v| split_list(v.to_str().unwrap_or("")))
        .collect()
}

type R<T> = Result<T, String>;

/// Parses the instructions of a GRIP response.
pub fn parse(code: u16, reason: &str, headers: &HeaderMap, body: Bytes) -> R<Instruct> {
    if (100..200).contains(&code) {
        // an interim answer (a 101 to a plain request) cannot carry a
        // response to hold: 1.36 answers 502
        return Err(format!("unexpected {code} response with GRIP instructions"));
    }
    let hold = match first(headers, "grip-hold") {
        None => None,
        Some("response") => Some(HoldMode::Response),
        Some("stream") => Some(HoldMode::Stream),
        Some(_) => return Err("Grip-Hold must be set to either 'response' or 'stream'".into()),
    };
    let mut channels = Vec::new();
    for piece in pieces(headers, "grip-channel") {
        let Ok((name, params)) = value_and_params(&piece) else {
            continue;
        };
        let prev_id = params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case("prev-id") && p.value.is_some())
            .and_then(|p| p.value.clone());
        let filters = params
            .iter()
            .filter(|p| p.name == "filter")
            .filter_map(|p| p.value.clone())
            .collect();
        channels.push(ChannelSpec {
            name,
            prev_id,
            filters,
        });
    }
    let timeout = match first(headers, "grip-timeout") {
        None => DEFAULT_TIMEOUT,
        Some(v) => match parse_int(v) {
            None => return Err("failed to parse Grip-Timeout".into()),
            Some(n) if n < 0 => return Err("Grip-Timeout has invalid value".into()),
            Some(n) => n as u64,
        },
    };
    let expose_headers: Vec<String> = pieces(headers, "grip-expose-headers")
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let keep_alive = match first(headers, "grip-keep-alive") {
        Some(v) if !v.is_empty() => Some(parse_keep_alive(v)?),
        _ => None,
    };
    let mut meta = BTreeMap::new();
    for piece in pieces(headers, "grip-set-meta") {
        let Ok(params) = parse_params(&piece) else {
            continue;
        };
        let Some(p) = params.into_iter().next() else {
            return Err("Grip-Set-Meta cannot be empty".into());
        };
        meta.insert(p.name, p.value);
    }
    let backend_code = code;
    let mut code = code;
    let mut reason = reason.to_owned();
    if let Some(v) = first(headers, "grip-status").filter(|v| !v.is_empty()) {
        let (c, r) = v.split_once(' ').unwrap_or((v, ""));
        code = parse_int(c)
            .filter(|n| (0..=999).contains(n))
            .ok_or("Grip-Status contains invalid status code")? as u16;
        reason = r.to_owned();
    }
    let (next_link, gone_link) = parse_links(headers)?;
    let mut out_headers = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("grip-") {
            continue;
        }
        if !expose_headers.is_empty() && !expose_headers.iter().any(|e| e == n) {
            continue;
        }
        out_headers.append(name.clone(), value.clone());
    }
    strip_hop_headers(&mut out_headers);
    let mut ins = Instruct {
        hold,
        channels,
        timeout: Duration::from_secs(timeout.max(MIN_TIMEOUT)),
        keep_alive,
        meta,
        next_link,
        gone_link,
        expose_headers,
        response: InstructResponse {
            code,
            reason,
            headers: out_headers,
            body,
        },
    };
    if is_instruct_content(headers) {
        if backend_code != 200 {
            return Err("response code for application/grip-instruct content must be 200".into());
        }
        apply_json(&mut ins)?;
    }
    if ins.response.reason.is_empty() {
        ins.response.reason = reason_for(ins.response.code).to_owned();
    }
    Ok(ins)
}

/// Removes the headers 1.36 never relays for held responses.
pub fn strip_hop_headers(h: &mut HeaderMap) {
    for n in [
        "connection",
        "keep-alive",
        "content-encoding",
        "transfer-encoding",
    ] {
        h.remove(n);
    }
}

fn parse_keep_alive(v: &str) -> R<KeepAlive> {
    let (data, params) =
        value_and_params(v).map_err(|_| "failed to parse Grip-Keep-Alive".to_owned())?;
    if data.is_empty() {
        return Err("Grip-Keep-Alive cannot be empty".into());
    }
    let mode = match find(&params, "mode").and_then(|p| p.value.as_deref()) {
        None | Some("") | Some("idle") => KeepAliveMode::Idle,
        Some("interval") => KeepAliveMode::Interval,
        Some(m) => return Err(format!("no such Grip-Keep-Alive mode '{m}'")),
    };
    // a `timeout` without a value reads as empty, which is no number
    let timeout = match find(&params, "timeout").map(|p| p.value.as_deref().unwrap_or("")) {
        None => DEFAULT_TIMEOUT,
        Some(t) => match parse_int(t) {
            None => return Err("failed to parse Grip-Keep-Alive timeout value".into()),
            Some(n) if n < 0 => return Err("Grip-Keep-Alive timeout has invalid value".into()),
            Some(n) => n as u64,
        },
    };
    let data = match find(&params, "format").and_then(|p| p.value.as_deref()) {
        None | Some("") | Some("raw") => Bytes::from(data.into_bytes()),
        Some("cstring") => Bytes::from(
            unescape_cstring(&data)
                .filter(|d| !d.is_empty())
                .ok_or("failed to parse Grip-Keep-Alive cstring format")?,
        ),
        Some("base64") => Bytes::from(decode_lenient(&data)),
        Some(f) => return Err(format!("no such Grip-Keep-Alive format '{f}'")),
    };
    Ok(KeepAlive {
        data,
        timeout: Duration::from_secs(timeout.max(1)),
        mode,
    })
}

/// `\\`, `\r`, `\n` and `\xHH`; any other escape produces nothing.
pub fn unescape_cstring(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match *b.get(i + 1)? {
            b'\\' => out.push(b'\\'),
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b'x' => {
                let hex = s.get(i + 2..i + 4)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => {}
        }
        i += 2;
    }
    Some(out)
}

fn parse_links(headers: &HeaderMap) -> R<(Option<Link>, Option<String>)> {
    let mut next = None;
    let mut gone = None;
    for piece in pieces(headers, "grip-link") {
        let Ok((value, params)) = value_and_params(&piece) else {
            continue;
        };
        let rel = find(&params, "rel").and_then(|p| p.value.as_deref());
        if rel != Some("next") && rel != Some("gone") {
            continue;
        }
        let uri = value
            .strip_prefix('<')
            .and_then(|v| v.strip_suffix('>'))
            .filter(|v| !v.is_empty())
            .map(encode_link);
        if rel == Some("gone") {
            // 1.36 knows no gone links, so a malformed one is no error
            if let Some(uri) = uri {
                gone = Some(uri);
            }
            continue;
        }
        let uri = uri.ok_or("failed to parse Grip-Link value")?;
        let timeout = match find(&params, "timeout").map(|p| p.value.as_deref().unwrap_or("")) {
            None => DEFAULT_LINK_TIMEOUT,
            Some(t) => match parse_int(t) {
                None => return Err("failed to parse Grip-Link timeout value".into()),
                Some(n) if n < 0 => return Err("Grip-Link timeout has invalid value".into()),
                Some(n) => n as u64,
            },
        };
        next = Some(Link {
            uri,
            timeout: Duration::from_secs(timeout),
        });
    }
    Ok((next, gone))
}

/// A link as 1.36 reads it (leniently): characters that may not appear in
/// a URL, such as spaces, are percent-encoded rather than refused.
fn encode_link(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for b in uri.bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn int_field(o: &Map<String, Value>, key: &str, what: &str) -> R<Option<i64>> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => to_int(v)
            .map(|n| Some(i64::from(n)))
            .ok_or_else(|| format!("{what} contains '{key}' with wrong type")),
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, key: &str, what: &str) -> R<Option<&'a str>> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{what} contains '{key}' with wrong type")),
    }
}

/// `*-bin` (base64) wins over the text field.
fn bin_field(o: &Map<String, Value>, key: &str, what: &str) -> R<Option<Bytes>> {
    let bin = format!("{key}-bin");
    if let Some(s) = str_field(o, &bin, what)? {
        return Ok(Some(Bytes::from(decode_lenient(s))));
    }
    Ok(str_field(o, key, what)?.map(|s| Bytes::copy_from_slice(s.as_bytes())))
}

fn apply_json(ins: &mut Instruct) -> R<()> {
    // like Qt's JSON reader, allow a UTF-8 byte order mark
    let body = &ins.response.body;
    let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let v: Value = serde_json::from_slice(text)
        .map_err(|_| "failed to parse application/grip-instruct content as JSON".to_owned())?;
    let Value::Object(o) = v else {
        return Err("instruct must be an object".into());
    };
    if let Some(h) = o.get("hold") {
        let Value::Object(h) = h else {
            return Err("instruct contains 'hold' with wrong type".into());
        };
        apply_json_hold(ins, h)?;
    }
    // the JSON form replaces the response headers and body
    ins.response.headers = HeaderMap::new();
    ins.response.body = Bytes::new();
    if let Some(r) = o.get("response") {
        let Value::Object(r) = r else {
            return Err(String::new());
        };
        apply_json_response(ins, r)?;
    }
    Ok(())
}

fn apply_json_hold(ins: &mut Instruct, h: &Map<String, Value>) -> R<()> {
    ins.hold = Some(match h.get("mode") {
        None => HoldMode::Response,
        Some(Value::String(m)) if m == "response" => HoldMode::Response,
        Some(Value::String(m)) if m == "stream" => HoldMode::Stream,
        Some(Value::String(_)) => {
            return Err("hold 'mode' must be set to either 'response' or 'stream'".into())
        }
        Some(_) => return Err("hold contains 'mode' with wrong type".into()),
    });
    let chans = match h.get("channels") {
        None => return Err("hold does not contain 'channels'".into()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("hold contains 'channels' with wrong type".into()),
    };
    for c in chans {
        let Value::Object(c) = c else {
            return Err("channel is not an object".into());
        };
        let name = match c.get("name") {
            None => return Err("channel does not contain 'name'".into()),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("channel contains 'name' with wrong type".into()),
        };
        let prev_id = str_field(c, "prev-id", "channel")?.map(str::to_owned);
        let filters = match c.get("filters") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|f| match f {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err("filters contains value with wrong type".to_owned()),
                })
                .collect::<R<_>>()?,
            Some(_) => return Err("channel contains 'filters' with wrong type".into()),
        };
        ins.channels.push(ChannelSpec {
            name,
            prev_id,
            filters,
        });
    }
    if let Some(t) = int_field(h, "timeout", "hold")? {
        if t < 0 {
            return Err("hold contains 'timeout' with invalid value".into());
        }
        ins.timeout = Duration::from_secs((t as u64).max(MIN_TIMEOUT));
    }
    if let Some(k) = h.get("keep-alive") {
        let Value::Object(k) = k else {
            return Err("hold contains 'keep-alive' with wrong type".into());
        };
        let data = bin_field(k, "content", "keep-alive")?;
        let timeout = match int_field(k, "timeout", "keep-alive")? {
            Some(t) if t < 0 => {
                return Err("keep-alive contains 'timeout' with invalid value".into())
            }
            Some(t) => t as u64,
            None => DEFAULT_TIMEOUT,
        };
        let prev = ins.keep_alive.take();
        let data = data
            .or_else(|| prev.as_ref().map(|p| p.data.clone()))
            .unwrap_or_default();
        // 1.36 never sets a mode from JSON: without a header mode the timer
        // is not restarted by deliveries, which is interval behaviour
        let mode = prev.map_or(KeepAliveMode::Interval, |p| p.mode);
        ins.keep_alive = Some(KeepAlive {
            data,
            timeout: Duration::from_secs(timeout.max(1)),
            mode,
        });
    }
    match h.get("meta") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Value::String(s) = v else {
                    return Err(format!("'meta' contains '{k}' with wrong type"));
                };
                ins.meta.insert(k.clone(), Some(s.clone()));
            }
        }
        Some(_) => return Err("hold contains 'meta' with wrong type".into()),
    }
    Ok(())
}

fn apply_json_response(ins: &mut Instruct, r: &Map<String, Value>) -> R<()> {
    if let Some(c) = int_field(r, "code", "response")? {
        if !(0..=999).contains(&c) {
            return Err("response contains 'code' with invalid value".into());
        }
        ins.response.code = c as u16;
        ins.response.reason.clear();
    }
    if let Some(reason) = str_field(r, "reason", "response")? {
        if !reason.is_empty() {
            ins.response.reason = reason.to_owned();
        }
    }
    if let Some(h) = r.get("headers") {
        let list = parse_headers(h).map_err(|e| {
            e.unwrap_or_else(|| "response contains 'headers' with wrong type".into())
        })?;
        for (name, value) in list {
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) else {
                continue;
            };
            ins.response.headers.append(n, v);
        }
        strip_hop_headers(&mut ins.response.headers);
    }
    if let Some(b) = bin_field(r, "body", "response")? {
        ins.response.body = b;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
