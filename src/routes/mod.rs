//! The routes file: parsing (pure) and request matching.
//!
//! Syntax is Pushpin 1.36's: `DOMAIN[,props] TARGET[,props] [TARGET...]`,
//! one route per line, `#` comments. [`RouteTable::parse`] turns a whole file
//! into a table or the first error (with its line); [`RouteTable::find`]
//! picks the route for a request. The live table is swapped as a whole on
//! reload by [`crate::app`], so a request keeps the route it resolved.

mod matcher;
mod parse;
mod tokenize;

pub use matcher::{host_without_port, RouteById, RouteTable};
pub(crate) use parse::load_key;
pub use parse::{parse_line, Domain, Proto, Route, RouteError, Target, TargetKind};
pub use tokenize::{tokenize, Section, TokenError};
