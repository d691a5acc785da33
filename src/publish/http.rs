//! The publish API server (`push_in_http_addr:push_in_http_port`):
//! `GET /`, `POST /publish/`, `POST /recover`. It answers like 1.36's:
//! one request per connection, `Connection: close`, plain-text errors,
//! `text/plain` or JSON success bodies by `Accept`.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream};

use super::parse::parse_publish_body;
use crate::app::Ctx;
use crate::server::io::{read_some, write_all};

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

/// One complete response of the API.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub reason: &'static str,
    pub json: bool,
    pub allow: bool,
    pub body: String,
}

impl ApiResponse {
    fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Self {
        ApiResponse {
            status,
            reason,
            json: false,
            allow: false,
            body: body.into(),
        }
    }

    fn success(format: Format, message: &str) -> Self {
        match format {
            Format::Text => ApiResponse::text(200, "OK", format!("{message}\n")),
            Format::Json => ApiResponse {
                json: true,
                ..ApiResponse::text(200, "OK", format!("{{\"message\":\"{message}\"}}\n"))
            },
        }
    }

    fn bad_request(body: &str) -> Self {
        ApiResponse::text(400, "Bad Request", format!("{body}\n"))
    }

    /// Encodes the response with 1.36's header order.
    pub fn encode(&self, http10: bool) -> Vec<u8> {
        let mut out = format!(
            "{} {} {}\r\n",
            if http10 { "HTTP/1.0" } else { "HTTP/1.1" },
            self.status,
            self.reason
        );
        if self.allow {
            out.push_str("Allow: POST\r\n");
        }
        out.push_str(if self.json {
            "Content-Type: application/json\r\n"
        } else {
            "Content-Type: text/plain\r\n"
        });
        out.push_str("Connection: close\r\n");
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut v = out.into_bytes();
        v.extend_from_slice(self.body.as_bytes());
        v
    }
}

/// Accepts publish API connections until shutdown.
pub async fn run(listener: TcpListener, ctx: Ctx) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx2 = ctx.clone();
                ctx.tracker.spawn(async move {
                    tokio::select! {
                        _ = ctx2.shutdown.cancelled() => {}
                        r = serve(stream, peer, &ctx2) => {
                            if let Err(e) = r {
                                tracing::debug!(error = %e, "publish API connection failed");
                            }
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "publish API accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A parsed request of the API (head and complete body).
struct ApiRequest {
    method: String,
    target: String,
    http10: bool,
    accept: Vec<String>,
    body: Vec<u8>,
}

async fn serve(stream: TcpStream, _peer: SocketAddr, ctx: &Ctx) -> io::Result<()> {
    let (req, http10) = match read_request(&stream, ctx).await? {
        Ok(r) => {
            let v = r.http10;
            (r, v)
        }
        Err((resp, http10)) => {
            write_all(&stream, &resp.encode(http10)).await?;
            return Ok(());
        }
    };
    let resp = route(&req, ctx);
    write_all(&stream, &resp.encode(http10)).await
}

async fn read_request(
    stream: &TcpStream,
    ctx: &Ctx,
) -> io::Result<Result<ApiRequest, (ApiResponse, bool)>> {
    let max_head = ctx.config.publish_max_headers_size;
    let max_body = ctx.config.publish_max_body_size;
    let mut buf = BytesMut::new();
    let mut eof = false;
    let (head_len, method, target, http10, headers) = loop {
        let mut slots = [httparse::EMPTY_HEADER; 100];
        let mut r = httparse::Request::new(&mut slots);
        match r.parse(&buf) {
            Ok(httparse::Status::Complete(n)) if n <= max_head => {
                let headers: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                break (
                    n,
                    r.method.unwrap_or("").to_owned(),
                    r.path.unwrap_or("").to_owned(),
                    r.version == Some(0),
                    headers,
                );
            }
            Ok(_) if buf.len() >= max_head => {
                return Ok(Err((
                    ApiResponse::bad_request("Request header too large."),
                    false,
                )));
            }
            Ok(httparse::Status::Partial) => {}
            Ok(httparse::Status::Complete(_)) => {
                return Ok(Err((
                    ApiResponse::bad_request("Request header too large."),
                    false,
                )));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Ok(Err((
                    ApiResponse::bad_request("Request header too large."),
                    false,
                )));
            }
            Err(_) => {
                return Ok(Err((
                    ApiResponse::bad_request("Failed to parse request header."),
                    false,
                )));
            }
        }
        if read_some(stream, &mut buf, &mut eof).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let assumes_body = !matches!(method.as_str(), "HEAD" | "GET" | "DELETE" | "OPTIONS");
    let length = match header("content-length") {
        None if header("transfer-encoding").is_some() || assumes_body => {
            let r = ApiResponse::text(411, "Length Required", "Request requires Content-Length.\n");
            return Ok(Err((r, http10)));
        }
        None => 0,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n < 0 => {
                let r = ApiResponse::bad_request("Request body exceeded Content-Length.");
                return Ok(Err((r, http10)));
            }
            Ok(n) => n as usize,
            Err(_) => {
                return Ok(Err((
                    ApiResponse::bad_request("Bad Content-Length."),
                    http10,
                )))
            }
        },
    };
    if length > max_body {
        return Ok(Err((
            ApiResponse::bad_request("Request body too large."),
            http10,
        )));
    }
    if header("expect") == Some("100-continue") {
        let line: &[u8] = if http10 {
            b"HTTP/1.0 100 Continue\r\n\r\n"
        } else {
            b"HTTP/1.1 100 Continue\r\n\r\n"
        };
        write_all(stream, line).await?;
    }
    let _ = buf.split_to(head_len);
    while buf.len() < length {
        if read_some(stream, &mut buf, &mut eof).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    if buf.len() > length {
        let r = ApiResponse::bad_request("Request body exceeded Content-Length.");
        return Ok(Err((r, http10)));
    }
    let accept = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.clone())
        .collect();
    Ok(Ok(ApiRequest {
        method,
        target,
        http10,
        accept,
        body: buf.to_vec(),
    }))
}

fn route(req: &ApiRequest, ctx: &Ctx) -> ApiResponse {
    let Some(format) = negotiate(req.accept.iter().map(String::as_str)) else {
        return ApiResponse::text(
            406,
            "Not Acceptable",
            "Not Acceptable. Supported formats are text/plain and application/json.\n",
        );
    };
    let mut path = req.target.as_str();
    if path.len() > 1 && path.ends_with('/') {
        path = &path[..path.len() - 1];
    }
    let not_allowed = || ApiResponse {
        allow: true,
        ..ApiResponse::text(
            405,
            "Method Not Allowed",
            format!("Method not allowed: {}.\n", req.method),
        )
    };
    match path {
        "/" => ApiResponse::text(200, "OK", "Pushpin API\n"),
        "/publish" if req.method == "POST" => match parse_publish_body(&req.body) {
            Ok(items) => {
                ctx.publish(items);
                ApiResponse::success(format, "Published")
            }
            Err(e) => ApiResponse::bad_request(&e.to_string()),
        },
        "/recover" if req.method == "POST" => {
            ctx.recover();
            ApiResponse::success(format, "Updated")
        }
        "/publish" | "/recover" => not_allowed(),
        _ => ApiResponse::text(404, "Not Found", "Not Found\n"),
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
        let r = ApiResponse {
            allow: true,
            ..ApiResponse::text(405, "Method Not Allowed", "Method not allowed: GET.\n")
        };
        assert_eq!(
            String::from_utf8(r.encode(false)).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 25\r\n\r\nMethod not allowed: GET.\n"
        );
        let j = ApiResponse::success(Format::Json, "Published");
        assert!(String::from_utf8(j.encode(true))
            .unwrap()
            .starts_with("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"));
    }
}
