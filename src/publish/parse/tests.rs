//! Unit tests for the publish body parser: every 1.36 message.

use super::*;

fn err(body: &str) -> String {
    parse_publish_body(body.as_bytes()).unwrap_err().to_string()
}

fn one(item: &str) -> Item {
    let mut v = parse_publish_body(format!(r#"{{"items":[{item}]}}"#).as_bytes()).unwrap();
    v.remove(0)
}

#[test]
fn top_level_errors() {
    assert_eq!(err("{not json"), "Body is not valid JSON.");
    assert_eq!(err(""), "Body is not valid JSON.");
    assert_eq!(err("123"), "Body is not valid JSON.");
    assert_eq!(err("[1, 2]"), "Invalid format.");
    assert_eq!(err("{}"), "Invalid format: object does not contain 'items'");
    assert_eq!(
        err(r#"{"items": 5}"#),
        "Invalid format: object contains 'items' with wrong type"
    );
    assert_eq!(
        err(r#"{"items": null}"#),
        "Invalid format: object contains 'items' with wrong type"
    );
    assert!(parse_publish_body(br#"{"items": []}"#).unwrap().is_empty());
    assert!(parse_publish_body(b"\xef\xbb\xbf{\"items\": []}")
        .unwrap()
        .is_empty());
}

#[test]
fn item_errors_in_order() {
    let cases = [
        ("5", "publish item object is not an object"),
        (
            r#"{"formats": {"http-stream": {"content": "x"}}}"#,
            "publish item object does not contain 'channel'",
        ),
        (
            r#"{"channel":5,"id":5,"formats":5}"#,
            "publish item object contains 'channel' with wrong type",
        ),
        (
            r#"{"channel":"a","id":5,"prev-id":5,"formats":5}"#,
            "publish item object contains 'id' with wrong type",
        ),
        (
            r#"{"channel":"a","prev-id":null,"formats":5}"#,
            "publish item object contains 'prev-id' with wrong type",
        ),
        (
            r#"{"channel":"a","formats":5}"#,
            "publish item object contains 'formats' with wrong type",
        ),
        (r#"{"channel":"c"}"#, "no formats specified"),
        (
            r#"{"channel":"c","formats":{},"http-stream":{"content":"x"}}"#,
            "no formats specified",
        ),
        (
            r#"{"channel":"a","http-stream":5,"ws-message":{"content":"x"}}"#,
            "'http-stream' is not an object",
        ),
        (
            r#"{"channel":"a","formats":{"ws-message":5,"http-stream":5,"http-response":5}}"#,
            "'http-response' is not an object",
        ),
        (
            r#"{"channel":"a","formats":{"http-response":{"body":"x"},"ws-message":5},"meta":5}"#,
            "'ws-message' is not an object",
        ),
        (
            r#"{"channel":"a","formats":{"http-stream":{"content":"x"}},"meta":{"z":1,"b":2}}"#,
            "'meta' contains 'b' with wrong type",
        ),
        (
            r#"{"channel":"a","formats":{"http-stream":{"content":"x"}},"meta":5,"size":-1}"#,
            "publish item object contains 'meta' with wrong type",
        ),
        (
            r#"{"channel":"a","formats":{"http-stream":{"content":"x"}},"size":[]}"#,
            "publish item object contains 'size' with wrong type",
        ),
        (
            r#"{"channel":"a","formats":{"http-stream":{"content":"x"}},"size":-1,"no-seq":5}"#,
            "publish item object contains 'size' with invalid value",
        ),
        (
            r#"{"channel":"a","formats":{"http-stream":{"content":"x"}},"no-seq":1}"#,
            "publish item object contains 'no-seq' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{}}}"#,
            "'http-stream' does not contain 'content' or 'content-bin'",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"action":5}}}"#,
            "'http-stream' contains 'action' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"action":"Send"}}}"#,
            "",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"content":"x","content-bin":5}}}"#,
            "'http-stream' contains 'content-bin' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"content":5}}}"#,
            "'http-stream' contains 'content' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"content":"x","content-filters":5}}}"#,
            "'http-stream' contains 'content-filters' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-stream":{"content":"x","content-filters":[5]}}}"#,
            "content-filters contains element with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"code":200}}}"#,
            "'http-response' does not contain 'body', 'body-bin', or 'body-patch'",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":5,"code":"x","reason":5}}}"#,
            "'http-response' contains 'reason' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"reason":5,"code":1000}}}"#,
            "'http-response' contains 'code' with invalid value",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"code":null}}}"#,
            "'http-response' contains 'code' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"content-filters":5,"headers":5}}}"#,
            "'http-response' contains 'headers' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":[5]}}}"#,
            "headers contains element with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":[["a"]]}}}"#,
            "headers contains list with wrong number of elements",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":[[1,"v"]]}}}"#,
            "header contains name element with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":[["n",1]]}}}"#,
            "header contains value element with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"headers":{"b":1}}}}"#,
            "headers contains 'b' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"body-bin":5,"body":"x"}}}"#,
            "'http-response' contains 'body-bin' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"body":5,"body-patch":[]}}}"#,
            "'http-response' contains 'body' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"http-response":{"body-patch":{}}}}"#,
            "'http-response' contains 'body-patch' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"content-filters":5,"type":5}}}"#,
            "'ws-message' contains 'type' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"type":"close"}}}"#,
            "'ws-message' contains 'type' with unknown value",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{}}}"#,
            "'ws-message' does not contain 'content' or 'content-bin'",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"action":"close","reason":5,"code":-1}}}"#,
            "'ws-message' contains 'code' with invalid value",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"action":"close","code":[]}}}"#,
            "'ws-message' contains 'code' with wrong type",
        ),
        (
            r#"{"channel":"c","formats":{"ws-message":{"action":"close","reason":5}}}"#,
            "'ws-message' contains 'reason' with wrong type",
        ),
    ];
    for (item, want) in cases {
        let got = err(&format!(r#"{{"items":[{item}]}}"#));
        assert_eq!(got, format!("Invalid format: {want}"), "{item}");
    }
}

#[test]
fn one_bad_item_rejects_all() {
    let e = err(
        r#"{"items":[{"channel":"a","formats":{"http-stream":{"content":"x"}}},{"channel":"b"}]}"#,
    );
    assert_eq!(e, "Invalid format: no formats specified");
}

#[test]
fn full_items() {
    let i = one(
        r#"{"channel":"c","id":"2","prev-id":"1","meta":{"sender":"u"},"size":"12","no-seq":true,
        "formats":{"http-stream":{"content":"hi\n"},"http-response":{"code":202.5,"headers":{"b":"2","a":"1"},"body-bin":"aGk="},
        "ws-message":{"content-bin":"AAE="}}}"#,
    );
    assert_eq!(i.id.as_deref(), Some("2"));
    assert_eq!(i.prev_id.as_deref(), Some("1"));
    assert_eq!(i.meta.get("sender").map(String::as_str), Some("u"));
    assert_eq!(i.size, Some(12));
    assert!(i.no_seq);
    let Some(HttpStream::Send(s)) = &i.http_stream else {
        panic!()
    };
    assert_eq!(&s.chunk[..], b"3\r\nhi\n\r\n");
    let Some(HttpResponse::Send(r)) = &i.http_response else {
        panic!()
    };
    assert_eq!(r.code, 203);
    assert_eq!(
        r.headers,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(r.body, ResponseBody::Bytes(Bytes::from_static(b"hi")));
    let Some(WsMessage::Send { kind, content, .. }) = &i.ws_message else {
        panic!()
    };
    assert_eq!(*kind, WsKind::Binary);
    assert_eq!(&content[..], &[0, 1]);
}

#[test]
fn top_level_formats_and_unknown_formats() {
    let i = one(r#"{"channel":"","http-stream":{"content":"x"}}"#);
    assert_eq!(i.channel, "");
    assert!(i.http_stream.is_some());
    let i = one(r#"{"channel":"c","formats":{"foo":{}}}"#);
    assert!(i.http_stream.is_none() && i.http_response.is_none() && i.ws_message.is_none());
    let i = one(r#"{"channel":"c","formats":{"http-stream":{"action":"close","content":5}}}"#);
    assert_eq!(i.http_stream, Some(HttpStream::Close));
    let i = one(r#"{"channel":"c","formats":{"ws-message":{"action":"refresh"}}}"#);
    assert_eq!(i.ws_message, Some(WsMessage::Refresh));
    assert_eq!(
        err(r#"{"items":[{"channel":"c","formats":{"http-stream":{"action":"refresh"}}}]}"#),
        "Invalid format: "
    );
    let i = one(r#"{"channel":"c","formats":{"ws-message":{"type":"ping"}}}"#);
    assert!(matches!(
        i.ws_message,
        Some(WsMessage::Send {
            kind: WsKind::Ping,
            ..
        })
    ));
}

#[test]
fn int_coercion() {
    use serde_json::json;
    assert_eq!(to_int(&json!(999.5)), Some(1000));
    assert_eq!(to_int(&json!(-0.6)), Some(-1));
    assert_eq!(to_int(&json!(4294967496u64)), Some(200));
    assert_eq!(to_int(&json!(" +1000 ")), Some(1000));
    assert_eq!(to_int(&json!("abc")), Some(0));
    assert_eq!(to_int(&json!(true)), Some(1));
    assert_eq!(to_int(&json!(null)), None);
}
