//! Property tests: the header parsers never panic, and well-formed header
//! values parse back to what produced them.

use super::*;
use ::base64::Engine;
use http::{HeaderName, HeaderValue};
use proptest::prelude::*;

fn with(name: &str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(value) {
        h.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
    }
    h
}

fn parse_one(name: &str, value: &str) -> R<Instruct> {
    parse(200, "OK", &with(name, value), Bytes::new())
}

fn channel_spec() -> impl Strategy<Value = ChannelSpec> {
    (
        "[a-z0-9_.-]{1,12}",
        proptest::option::of("[A-Za-z0-9]{0,8}"),
        proptest::collection::vec("[a-z-]{1,10}", 0..4),
    )
        .prop_map(|(name, prev_id, filters)| ChannelSpec {
            name,
            prev_id,
            filters,
        })
}

fn format_channel(c: &ChannelSpec) -> String {
    let mut s = c.name.clone();
    if let Some(p) = &c.prev_id {
        s.push_str(&format!("; prev-id={p}"));
    }
    for f in &c.filters {
        s.push_str(&format!("; filter={f}"));
    }
    s
}

proptest! {
    #[test]
    fn never_panics(name in prop::sample::select(vec![
        "grip-hold", "grip-channel", "grip-timeout", "grip-keep-alive", "grip-set-meta",
        "grip-status", "grip-link", "grip-expose-headers",
    ]), value in "[ -~]{0,60}") {
        let _ = parse_one(name, &value);
    }

    #[test]
    fn instruct_bodies_never_panic(body in "[ -~]{0,80}") {
        let h = with("content-type", "application/grip-instruct");
        let _ = parse(200, "OK", &h, Bytes::from(body));
    }

    #[test]
    fn grip_channel_round_trips(chans in proptest::collection::vec(channel_spec(), 1..5)) {
        let value = chans.iter().map(format_channel).collect::<Vec<_>>().join(", ");
        let i = parse_one("grip-channel", &value).unwrap();
        prop_assert_eq!(i.channels, chans);
    }

    #[test]
    fn grip_keep_alive_round_trips(
        data in "[A-Za-z0-9:._!?-][A-Za-z0-9 :._!?-]{0,20}[A-Za-z0-9:._!?-]",
        b64 in any::<bool>(),
        timeout in 0u64..100_000,
        interval in any::<bool>(),
    ) {
        let (text, format) = if b64 {
            (::base64::engine::general_purpose::STANDARD.encode(&data), "base64")
        } else {
            (data.clone(), "raw")
        };
        let mode = if interval { "interval" } else { "idle" };
        let v = format!("{text}; format={format}; timeout={timeout}; mode={mode}");
        let ka = parse_one("grip-keep-alive", &v).unwrap().keep_alive.unwrap();
        prop_assert_eq!(&ka.data[..], data.as_bytes());
        prop_assert_eq!(ka.timeout, Duration::from_secs(timeout.max(1)));
        prop_assert_eq!(ka.mode, if interval { KeepAliveMode::Interval } else { KeepAliveMode::Idle });
    }

    #[test]
    fn grip_link_round_trips(path in "/[a-z0-9/._-]{0,30}(\\?[a-z0-9=&]{0,10})?", timeout in proptest::option::of(0u64..100_000)) {
        let mut v = format!("<{path}>; rel=next");
        if let Some(t) = timeout {
            v.push_str(&format!("; timeout={t}"));
        }
        let link = parse_one("grip-link", &v).unwrap().next_link.unwrap();
        prop_assert_eq!(link.uri, path);
        prop_assert_eq!(link.timeout, Duration::from_secs(timeout.unwrap_or(DEFAULT_LINK_TIMEOUT)));
    }

    #[test]
    fn grip_status_round_trips(code in 0u16..1000, reason in "[A-Za-z][A-Za-z ]{0,20}[A-Za-z]") {
        let i = parse_one("grip-status", &format!("{code} {reason}")).unwrap();
        prop_assert_eq!(i.response.code, code);
        prop_assert_eq!(i.response.reason, reason);
    }

    #[test]
    fn json_instruct_round_trips(chans in proptest::collection::vec(channel_spec(), 0..4), timeout in 0u64..1000, stream in any::<bool>()) {
        let channels: Vec<serde_json::Value> = chans.iter().map(|c| {
            let mut o = serde_json::json!({"name": c.name, "filters": c.filters});
            if let Some(p) = &c.prev_id {
                o["prev-id"] = serde_json::json!(p);
            }
            o
        }).collect();
        let mode = if stream { "stream" } else { "response" };
        let body = serde_json::json!({"hold": {"mode": mode, "channels": channels, "timeout": timeout}}).to_string();
        let h = with("content-type", "application/grip-instruct");
        let i = parse(200, "OK", &h, Bytes::from(body)).unwrap();
        prop_assert_eq!(i.channels, chans);
        prop_assert_eq!(i.hold, Some(if stream { HoldMode::Stream } else { HoldMode::Response }));
        prop_assert_eq!(i.timeout, Duration::from_secs(timeout.max(MIN_TIMEOUT)));
    }
}
