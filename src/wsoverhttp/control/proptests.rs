//! Property tests: written messages parse back to themselves, and no input
//! makes the parser panic.

use super::*;
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = WsKind> {
    prop::sample::select(vec![
        WsKind::Text,
        WsKind::Binary,
        WsKind::Ping,
        WsKind::Pong,
    ])
}

fn ws_payload() -> impl Strategy<Value = WsPayload> {
    (kind(), prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(kind, c)| WsPayload {
        kind,
        content: Bytes::from(c),
    })
}

fn secs() -> impl Strategy<Value = Duration> {
    (1u64..100_000).prop_map(Duration::from_secs)
}

fn message() -> impl Strategy<Value = ControlMessage> {
    let name = "[ -~]{1,12}";
    prop_oneof![
        (name, prop::collection::vec("[ -~]{0,8}", 0..4))
            .prop_map(|(channel, filters)| ControlMessage::Subscribe { channel, filters }),
        name.prop_map(|channel| ControlMessage::Unsubscribe { channel }),
        Just(ControlMessage::Detach),
        Just(ControlMessage::FlushDelayed),
        prop::option::of(name).prop_map(|id| ControlMessage::Session { id }),
        (name, prop::option::of("\\PC{0,8}"))
            .prop_map(|(name, value)| ControlMessage::SetMeta { name, value }),
        (
            ws_payload(),
            secs(),
            prop::sample::select(vec![KeepAliveMode::Idle, KeepAliveMode::Interval])
        )
            .prop_map(|(m, timeout, mode)| ControlMessage::KeepAlive {
                message: Some(m),
                timeout,
                mode,
            }),
        prop::sample::select(vec![KeepAliveMode::Idle, KeepAliveMode::Interval]).prop_map(|mode| {
            ControlMessage::KeepAlive {
                message: None,
                timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
                mode,
            }
        }),
        (ws_payload(), secs())
            .prop_map(|(message, timeout)| ControlMessage::SendDelayed { message, timeout }),
    ]
}

proptest! {
    #[test]
    fn json_round_trip(m in message()) {
        let text = m.to_text_message();
        let json = text.strip_prefix("c:").unwrap();
        prop_assert_eq!(parse(json.as_bytes()), Ok(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = parse(&data);
    }

    #[test]
    fn arbitrary_objects_never_panic(
        ty in prop::sample::select(vec![
            "subscribe", "unsubscribe", "detach", "session", "set-meta",
            "keep-alive", "send-delayed", "flush-delayed", "nope",
        ]),
        fields in prop::collection::btree_map(
            prop::sample::select(vec![
                "channel", "filters", "id", "name", "value", "content", "content-bin",
                "message-type", "timeout", "mode",
            ]),
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "[ -~]{0,10}".prop_map(Value::from),
                prop::collection::vec("[a-z]{0,4}", 0..3).prop_map(Value::from),
            ],
            0..6,
        ),
    ) {
        let mut o: Obj = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        o.insert("type".into(), ty.into());
        let _ = parse(Value::Object(o).to_string().as_bytes());
    }
}
