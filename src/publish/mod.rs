//! The publish API: `POST /publish/`, `POST /recover`, `GET /`. [`parse`]
//! validates bodies (pure); [`http`] serves the API and hands valid items to
//! the hub.

pub mod http;
pub mod parse;
