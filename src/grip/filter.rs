//! Subscription filters (1.36 behaviour, `specs/sequencer-filters.md` §4,
//! `specs/grip-sessions.md` §8).
//!
//! Pure: sessions call these per delivery (publish) or per body chunk
//! (proxied content), in their own task. Filter names are exact and
//! case-sensitive; unknown names are ignored everywhere.
//!
//! | name | role |
//! |---|---|
//! | `skip-self`, `skip-users`, `require-sub` | delivery: [`should_drop`] |
//! | `var-subst` | content of published items: [`process_content`] |
//! | `build-id` | content of published items and proxied bodies ([`ContentStream`]) |
//!
//! Order of use for a publish delivery: prev-id check (caller), then
//! [`check_content_filters`], then [`should_drop`], then [`process_content`].
//! All errors are complete session-level texts (`filter error: ...` or the
//! mismatch text), ready to log or to write in debug mode.
//!
//! Cost: with no filters, or none of a kind, every function returns without
//! allocating (except [`process_content`], which must return an owned copy:
//! callers on a hot path check [`has_content_filters`] first and reuse their
//! pre-encoded bytes).

use std::collections::BTreeMap;

use super::format::{render, render_partial};

const SKIP_SELF: &str = "skip-self";
const SKIP_USERS: &str = "skip-users";
const REQUIRE_SUB: &str = "require-sub";
const BUILD_ID: &str = "build-id";
const VAR_SUBST: &str = "var-subst";

/// What filters may look at for one delivery.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext<'a> {
    /// Subscription meta; a `None` value (given without a value) counts as absent.
    pub sub_meta: &'a BTreeMap<String, Option<String>>,
    /// The item's publish meta (empty for proxied content).
    pub pub_meta: &'a BTreeMap<String, String>,
    /// Channel name as the backend gave it (unprefixed) → its current
    /// prev-id. Empty for WebSocket deliveries and proxied content, which
    /// leaves `build-id` without a default ID.
    pub prev_ids: &'a BTreeMap<String, Option<String>>,
}

/// Whether any delivery filter drops this item for this subscriber.
pub fn should_drop(filters: &[String], ctx: &FilterContext<'_>) -> bool {
    filters.iter().any(|f| match f.as_str() {
        SKIP_SELF => {
            let user = sub_meta(ctx, "user");
            !user.is_empty() && user == pub_meta(ctx, "sender")
        }
        SKIP_USERS => {
            let user = sub_meta(ctx, "user");
            !user.is_empty()
                && pub_meta(ctx, "skip_users")
                    .split(',')
                    .any(|u| u.trim() == user)
        }
        REQUIRE_SUB => {
            let r = pub_meta(ctx, "require_sub");
            !r.is_empty() && !ctx.prev_ids.contains_key(r)
        }
        _ => false,
    })
}

fn sub_meta<'a>(ctx: &FilterContext<'a>, key: &str) -> &'a str {
    ctx.sub_meta
        .get(key)
        .and_then(Option::as_deref)
        .unwrap_or("")
}

fn pub_meta<'a>(ctx: &FilterContext<'a>, key: &str) -> &'a str {
    ctx.pub_meta.get(key).map_or("", String::as_str)
}

/// Whether `name` changes the content of published items.
pub fn is_content_filter(name: &str) -> bool {
    name == BUILD_ID || name == VAR_SUBST
}

/// Whether [`process_content`] would do anything for this list.
pub fn has_content_filters(filters: &[String]) -> bool {
    filters.iter().any(|f| is_content_filter(f))
}

/// The publisher's `content-filters` assertion: `item_filters` (`None` when
/// the format did not carry the key) must equal the subscription's content
/// filters, in order and with duplicates.
pub fn check_content_filters(
    sub_filters: &[String],
    item_filters: Option<&[String]>,
) -> Result<(), String> {
    let Some(item_filters) = item_filters else {
        return Ok(());
    };
    let sub = sub_filters.iter().filter(|f| is_content_filter(f));
    if sub.clone().eq(item_filters.iter()) {
        return Ok(());
    }
    let sub: Vec<&str> = sub.map(String::as_str).collect();
    Err(format!(
        "content filter mismatch: subscription={} message={}",
        sub.join(","),
        item_filters.join(",")
    ))
}

/// Runs the content filters of `filters`, in order, over a whole published
/// body (update, then finalize).
pub fn process_content(
    filters: &[String],
    ctx: &FilterContext<'_>,
    content: &[u8],
) -> Result<Vec<u8>, String> {
    if !has_content_filters(filters) {
        return Ok(content.to_vec());
    }
    let mut stack = Stack::new(filters, ctx.sub_meta, ctx.prev_ids, is_content_filter);
    let mut out = stack.update(content, ctx.sub_meta)?;
    out.extend(stack.finalize(ctx.sub_meta)?);
    Ok(out)
}

/// Filters that apply to proxied content for an instruct: the union over its
/// channels' lists of those targeting proxied content (only `build-id`),
/// de-duplicated, in order of first appearance.
pub fn proxy_content_filters(channel_filters: &[&[String]]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in channel_filters.iter().flat_map(|c| c.iter()) {
        if is_proxy_content_filter(f) && !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

fn is_proxy_content_filter(name: &str) -> bool {
    name == BUILD_ID
}

/// Streaming filter for proxied content (initial bodies, next-link bodies):
/// feed chunks to [`update`](Self::update), then call
/// [`finalize`](Self::finalize) once at the end. There are no prev-ids here,
/// so `%I` without an explicit ID fails. After an error the session ends;
/// the stream must not be used again.
#[derive(Debug)]
pub struct ContentStream {
    stack: Stack,
}

/// Stands in for sub meta in stacks without `var-subst` (proxied content).
static NO_VARS: BTreeMap<String, Option<String>> = BTreeMap::new();

impl ContentStream {
    /// Keeps the proxy-content filters of `filters` (see
    /// [`proxy_content_filters`]); sub meta is read now.
    pub fn new(filters: &[String], sub_meta: &BTreeMap<String, Option<String>>) -> Self {
        let stack = Stack::new(filters, sub_meta, &NO_VARS, is_proxy_content_filter);
        ContentStream { stack }
    }

    /// True when there is nothing to do: chunks pass through unchanged.
    pub fn is_passthrough(&self) -> bool {
        self.stack.stages.is_empty()
    }

    /// Filters one chunk. An incomplete directive at its end is held back.
    pub fn update(&mut self, chunk: &[u8]) -> Result<Vec<u8>, String> {
        self.stack.update(chunk, &NO_VARS)
    }

    /// Flushes what was held back (an incomplete directive is an error now).
    pub fn finalize(&mut self) -> Result<Vec<u8>, String> {
        self.stack.finalize(&NO_VARS)
    }
}

/// A fresh filter instance per known name, in subscription order.
#[derive(Debug)]
struct Stack {
    stages: Vec<Stage>,
}

#[derive(Debug)]
enum Stage {
    VarSubst,
    BuildId(BuildId),
}

impl Stack {
    fn new(
        filters: &[String],
        sub_meta: &BTreeMap<String, Option<String>>,
        prev_ids: &BTreeMap<String, Option<String>>,
        keep: fn(&str) -> bool,
    ) -> Self {
        let stages = filters
            .iter()
            .filter(|f| keep(f))
            .filter_map(|f| match f.as_str() {
                VAR_SUBST => Some(Stage::VarSubst),
                BUILD_ID => Some(Stage::BuildId(BuildId::new(sub_meta, prev_ids))),
                _ => None,
            })
            .collect();
        Stack { stages }
    }

    fn update(&mut self, data: &[u8], vars: &Vars) -> Result<Vec<u8>, String> {
        let Some((first, rest)) = self.stages.split_first_mut() else {
            return Ok(data.to_vec());
        };
        let mut out = first.update(data, vars)?;
        for stage in rest {
            out = stage.update(&out, vars)?;
        }
        Ok(out)
    }

    /// Each stage's leftovers go through the stages after it.
    fn finalize(&mut self, vars: &Vars) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for stage in &mut self.stages {
            if !out.is_empty() {
                out = stage.update(&out, vars)?;
            }
            out.extend(stage.finalize()?);
        }
        Ok(out)
    }
}

type Vars = BTreeMap<String, Option<String>>;

impl Stage {
    fn name(&self) -> &'static str {
        match self {
            Stage::VarSubst => VAR_SUBST,
            Stage::BuildId(_) => BUILD_ID,
        }
    }

    fn update(&mut self, data: &[u8], vars: &Vars) -> Result<Vec<u8>, String> {
        let r = match self {
            Stage::VarSubst => render(data, |d, arg, out| lookup(vars, d, arg, out)),
            Stage::BuildId(b) => b.update(data),
        };
        r.map_err(|e| self.error(&e))
    }

    fn finalize(&mut self) -> Result<Vec<u8>, String> {
        let r = match self {
            Stage::VarSubst => Ok(Vec::new()),
            Stage::BuildId(b) => b.finalize(),
        };
        r.map_err(|e| self.error(&e))
    }

    fn error(&self, message: &str) -> String {
        format!("filter error: {}: {message}", self.name())
    }
}

/// `build-id`: renders `%I` / `%(ID)I` with IDs built from `id_format`.
#[derive(Debug)]
struct BuildId {
    /// Resolved when built; its error is reported at the first use, as 1.36
    /// does with its lazy init (inputs cannot change in between).
    setup: Result<IdSetup, String>,
    /// Incomplete trailing directive kept from the previous update. Not
    /// bounded, as in 1.36: after a `%(` that is never closed, the rest of
    /// the body waits here (and is rescanned per chunk) until finalize fails.
    buf: Vec<u8>,
}

#[derive(Debug)]
struct IdSetup {
    /// `id_format` rendered with the prev-ids; `None` when there are none.
    default_id: Option<Vec<u8>>,
    hex: bool,
}

impl BuildId {
    fn new(sub_meta: &Vars, prev_ids: &Vars) -> Self {
        BuildId {
            setup: IdSetup::new(sub_meta, prev_ids),
            buf: Vec::new(),
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        let setup = self.setup.as_ref().map_err(Clone::clone)?;
        let handler = |d, arg: Option<&[u8]>, out: &mut Vec<u8>| setup.expand(d, arg, out);
        if self.buf.is_empty() {
            let (out, used) = render_partial(data, handler)?;
            self.buf.extend_from_slice(&data[used..]);
            Ok(out)
        } else {
            self.buf.extend_from_slice(data);
            let (out, used) = render_partial(&self.buf, handler)?;
            self.buf.drain(..used);
            Ok(out)
        }
    }

    fn finalize(&mut self) -> Result<Vec<u8>, String> {
        let setup = self.setup.as_ref().map_err(Clone::clone)?;
        let buf = std::mem::take(&mut self.buf);
        render(&buf, |d, arg, out| setup.expand(d, arg, out))
    }
}

impl IdSetup {
    fn new(sub_meta: &Vars, prev_ids: &Vars) -> Result<Self, String> {
        let Some(Some(id_format)) = sub_meta.get("id_format") else {
            return Err("no sub meta 'id_format'".to_owned());
        };
        let default_id = if prev_ids.is_empty() {
            None
        } else {
            let id = render(id_format.as_bytes(), |d, arg, out| {
                lookup(prev_ids, d, arg, out)
            });
            Some(id.map_err(|e| format!("failed to render ID: {e}"))?)
        };
        let hex = match sub_meta.get("id_encoding") {
            None | Some(None) => false,
            Some(Some(e)) if e == "hex" => true,
            Some(Some(e)) => return Err(format!("unsupported encoding: {e}")),
        };
        Ok(IdSetup { default_id, hex })
    }

    fn expand(&self, d: u8, arg: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), String> {
        if d != b'I' {
            return Err(unknown_directive(d));
        }
        let id = match arg {
            Some(id) => id,
            None => self
                .default_id
                .as_deref()
                .ok_or("No ID specified and no default ID in context")?,
        };
        if self.hex {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.reserve(id.len() * 2);
            for &b in id {
                out.push(DIGITS[usize::from(b >> 4)]);
                out.push(DIGITS[usize::from(b & 0xf)]);
            }
        } else {
            out.extend_from_slice(id);
        }
        Ok(())
    }
}

/// Handler for `%(name)s` over `vars` (sub meta for `var-subst`, prev-ids
/// for `id_format`); a `None` value counts as missing.
fn lookup(vars: &Vars, d: u8, arg: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), String> {
    if d != b's' {
        return Err(unknown_directive(d));
    }
    let Some(name) = arg else {
        return Err("Directive 's' requires argument".to_owned());
    };
    let value = std::str::from_utf8(name)
        .ok()
        .and_then(|n| vars.get(n))
        .and_then(Option::as_deref);
    match value {
        Some(v) => {
            out.extend_from_slice(v.as_bytes());
            Ok(())
        }
        None => Err(format!(
            "No such variable '{}'",
            String::from_utf8_lossy(name)
        )),
    }
}

fn unknown_directive(d: u8) -> String {
    format!("Unknown directive '{}'", char::from(d))
}

#[cfg(test)]
mod tests;
