//! Table-driven tests of CORS headers, JSON-P request rewriting and
//! response wrapping. Expected values are what Debian's 1.36 sends for the
//! same input (checked by hand against it).

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::*;
use crate::http1::ResponseHead;

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in list {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn lines(h: &HeaderMap) -> Vec<String> {
    h.iter()
        .map(|(n, v)| format!("{}: {}", title_cased(n.as_str()), v.to_str().unwrap()))
        .collect()
}

#[test]
fn cors_headers() {
    let defaults = [
        "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
        "Access-Control-Allow-Credentials: true",
        "Access-Control-Allow-Origin: *",
        "Access-Control-Max-Age: 3600",
    ];
    // (request headers, response headers, response headers after)
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        Vec<&'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        // nothing from the request, only simple response headers
        (
            &[],
            &[("Content-Type", "text/plain"), ("Content-Length", "6")],
            [
                &["Content-Type: text/plain", "Content-Length: 6"][..],
                &defaults[..],
            ]
            .concat(),
        ),
        // a preflight: method and headers echoed, the origin reflected
        (
            &[
                ("Origin", "https://o.example"),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "X-A, x-b"),
                ("Access-Control-Request-Headers", "X-C,,"),
            ],
            &[("Allow", "GET")],
            vec![
                "Allow: GET",
                "Access-Control-Allow-Methods: PUT",
                "Access-Control-Allow-Headers: X-A, x-b, X-C",
                "Access-Control-Expose-Headers: Allow",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: https://o.example",
                "Access-Control-Max-Age: 3600",
            ],
        ),
        // an empty request method counts as none; the first Origin wins
        (
            &[
                ("Access-Control-Request-Method", ""),
                ("Origin", "https://a.example"),
                ("Origin", "https://b.example"),
            ],
            &[],
            vec![
                "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Origin: https://a.example",
                "Access-Control-Max-Age: 3600",
            ],
        ),
        // headers the backend set are kept; non-simple ones are exposed once
        (
            &[("Origin", "https://o.example")],
            &[
                ("Access-Control-Allow-Origin", "https://fixed.example"),
                ("Access-Control-Allow-Methods", "GET"),
                ("ETag", "\"a\""),
                ("X-Foo", "1"),
                ("X-Foo", "2"),
                ("Cache-Control", "no-cache"),
                ("Grip-Hold", "stream"),
            ],
            vec![
                "Access-Control-Allow-Origin: https://fixed.example",
                "Access-Control-Allow-Methods: GET",
                "Etag: \"a\"",
                "X-Foo: 1",
                "X-Foo: 2",
                "Cache-Control: no-cache",
                "Grip-Hold: stream",
                "Access-Control-Expose-Headers: Etag, X-Foo",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Max-Age: 3600",
            ],
        ),
        // a backend's own Expose-Headers is left alone
        (
            &[],
            &[
                ("Access-Control-Expose-Headers", "X-Only"),
                ("X-Other", "y"),
                ("Access-Control-Max-Age", "5"),
                ("Access-Control-Allow-Credentials", "false"),
            ],
            vec![
                "Access-Control-Expose-Headers: X-Only",
                "X-Other: y",
                "Access-Control-Max-Age: 5",
                "Access-Control-Allow-Credentials: false",
                "Access-Control-Allow-Methods: OPTIONS, HEAD, GET, POST, PUT, DELETE",
                "Access-Control-Allow-Origin: *",
            ],
        ),
    ];
    for (req, resp, want) in cases {
        let req = headers(req);
        let mut resp = headers(resp);
        apply_cors(&req, &mut resp);
        assert_eq!(lines(&resp), want, "request {req:?}");
    }
}

#[test]
fn remove_keeps_order() {
    let mut h = headers(&[("A", "1"), ("B", "2"), ("C", "3"), ("B", "4"), ("D", "5")]);
    remove_in_order(&mut h, &HeaderName::from_static("b"));
    assert_eq!(lines(&h), ["A: 1", "C: 3", "D: 5"]);
}

/// What a rewrite led to, in short.
#[derive(Debug, PartialEq)]
enum Got {
    NotJsonp,
    Err(JsonpError),
    Ok {
        method: &'static str,
        target: String,
        body: String,
        callback: String,
    },
}

fn ok(method: &'static str, target: &str, body: &str, callback: &str) -> Got {
    Got::Ok {
        method,
        target: target.into(),
        body: body.into(),
        callback: callback.into(),
    }
}

fn run(method: &Method, target: &str, config: &JsonpConfig) -> Got {
    match jsonp::rewrite(method, target, &HeaderMap::new(), config) {
        Ok(None) => Got::NotJsonp,
        Err(e) => Got::Err(e),
        Ok(Some(r)) => Got::Ok {
            method: Box::leak(r.method.to_string().into_boxed_str()),
            target: r.target,
            body: String::from_utf8(r.body.to_vec()).unwrap(),
            callback: String::from_utf8(r.wrap.callback.to_vec()).unwrap(),
        },
    }
}

#[test]
fn jsonp_rewrites() {
    let ext = JsonpConfig::default();
    let basic = JsonpConfig {
        body_param: Some("b".into()),
        ..JsonpConfig::new(JsonpMode::Basic)
    };
    let named = JsonpConfig {
        callback_param: Some("cb".into()),
        body_param: Some("body".into()),
        default_callback: Some("defcb".into()),
        ..JsonpConfig::default()
    };
    let put = JsonpConfig {
        default_method: Method::PUT,
        ..basic.clone()
    };
    let get = Method::GET;
    let cases: Vec<(&Method, &str, &JsonpConfig, Got)> = vec![
        (
            &get,
            "/x?callback=f&x=1",
            &ext,
            ok("GET", "/x?x=1", "", "f"),
        ),
        (&get, "/x?callback=f", &ext, ok("GET", "/x", "", "f")),
        (&get, "/x?callback=f&", &ext, ok("GET", "/x", "", "f")),
        (&get, "/x", &ext, Got::NotJsonp),
        (&get, "/x?y=1", &ext, Got::NotJsonp),
        (&Method::POST, "/x?callback=f", &ext, Got::NotJsonp),
        (&Method::HEAD, "/x?callback=f", &ext, Got::NotJsonp),
        // lenient decoding: a bad escape stays literal, `+` stays `+`
        (&get, "/x?callback=a%2Eb", &ext, ok("GET", "/x", "", "a.b")),
        (&get, "/x?callback=%zz", &ext, ok("GET", "/x", "", "%zz")),
        (&get, "/x?callback=a+b", &ext, ok("GET", "/x", "", "a+b")),
        (&get, "/x?callback=", &ext, Got::Err(JsonpError::Callback)),
        (&get, "/x?callback", &ext, Got::Err(JsonpError::Callback)),
        // the first value is used, every copy removed; the rest as sent
        (
            &get,
            "/x?a=%41&callback=f&z=1&callback=g&e",
            &ext,
            ok("GET", "/x?a=%41&z=1&e", "", "f"),
        ),
        (
            &get,
            "/x?callback=f&_method=POST&_body=hi%20there",
            &ext,
            ok("POST", "/x", "hi there", "f"),
        ),
        (
            &get,
            "/x?callback=f&_method=P%4FST",
            &ext,
            ok("POST", "/x", "", "f"),
        ),
        (
            &get,
            "/x?callback=f&_method=",
            &ext,
            Got::Err(JsonpError::Method),
        ),
        (
            &get,
            "/x?callback=f&_method=%01",
            &ext,
            Got::Err(JsonpError::Method),
        ),
        (
            &get,
            "/x?callback=f&_method=A%20B",
            &ext,
            Got::Err(JsonpError::Method),
        ),
        (
            &get,
            "/x?callback=f&_body=",
            &ext,
            Got::Err(JsonpError::UnderscoreBody),
        ),
        (
            &get,
            "/x?callback=f&_body=%zz",
            &ext,
            ok("GET", "/x", "%zz", "f"),
        ),
        (
            &get,
            "/x?callback=f&_headers=",
            &ext,
            Got::Err(JsonpError::Headers),
        ),
        (
            &get,
            "/x?callback=f&_headers=%5B1%5D",
            &ext,
            Got::Err(JsonpError::Headers),
        ),
        (
            &get,
            "/x?callback=f&_headers=%7B%22a%22%3A1%7D",
            &ext,
            Got::Err(JsonpError::Headers),
        ),
        // basic: POST by default, the body parameter
        (&get, "/x?callback=f", &basic, ok("POST", "/x", "", "f")),
        (
            &get,
            "/x?callback=f&b=%7B%7D",
            &basic,
            ok("POST", "/x", "{}", "f"),
        ),
        (
            &get,
            "/x?callback=f&b=%2",
            &basic,
            ok("POST", "/x", "%2", "f"),
        ),
        (&get, "/x?callback=f&b=", &basic, Got::Err(JsonpError::Body)),
        // with a body parameter, `_body` is an ordinary parameter
        (
            &get,
            "/x?callback=f&_body=1",
            &basic,
            ok("POST", "/x?_body=1", "", "f"),
        ),
        // a body parameter alone needs a default callback
        (&get, "/x?b=1", &basic, Got::NotJsonp),
        (
            &get,
            "/x?body=%7B%7D&q=1",
            &named,
            ok("GET", "/x?q=1", "{}", "defcb"),
        ),
        (
            &get,
            "/x?cb=g&callback=no",
            &named,
            ok("GET", "/x?callback=no", "", "g"),
        ),
        (&get, "/x?callback=f", &named, Got::NotJsonp),
        (&get, "/x?b=x", &put, Got::NotJsonp),
        (
            &get,
            "/x?callback=f&_method=PATCH&b=y",
            &put,
            ok("PATCH", "/x", "y", "f"),
        ),
        (&get, "/x?callback=f&b=y", &put, ok("PUT", "/x", "y", "f")),
    ];
    for (method, target, config, want) in cases {
        assert_eq!(run(method, target, config), want, "{method} {target}");
    }
}

#[test]
fn jsonp_request_headers() {
    let config = JsonpConfig {
        body_param: Some("b".into()),
        ..JsonpConfig::new(JsonpMode::Basic)
    };
    let client = headers(&[
        ("Host", "example.com"),
        ("Accept", "text/html"),
        ("X-Client", "c"),
    ]);
    // {"Accept":"x","Content-Type":"text/y","B":"b","A":"a"}
    let target = "/x?callback=f&_headers=%7B%22Accept%22%3A%22x%22%2C%22Content-Type%22%3A%22text%2Fy%22%2C%22B%22%3A%22b%22%2C%22A%22%3A%22a%22%7D&b=1";
    let r = jsonp::rewrite(&Method::GET, target, &client, &config)
        .unwrap()
        .unwrap();
    assert_eq!(
        lines(&r.headers),
        [
            "A: a",
            "B: b",
            "Content-Type: application/json",
            "Host: example.com",
            "Accept: */*",
            "X-Client: c",
        ]
    );
}

fn wrap(mode: JsonpMode) -> Wrap {
    Wrap {
        callback: bytes::Bytes::from_static(b"f"),
        mode,
    }
}

#[test]
fn relayed_whole() {
    let h = headers(&[
        ("Content-Type", "text/plain"),
        ("X-Foo", "1"),
        ("X-Foo", "3"),
        ("ETag", "\"abc\""),
        ("Content-Length", "5"),
    ]);
    let cases = [
        (
            JsonpMode::Extended,
            &b"a\"b\\c\x01\t\xc3\xa9/\n"[..],
            concat!(
                r#"/**/f({"code": 404, "reason": "Not Found", "headers": {"Content-Length":"5","Content-Type":"text/plain","Etag":"\"abc\"","X-Foo":"1"}, "body": "#,
                r#""a\"b\\c\u0001\té/\n"});"#,
                "\n"
            )
            .as_bytes(),
        ),
        (JsonpMode::Basic, &b"nope\n"[..], &b"/**/f(nope);\n"[..]),
        (JsonpMode::Basic, &b"{\"a\":1}\r\n"[..], &b"/**/f({\"a\":1});\n"[..]),
        (JsonpMode::Basic, &b"x\n\n"[..], &b"/**/f(x\n);\n"[..]),
    ];
    for (mode, body, want) in cases {
        let got = wrap(mode).whole(404, "Not Found", &h, body);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }
    let head = wrap::wrapper_head(&headers(&[("Cache-Control", "no-cache"), ("X-Foo", "1")]));
    assert_eq!((head.status, head.reason.as_str()), (200, "OK"));
    assert_eq!(
        lines(&head.headers),
        [
            "Content-Type: application/javascript",
            "Cache-Control: no-cache"
        ]
    );
}

#[test]
fn relayed_streamed() {
    // pieces → encoded output
    let cases: [(JsonpMode, &[&[u8]], &str); 4] = [
        (
            JsonpMode::Basic,
            &[b"part1\n", b"part2\n"],
            "part1\npart2);\n",
        ),
        (JsonpMode::Basic, &[b"a\r\n", b"", b"b"], "a\r\nb);\n"),
        (
            JsonpMode::Extended,
            &[b"part1\n", b"part2\n"],
            "part1\\npart2\\n\"});\n",
        ),
        // a character cut between pieces is not broken
        (
            JsonpMode::Extended,
            &[b"\xc3", b"\xa9\xe2\x82", b"\xac"],
            "é€\"});\n",
        ),
    ];
    for (mode, pieces, want) in cases {
        let w = wrap(mode);
        let mut enc = w.stream();
        let mut out = Vec::new();
        for p in pieces {
            enc.piece(p, &mut out);
        }
        enc.finish(w.end(), &mut out);
        assert_eq!(String::from_utf8_lossy(&out), want, "{pieces:?}");
    }
    // an unfinished character at the very end becomes a replacement
    let w = wrap(JsonpMode::Extended);
    let mut enc = w.stream();
    let mut out = Vec::new();
    enc.piece(b"a\xe2\x82", &mut out);
    assert_eq!(out, b"a");
    enc.finish(w.end(), &mut out);
    assert_eq!(String::from_utf8_lossy(&out), "a\u{fffd}\"});\n");
}

#[test]
fn hold_responses() {
    let mut head = ResponseHead::new(201, "Made");
    head.headers = headers(&[
        ("X-Timeout-H", "1"),
        ("Content-Type", "text/x"),
        ("X-Pub", "p"),
        ("X-Pub", "q"),
    ]);
    let (h, body) = wrap(JsonpMode::Extended).hold_response(head.clone(), b"pub body\n");
    assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
    assert_eq!(
        lines(&h.headers),
        [
            "X-Timeout-H: 1",
            "X-Pub: p",
            "X-Pub: q",
            "Content-Type: application/javascript"
        ]
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "/**/f({\"body\":\"pub body\\n\",\"code\":201,\"headers\":{\"Content-Type\":\"text/x\",\"X-Pub\":\"p, q\",\"X-Timeout-H\":\"1\"},\"reason\":\"Made\"});\n"
    );
    let (_, body) = wrap(JsonpMode::Basic).hold_response(head, b"pub body\n");
    assert_eq!(body, b"/**/f(pub body);\n");
}
