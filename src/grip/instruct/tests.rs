//! Unit tests for the instruct parser.

use super::*;
use http::{HeaderName, HeaderValue};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn parse_h(pairs: &[(&str, &str)]) -> R<Instruct> {
    parse(200, "OK", &headers(pairs), Bytes::from_static(b"body"))
}

fn json(v: &str) -> R<Instruct> {
    parse(
        200,
        "OK",
        &headers(&[("Content-Type", "application/grip-instruct")]),
        Bytes::copy_from_slice(v.as_bytes()),
    )
}

#[test]
fn detection() {
    assert!(is_grip_response(&headers(&[("Grip-Foo", "x")])));
    assert!(is_grip_response(&headers(&[(
        "Content-Type",
        "application/grip-instruct; charset=utf-8"
    )])));
    assert!(!is_grip_response(&headers(&[(
        "Content-Type",
        "text/plain"
    )])));
}

#[test]
fn stream_hold_from_headers() {
    let i = parse_h(&[
        ("Grip-Hold", "stream"),
        ("Grip-Channel", "apple; prev-id=item1; filter=f1"),
        (
            "Grip-Channel",
            "banana; filter=f2, cherry; filter=f1; filter=f2",
        ),
        (
            "Grip-Keep-Alive",
            "ping\\n; format=cstring; timeout=2; mode=interval",
        ),
        ("Grip-Set-Meta", "user=alice, foo"),
        (
            "Grip-Link",
            "</next?x=1>; rel=next; timeout=10, </gone>; rel=gone",
        ),
        ("Content-Type", "text/plain"),
        ("Content-Length", "4"),
        ("Connection", "close"),
    ])
    .unwrap();
    assert_eq!(i.hold, Some(HoldMode::Stream));
    let names: Vec<&str> = i.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["apple", "banana", "cherry"]);
    assert_eq!(i.channels[0].prev_id.as_deref(), Some("item1"));
    assert_eq!(i.channels[2].filters, vec!["f1", "f2"]);
    let ka = i.keep_alive.unwrap();
    assert_eq!(&ka.data[..], b"ping\n");
    assert_eq!(ka.timeout, Duration::from_secs(2));
    assert_eq!(ka.mode, KeepAliveMode::Interval);
    assert_eq!(i.meta.get("user"), Some(&Some("alice".to_owned())));
    assert_eq!(i.meta.get("foo"), Some(&None));
    assert_eq!(i.next_link.as_ref().unwrap().uri, "/next?x=1");
    assert_eq!(i.next_link.unwrap().timeout, Duration::from_secs(10));
    assert_eq!(i.gone_link.as_deref(), Some("/gone"));
    assert!(i.response.headers.get("grip-hold").is_none());
    assert!(i.response.headers.get("connection").is_none());
    assert_eq!(i.response.headers["content-type"], "text/plain");
    assert_eq!(&i.response.body[..], b"body");
}

#[test]
fn timeouts_and_status() {
    let i = parse_h(&[("Grip-Hold", "response"), ("Grip-Channel", "c")]).unwrap();
    assert_eq!(i.timeout, Duration::from_secs(55));
    let i = parse_h(&[("Grip-Hold", "response"), ("Grip-Timeout", "1")]).unwrap();
    assert_eq!(i.timeout, Duration::from_secs(5));
    let i = parse_h(&[("Grip-Status", "299 Custom Reason")]).unwrap();
    assert_eq!(
        (i.response.code, i.response.reason.as_str()),
        (299, "Custom Reason")
    );
    let i = parse_h(&[("Grip-Status", "404")]).unwrap();
    assert_eq!(i.response.reason, "Not Found");
    let i = parse_h(&[("Grip-Status", "418")]).unwrap();
    assert_eq!(i.response.reason, "Undefined Reason");
}

#[test]
fn expose_headers_keep_only_listed() {
    let i = parse_h(&[
        ("Grip-Expose-Headers", "X-A"),
        ("X-A", "1"),
        ("X-B", "2"),
        ("Content-Type", "text/plain"),
    ])
    .unwrap();
    assert_eq!(i.response.headers.len(), 1);
    assert_eq!(i.response.headers["x-a"], "1");
}

#[test]
fn header_errors() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("Grip-Hold", "bogus")],
            "Grip-Hold must be set to either 'response' or 'stream'",
        ),
        (
            &[("Grip-Hold", "")],
            "Grip-Hold must be set to either 'response' or 'stream'",
        ),
        (&[("Grip-Timeout", "x")], "failed to parse Grip-Timeout"),
        (&[("Grip-Timeout", "-1")], "Grip-Timeout has invalid value"),
        (
            &[("Grip-Keep-Alive", "; timeout=5")],
            "Grip-Keep-Alive cannot be empty",
        ),
        (
            &[("Grip-Keep-Alive", "x; mode=sometimes")],
            "no such Grip-Keep-Alive mode 'sometimes'",
        ),
        (
            &[("Grip-Keep-Alive", "x; timeout=y")],
            "failed to parse Grip-Keep-Alive timeout value",
        ),
        (
            &[("Grip-Keep-Alive", "x; timeout=-2")],
            "Grip-Keep-Alive timeout has invalid value",
        ),
        (
            &[("Grip-Keep-Alive", "x; format=hex")],
            "no such Grip-Keep-Alive format 'hex'",
        ),
        (
            &[("Grip-Keep-Alive", "x\\; format=cstring")],
            "failed to parse Grip-Keep-Alive cstring format",
        ),
        (
            &[("Grip-Keep-Alive", "\\t; format=cstring")],
            "failed to parse Grip-Keep-Alive cstring format",
        ),
        (
            &[("Grip-Set-Meta", "a=1,,b=2")],
            "Grip-Set-Meta cannot be empty",
        ),
        (
            &[("Grip-Status", "abc")],
            "Grip-Status contains invalid status code",
        ),
        (
            &[("Grip-Status", "1000 Big")],
            "Grip-Status contains invalid status code",
        ),
        (
            &[("Grip-Link", "/x; rel=next")],
            "failed to parse Grip-Link value",
        ),
        (
            &[("Grip-Link", "</x>; rel=next; timeout=z")],
            "failed to parse Grip-Link timeout value",
        ),
        (
            &[("Grip-Link", "</x>; rel=next; timeout=-1")],
            "Grip-Link timeout has invalid value",
        ),
        // a parameter without a value is present but empty
        (
            &[("Grip-Keep-Alive", "x; timeout")],
            "failed to parse Grip-Keep-Alive timeout value",
        ),
        (
            &[("Grip-Link", "</x>; rel=next; timeout")],
            "failed to parse Grip-Link timeout value",
        ),
    ];
    for (h, want) in cases {
        assert_eq!(parse_h(h).unwrap_err(), *want, "{h:?}");
    }
}

#[test]
fn keep_alive_formats() {
    let ka = |v: &str| {
        parse_h(&[("Grip-Keep-Alive", v)])
            .unwrap()
            .keep_alive
            .unwrap()
    };
    assert_eq!(&ka("KA; timeout=1").data[..], b"KA");
    assert_eq!(&ka(":\\n\\n; format=cstring").data[..], b":\n\n");
    assert_eq!(&ka("\\x41\\q; format=cstring").data[..], b"A");
    assert_eq!(&ka("aGk=; format=base64").data[..], b"hi");
    assert_eq!(ka("x; timeout=0").timeout, Duration::from_secs(1));
    assert_eq!(ka("x").mode, KeepAliveMode::Idle);
}

#[test]
fn json_instruct() {
    let i = json(
        r#"{"hold":{"mode":"stream","channels":[{"name":"a","prev-id":"1","filters":["skip-self"]}],
            "keep-alive":{"content":"ka","timeout":3},"meta":{"user":"u"}},
            "response":{"code":201,"headers":{"X-I":"yes","Content-Type":"text/plain"},"body":"instruct body\n"}}"#,
    )
    .unwrap();
    assert_eq!(i.hold, Some(HoldMode::Stream));
    assert_eq!(i.channels[0].filters, vec!["skip-self"]);
    assert_eq!(i.response.code, 201);
    assert_eq!(i.response.reason, "Created");
    assert_eq!(i.response.headers["x-i"], "yes");
    assert_eq!(&i.response.body[..], b"instruct body\n");
    let ka = i.keep_alive.unwrap();
    assert_eq!(
        (&ka.data[..], ka.mode),
        (&b"ka"[..], KeepAliveMode::Interval)
    );
    assert_eq!(i.meta.get("user"), Some(&Some("u".to_owned())));
    let i = json(
        r#"{"hold":{"channels":[{"name":"x"}],"timeout":30},"response":{"body-bin":"AAEC/w=="}}"#,
    )
    .unwrap();
    assert_eq!(i.hold, Some(HoldMode::Response));
    assert_eq!(i.timeout, Duration::from_secs(30));
    assert_eq!(&i.response.body[..], &[0, 1, 2, 255]);
    assert!(i.response.headers.is_empty());
    let i = json(r#"{"response":{"headers":[["X-A","1"],["X-A","2"]]}}"#).unwrap();
    assert_eq!(i.hold, None);
    assert_eq!(i.response.headers.get_all("x-a").iter().count(), 2);
}

#[test]
fn json_errors() {
    let bad201 = parse(
        201,
        "Created",
        &headers(&[("Content-Type", "application/grip-instruct")]),
        Bytes::from_static(b"{}"),
    );
    assert_eq!(
        bad201.unwrap_err(),
        "response code for application/grip-instruct content must be 200"
    );
    let cases = [
        (
            "{not json",
            "failed to parse application/grip-instruct content as JSON",
        ),
        ("[]", "instruct must be an object"),
        (r#"{"hold":5}"#, "instruct contains 'hold' with wrong type"),
        (
            r#"{"hold":{"mode":"x","channels":[]}}"#,
            "hold 'mode' must be set to either 'response' or 'stream'",
        ),
        (
            r#"{"hold":{"mode":5,"channels":[]}}"#,
            "hold contains 'mode' with wrong type",
        ),
        (r#"{"hold":{}}"#, "hold does not contain 'channels'"),
        (
            r#"{"hold":{"channels":5}}"#,
            "hold contains 'channels' with wrong type",
        ),
        (r#"{"hold":{"channels":[5]}}"#, "channel is not an object"),
        (
            r#"{"hold":{"channels":[{}]}}"#,
            "channel does not contain 'name'",
        ),
        (
            r#"{"hold":{"channels":[{"name":5}]}}"#,
            "channel contains 'name' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[{"name":"a","prev-id":5}]}}"#,
            "channel contains 'prev-id' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[{"name":"a","filters":5}]}}"#,
            "channel contains 'filters' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[{"name":"a","filters":[5]}]}}"#,
            "filters contains value with wrong type",
        ),
        (
            r#"{"hold":{"channels":[],"timeout":[]}}"#,
            "hold contains 'timeout' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[],"timeout":-1}}"#,
            "hold contains 'timeout' with invalid value",
        ),
        (
            r#"{"hold":{"channels":[],"keep-alive":5}}"#,
            "hold contains 'keep-alive' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[],"keep-alive":{"content":5}}}"#,
            "keep-alive contains 'content' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[],"keep-alive":{"timeout":-5}}}"#,
            "keep-alive contains 'timeout' with invalid value",
        ),
        (
            r#"{"hold":{"channels":[],"meta":5}}"#,
            "hold contains 'meta' with wrong type",
        ),
        (
            r#"{"hold":{"channels":[],"meta":{"a":1}}}"#,
            "'meta' contains 'a' with wrong type",
        ),
        (r#"{"response":5}"#, ""),
        (
            r#"{"response":{"code":1000}}"#,
            "response contains 'code' with invalid value",
        ),
        (
            r#"{"response":{"code":[]}}"#,
            "response contains 'code' with wrong type",
        ),
        (
            r#"{"response":{"reason":5}}"#,
            "response contains 'reason' with wrong type",
        ),
        (
            r#"{"response":{"headers":5}}"#,
            "response contains 'headers' with wrong type",
        ),
        (
            r#"{"response":{"body":5}}"#,
            "response contains 'body' with wrong type",
        ),
        (
            r#"{"response":{"body-bin":5}}"#,
            "response contains 'body-bin' with wrong type",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(json(body).unwrap_err(), want, "{body}");
    }
}

#[test]
fn links_are_read_leniently() {
    // unsafe characters are percent-encoded, as 1.36 does
    let i = parse_h(&[("Grip-Link", "</a b>; rel=next")]).unwrap();
    assert_eq!(i.next_link.unwrap().uri, "/a%20b");
    // 1.36 has no gone links: a malformed one is ignored, not an error
    let i = parse_h(&[("Grip-Link", "/gone; rel=gone")]).unwrap();
    assert_eq!(i.gone_link, None);
    let i = parse_h(&[("Grip-Link", "<>; rel=gone, </n>; rel=next")]).unwrap();
    assert_eq!(i.gone_link, None);
    assert_eq!(i.next_link.unwrap().uri, "/n");
}

#[test]
fn instruct_json_may_start_with_a_byte_order_mark() {
    let i = json("\u{feff}{\"hold\": {\"mode\": \"stream\", \"channels\": [{\"name\": \"a\"}]}}")
        .unwrap();
    assert_eq!(i.hold, Some(HoldMode::Stream));
}

#[test]
fn an_interim_status_cannot_carry_instructions() {
    let mut h = HeaderMap::new();
    h.insert("grip-hold", "stream".parse().unwrap());
    h.insert("grip-channel", "a".parse().unwrap());
    let err = parse(101, "Switching Protocols", &h, Bytes::new()).unwrap_err();
    assert_eq!(err, "unexpected 101 response with GRIP instructions");
    assert!(parse(200, "OK", &h, Bytes::new()).is_ok());
}
