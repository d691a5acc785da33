//! The publish API server (`push_in_http_addr:push_in_http_port`):
//! `GET /`, `POST /publish/`, `POST /recover`. It answers like 1.36's:
//! one request per connection, `Connection: close`, plain-text errors
//! (the reading and framing are [`crate::simplehttp`]'s), `text/plain` or
//! JSON success bodies by `Accept`.

use tokio::net::TcpListener;

use super::parse::parse_publish_body;
use crate::app::Ctx;
use crate::simplehttp::{self, Limits, Listener, Request, Response};

/// Response content type chosen by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// 1.36's `Accept` handling: every listed type is looked at in order and the
/// last one it knows wins (`q` values are ignored); a header that names
/// nothing known gets 406. `None` means 406.
pub fn negotiate<'a>(accept: impl Iterator<Item = &'a str>) -> Option<Format> {
    let mut present = false;
    let mut chosen = None;
    for value in accept {
        present = true;
        for element in crate::grip::params::split_list(value) {
            let media = element.split(';').next().unwrap_or("").trim();
            match media {
                "text/plain" | "text/*" | "*/*" | "*" => chosen = Some(Format::Text),
                "application/json" | "application/*" => chosen = Some(Format::Json),
                _ => {}
            }
        }
    }
    if present {
        chosen
    } else {
        Some(Format::Text)
    }
}

/// A `200` success answer in the negotiated format.
fn success(format: Format, message: &str) -> Response {
    match format {
        Format::Text => Response::text(200, "OK", format!("{message}\n")),
        Format::Json => Response {
            content_type: "application/json",
            ..Response::text(200, "OK", format!("{{\"message\":\"{message}\"}}\n"))
        },
    }
}

/// Accepts publish API connections until shutdown.
pub async fn run(listener: TcpListener, ctx: Ctx) {
    let limits = Limits {
        max_head: ctx.config.publish_max_headers_size,
        max_body: ctx.config.publish_max_body_size,
    };
    simplehttp::run(Listener::Tcp(listener), ctx, "publish API", limits, route).await;
}

fn route(req: &Request, ctx: &Ctx) -> Response {
    let Some(format) = negotiate(req.header_values("accept")) else {
        return Response::text(
            406,
            "Not Acceptable",
            "Not Acceptable. Supported formats are text/plain and application/json.\n",
        );
    };
    let mut path = req.target.as_str();
    if path.len() > 1 && path.ends_with('/') {
        path = &path[..path.len() - 1];
    }
    let not_allowed = || Response {
        allow: Some("POST"),
        ..Response::text(
            405,
            "Method Not Allowed",
            format!("Method not allowed: {}.\n", req.method),
        )
    };
    match path {
        "/" => Response::text(200, "OK", "Pushpin API\n"),
        "/publish" if req.method == "POST" => match parse_publish_body(&req.body) {
            Ok(items) => {
                ctx.publish(items);
                success(format, "Published")
            }
            Err(e) => Response::bad_request(&e.to_string()),
        },
        "/recover" if req.method == "POST" => {
            ctx.recover();
            success(format, "Updated")
        }
        "/publish" | "/recover" => not_allowed(),
        _ => Response::text(404, "Not Found", "Not Found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(values: &[&str]) -> Option<Format> {
        negotiate(values.iter().copied())
    }

    #[test]
    fn accept_negotiation_matches_1_36() {
        assert_eq!(neg(&[]), Some(Format::Text));
        assert_eq!(neg(&["text/plain, application/json"]), Some(Format::Json));
        assert_eq!(neg(&["application/json, text/plain"]), Some(Format::Text));
        assert_eq!(
            neg(&["text/plain;q=0.1, application/json;q=0.9"]),
            Some(Format::Json)
        );
        assert_eq!(neg(&["application/*"]), Some(Format::Json));
        assert_eq!(neg(&["image/png, */*"]), Some(Format::Text));
        assert_eq!(neg(&[""]), None);
        assert_eq!(neg(&["Application/JSON"]), None);
        assert_eq!(neg(&["image/png"]), None);
        assert_eq!(
            neg(&["image/png", "application/json", "image/gif"]),
            Some(Format::Json)
        );
        assert_eq!(
            neg(&["foo/bar;x=\"a,b\", application/json"]),
            Some(Format::Json)
        );
    }

    #[test]
    fn response_encoding() {
        let r = Response {
            allow: Some("POST"),
            ..Response::text(405, "Method Not Allowed", "Method not allowed: GET.\n")
        };
        assert_eq!(
            String::from_utf8(r.encode(false)).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 25\r\n\r\nMethod not allowed: GET.\n"
        );
        let j = success(Format::Json, "Published");
        assert!(String::from_utf8(j.encode(true))
            .unwrap()
            .starts_with("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"));
    }
}
