//! Applying subscription filters to deliveries and to proxied content, for
//! the HTTP sessions. The filter logic itself is pure and lives in
//! [`crate::grip::filter`]; this adapts it to sessions and keeps the common
//! case (no filters) free of any work.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::grip::instruct::Instruct;
use crate::grip::item::{ContentFilters, Item};

/// Subscription meta of a session.
pub type SubMeta = BTreeMap<String, Option<String>>;

/// What to do with one delivery.
#[derive(Debug)]
pub enum Filtered {
    /// Send the content as published (its pre-encoded forms can be used).
    Same,
    /// Send this content instead (content filters changed it).
    Send(Bytes),
    /// A delivery filter dropped the item for this session.
    Drop,
    /// A filter failed; the message is for logs and debug bodies.
    Error(String),
}

/// Runs a channel's filters on one delivery's content.
pub fn for_delivery(
    filters: &[String],
    sub_meta: &SubMeta,
    prev_ids: &BTreeMap<String, Option<String>>,
    item: &Item,
    content: &Bytes,
    content_filters: Option<&ContentFilters>,
) -> Filtered {
    let declared = content_filters.and_then(|c| c.as_deref());
    if filters.is_empty() && declared.is_none() {
        return Filtered::Same;
    }
    let ctx = crate::grip::filter::FilterContext {
        sub_meta,
        pub_meta: &item.meta,
        prev_ids,
    };
    if let Err(e) = crate::grip::filter::check_content_filters(filters, declared) {
        return Filtered::Error(e);
    }
    if crate::grip::filter::should_drop(filters, &ctx) {
        return Filtered::Drop;
    }
    if !crate::grip::filter::has_content_filters(filters) {
        return Filtered::Same;
    }
    match crate::grip::filter::process_content(filters, &ctx, content) {
        Ok(b) => Filtered::Send(Bytes::from(b)),
        Err(e) => Filtered::Error(e),
    }
}

/// The `build-id` filters of all of an instruct's channels, applied to
/// content the proxy passes on itself (initial bodies, link bodies).
pub fn proxy_content(ins: &Instruct, body: &Bytes) -> Result<Bytes, String> {
    let lists: Vec<&[String]> = ins.channels.iter().map(|c| c.filters.as_slice()).collect();
    let filters = crate::grip::filter::proxy_content_filters(&lists);
    if filters.is_empty() {
        return Ok(body.clone());
    }
    let mut s = crate::grip::filter::ContentStream::new(&filters, &ins.meta);
    let mut out = s.update(body)?;
    out.extend(s.finalize()?);
    Ok(Bytes::from(out))
}
