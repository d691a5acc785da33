//! The GRIP vocabulary, free of I/O: instructions from backends, published
//! items and their formats, request signing.

pub mod base64;
pub mod filter;
pub mod format;
pub mod instruct;
pub mod item;
pub mod jsonpatch;
pub mod link;
pub mod params;
pub mod sig;
