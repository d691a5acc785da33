//! The publish API: `POST /publish/`, `POST /recover`, `GET /`.

pub mod parse;
