//! Unit and property tests for control message parsing.

use super::*;

fn p(json: &str) -> R<ControlMessage> {
    parse(json.as_bytes())
}

fn ok(json: &str) -> ControlMessage {
    p(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn err(json: &str) -> String {
    match p(json) {
        Ok(m) => panic!("{json}: unexpectedly parsed as {m:?}"),
        Err(e) => e.to_string(),
    }
}

fn payload(kind: WsKind, content: &'static [u8]) -> WsPayload {
    WsPayload {
        kind,
        content: Bytes::from_static(content),
    }
}

#[test]
fn subscribe() {
    assert_eq!(
        ok(r#"{"type":"subscribe","channel":"news"}"#),
        ControlMessage::Subscribe {
            channel: "news".into(),
            filters: vec![],
        }
    );
    assert_eq!(
        ok(r#"{"channel":"a","type":"subscribe","filters":["skip-self","x"],"extra":1}"#),
        ControlMessage::Subscribe {
            channel: "a".into(),
            filters: vec!["skip-self".into(), "x".into()],
        }
    );
}

#[test]
fn unsubscribe_detach_flush() {
    assert_eq!(
        ok(r#"{"type":"unsubscribe","channel":"news"}"#),
        ControlMessage::Unsubscribe {
            channel: "news".into()
        }
    );
    assert_eq!(ok(r#"{"type":"detach"}"#), ControlMessage::Detach);
    assert_eq!(
        ok(r#"{"type":"flush-delayed"}"#),
        ControlMessage::FlushDelayed
    );
}

#[test]
fn session() {
    let id = |s: Option<&str>| ControlMessage::Session {
        id: s.map(str::to_owned),
    };
    assert_eq!(ok(r#"{"type":"session","id":"s1"}"#), id(Some("s1")));
    assert_eq!(ok(r#"{"type":"session","id":""}"#), id(None));
    assert_eq!(ok(r#"{"type":"session"}"#), id(None));
}

#[test]
fn set_meta() {
    assert_eq!(
        ok(r#"{"type":"set-meta","name":"user","value":"alice"}"#),
        ControlMessage::SetMeta {
            name: "user".into(),
            value: Some("alice".into()),
        }
    );
    assert_eq!(
        ok(r#"{"type":"set-meta","name":"user"}"#),
        ControlMessage::SetMeta {
            name: "user".into(),
            value: None,
        }
    );
}

#[test]
fn keep_alive_defaults() {
    assert_eq!(
        ok(r#"{"type":"keep-alive","content":"ka"}"#),
        ControlMessage::KeepAlive {
            message: Some(payload(WsKind::Text, b"ka")),
            timeout: Duration::from_secs(55),
            mode: KeepAliveMode::Idle,
        }
    );
    // No content disables keep-alives; timeout is then not looked at.
    assert_eq!(
        ok(r#"{"type":"keep-alive","timeout":"bad","mode":"interval"}"#),
        ControlMessage::KeepAlive {
            message: None,
            timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            mode: KeepAliveMode::Interval,
        }
    );
}

#[test]
fn keep_alive_fields() {
    assert_eq!(
        ok(
            r#"{"type":"keep-alive","content":"x","message-type":"ping","timeout":30,"mode":"interval"}"#
        ),
        ControlMessage::KeepAlive {
            message: Some(payload(WsKind::Ping, b"x")),
            timeout: Duration::from_secs(30),
            mode: KeepAliveMode::Interval,
        }
    );
    let m = ok(r#"{"type":"keep-alive","content":"","timeout":0,"mode":"other"}"#);
    assert_eq!(
        m,
        ControlMessage::KeepAlive {
            message: Some(payload(WsKind::Text, b"")),
            timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            mode: KeepAliveMode::Idle,
        }
    );
    // Fractional seconds are rounded like Pushpin's integer conversion.
    let ControlMessage::KeepAlive { timeout, .. } =
        ok(r#"{"type":"keep-alive","content":"x","timeout":2.5}"#)
    else {
        panic!()
    };
    assert_eq!(timeout, Duration::from_secs(3));
}

#[test]
fn content_bin_wins_and_stays_text_by_default() {
    // Quirk §15.7: binary content without message-type is a text frame.
    assert_eq!(
        ok(r#"{"type":"keep-alive","content-bin":"AAEC/w==","content":7}"#),
        ControlMessage::KeepAlive {
            message: Some(payload(WsKind::Text, b"\x00\x01\x02\xff")),
            timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            mode: KeepAliveMode::Idle,
        }
    );
    assert_eq!(
        ok(r#"{"type":"send-delayed","content-bin":"a G\nk!","message-type":"binary"}"#),
        ControlMessage::SendDelayed {
            message: payload(WsKind::Binary, b"hi"),
            timeout: DEFAULT_SEND_DELAYED_TIMEOUT,
        }
    );
}

#[test]
fn send_delayed() {
    assert_eq!(
        ok(r#"{"type":"send-delayed","content":"later","message-type":"pong","timeout":5}"#),
        ControlMessage::SendDelayed {
            message: payload(WsKind::Pong, b"later"),
            timeout: Duration::from_secs(5),
        }
    );
    // No content: an empty message after 1 s, timeout ignored.
    assert_eq!(
        ok(r#"{"type":"send-delayed","timeout":-4}"#),
        ControlMessage::SendDelayed {
            message: payload(WsKind::Text, b""),
            timeout: Duration::from_secs(1),
        }
    );
}

#[test]
fn packet_errors() {
    assert_eq!(err("{"), "grip control packet is not valid JSON");
    assert_eq!(err(""), "grip control packet is not valid JSON");
    assert_eq!(
        err(r#"[{"type":"detach"}]"#),
        "grip control packet is not an object"
    );
    assert_eq!(err("\"detach\""), "grip control packet is not an object");
    assert_eq!(parse(b"\xff"), Err(ControlError::NotJson));
}

#[test]
fn type_errors() {
    assert_eq!(err("{}"), "grip control object does not contain 'type'");
    assert_eq!(
        err(r#"{"type":1}"#),
        "grip control object contains 'type' with wrong type"
    );
    assert_eq!(
        err(r#"{"type":null}"#),
        "grip control object contains 'type' with wrong type"
    );
    assert_eq!(
        err(r#"{"type":"Subscribe"}"#),
        "grip control object contains 'type' with unknown value"
    );
    assert_eq!(
        err(r#"{"type":"refresh"}"#),
        "grip control object contains 'type' with unknown value"
    );
}

#[test]
fn channel_errors() {
    for ty in ["subscribe", "unsubscribe"] {
        assert_eq!(
            err(&format!(r#"{{"type":"{ty}"}}"#)),
            "grip control object does not contain 'channel'"
        );
        assert_eq!(
            err(&format!(r#"{{"type":"{ty}","channel":""}}"#)),
            "grip control object contains 'channel' with invalid value"
        );
        assert_eq!(
            err(&format!(r#"{{"type":"{ty}","channel":["a"]}}"#)),
            "grip control object contains 'channel' with wrong type"
        );
    }
    assert_eq!(
        err(r#"{"type":"subscribe","channel":"a","filters":"skip-self"}"#),
        "grip control object contains 'filters' with wrong type"
    );
    assert_eq!(
        err(r#"{"type":"subscribe","channel":"a","filters":["ok",1]}"#),
        "filters contains value with wrong type"
    );
}

#[test]
fn field_errors() {
    let cases = [
        (
            r#"{"type":"session","id":5}"#,
            "contains 'id' with wrong type",
        ),
        (r#"{"type":"set-meta"}"#, "does not contain 'name'"),
        (
            r#"{"type":"set-meta","name":""}"#,
            "contains 'name' with invalid value",
        ),
        (
            r#"{"type":"set-meta","name":1}"#,
            "contains 'name' with wrong type",
        ),
        (
            r#"{"type":"set-meta","name":"u","value":null}"#,
            "contains 'value' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","content":null}"#,
            "contains 'content' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","content-bin":1}"#,
            "contains 'content-bin' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","message-type":"close"}"#,
            "contains 'message-type' with unknown value",
        ),
        (
            r#"{"type":"keep-alive","message-type":""}"#,
            "contains 'message-type' with unknown value",
        ),
        (
            r#"{"type":"keep-alive","message-type":2}"#,
            "contains 'message-type' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","mode":true}"#,
            "contains 'mode' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","content":"x","timeout":"5"}"#,
            "contains 'timeout' with wrong type",
        ),
        (
            r#"{"type":"keep-alive","content":"x","timeout":-1}"#,
            "contains 'timeout' with invalid value",
        ),
        (
            r#"{"type":"send-delayed","content":"x","timeout":null}"#,
            "contains 'timeout' with wrong type",
        ),
        (
            r#"{"type":"send-delayed","content":"x","timeout":-3}"#,
            "contains 'timeout' with invalid value",
        ),
        (
            r#"{"type":"send-delayed","content":{}}"#,
            "contains 'content' with wrong type",
        ),
        (
            r#"{"type":"send-delayed","message-type":"text2"}"#,
            "contains 'message-type' with unknown value",
        ),
    ];
    for (json, msg) in cases {
        assert_eq!(err(json), format!("grip control object {msg}"), "{json}");
    }
}

#[test]
fn writes_json() {
    assert_eq!(
        subscribe_message("te\"st"),
        r#"c:{"type":"subscribe","channel":"te\"st"}"#
    );
    let ka = ControlMessage::KeepAlive {
        message: Some(payload(WsKind::Binary, b"\xff")),
        timeout: Duration::from_secs(20),
        mode: KeepAliveMode::Interval,
    };
    assert_eq!(
        ka.to_json(),
        r#"{"type":"keep-alive","content-bin":"/w==","message-type":"binary","timeout":20,"mode":"interval"}"#
    );
    assert_eq!(ControlMessage::Detach.to_json(), r#"{"type":"detach"}"#);
    assert_eq!(PREFIX, b"c:");
}
