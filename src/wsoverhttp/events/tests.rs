//! Unit and property tests for the websocket-events codec.

use super::*;
use proptest::prelude::*;

fn enc(events: &[Event]) -> String {
    String::from_utf8(encode(events)).unwrap()
}

fn dec(s: &[u8]) -> Vec<Event> {
    decode(s).unwrap()
}

fn some(s: &'static [u8]) -> Option<Bytes> {
    Some(Bytes::from_static(s))
}

#[test]
fn encodes_every_kind() {
    assert_eq!(enc(&[Event::open()]), "OPEN\r\n");
    assert_eq!(enc(&[Event::text("hello")]), "TEXT 5\r\nhello\r\n");
    assert_eq!(enc(&[Event::binary("ab")]), "BINARY 2\r\nab\r\n");
    assert_eq!(enc(&[Event::ping("p")]), "PING 1\r\np\r\n");
    assert_eq!(enc(&[Event::pong("")]), "PONG\r\n");
    assert_eq!(
        enc(&[Event::close(Some(0x4142), "bye")]),
        "CLOSE 5\r\nABbye\r\n"
    );
    assert_eq!(enc(&[Event::close(None, "ignored")]), "CLOSE\r\n");
    assert_eq!(enc(&[Event::disconnect()]), "DISCONNECT\r\n");
}

#[test]
fn binary_and_close_bytes() {
    assert_eq!(
        encode(&[Event::binary(&b"\x00\xff"[..])]),
        b"BINARY 2\r\n\x00\xff\r\n"
    );
    assert_eq!(
        encode(&[Event::close(Some(1000), "bye")]),
        b"CLOSE 5\r\n\x03\xe8bye\r\n"
    );
}

#[test]
fn length_is_lowercase_hex() {
    let ev = Event::text("abcdefghijklmnopqrstuvwxyz");
    assert_eq!(enc(&[ev]), "TEXT 1a\r\nabcdefghijklmnopqrstuvwxyz\r\n");
    let big = Event::binary(vec![b'x'; 0xabc]);
    assert!(encode(&[big]).starts_with(b"BINARY abc\r\n"));
}

#[test]
fn empty_messages_have_no_content() {
    assert_eq!(
        enc(&[Event::text(""), Event::binary("")]),
        "TEXT\r\nBINARY\r\n"
    );
    // An explicit empty content is still written with a length.
    let ev = Event::new(EventKind::Text, Some(Bytes::new()));
    assert_eq!(enc(std::slice::from_ref(&ev)), "TEXT 0\r\n\r\n");
    assert_eq!(dec(b"TEXT 0\r\n\r\n"), vec![ev]);
}

#[test]
fn several_events() {
    let evs = vec![Event::open(), Event::text("a"), Event::text("bc")];
    let body = enc(&evs);
    assert_eq!(body, "OPEN\r\nTEXT 1\r\na\r\nTEXT 2\r\nbc\r\n");
    assert_eq!(dec(body.as_bytes()), evs);
    assert_eq!(encoded_len(&evs), body.len());
}

#[test]
fn content_with_crlf_inside() {
    let ev = Event::text("line1\r\nline2\r\n");
    let body = encode(std::slice::from_ref(&ev));
    assert_eq!(body, b"TEXT e\r\nline1\r\nline2\r\n\r\n");
    assert_eq!(dec(&body), vec![ev]);
}

#[test]
fn decodes_every_kind() {
    let body = b"OPEN\r\nTEXT 2\r\nhi\r\nBINARY 1\r\n\x01\r\nPING\r\nPONG 1\r\nx\r\n\
                 CLOSE 2\r\n\x03\xe9\r\nDISCONNECT\r\n";
    let evs = dec(body);
    let kinds: Vec<_> = evs.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, EventKind::ALL);
    assert_eq!(evs[1].content, some(b"hi"));
    assert_eq!(evs[3].content, None);
    assert_eq!(evs[5].close_code(), (Some(1001), String::new()));
}

#[test]
fn empty_body_is_no_events() {
    assert_eq!(dec(b""), vec![]);
}

#[test]
fn missing_line_end_is_invalid() {
    assert_eq!(
        decode(b"OPEN"),
        Err(DecodeError::MissingLineEnd { offset: 0 })
    );
    assert_eq!(
        decode(b"OPEN\n"),
        Err(DecodeError::MissingLineEnd { offset: 0 })
    );
    assert_eq!(
        decode(b"OPEN\r\nTEXT"),
        Err(DecodeError::MissingLineEnd { offset: 6 })
    );
}

#[test]
fn invalid_length_is_invalid() {
    for body in [
        &b"TEXT zz\r\nab\r\n"[..],
        b"TEXT \r\n",
        b"TEXT -1\r\n",
        b"TEXT 0x2\r\nab\r\n",
        b"TEXT 2 3\r\nab\r\n",
        b"TEXT 80000000\r\n",
        b"TEXT ffffffffffffffffffffffff\r\n",
    ] {
        assert_eq!(
            decode(body),
            Err(DecodeError::InvalidLength { offset: 0 }),
            "{body:?}"
        );
    }
    assert_eq!(
        decode(b"OPEN\r\nTEXT q\r\n"),
        Err(DecodeError::InvalidLength { offset: 6 })
    );
}

#[test]
fn lenient_lengths() {
    assert_eq!(
        dec(b"TEXT A\r\n0123456789\r\n")[0].content,
        some(b"0123456789")
    );
    assert_eq!(dec(b"TEXT  2 \r\nab\r\n")[0].content, some(b"ab"));
    assert_eq!(dec(b"TEXT 7fffffff\r\nab")[0].content, some(b"ab"));
}

#[test]
fn short_content_is_taken_as_is() {
    assert_eq!(dec(b"TEXT 10\r\nabc"), vec![Event::text("abc")]);
    assert_eq!(dec(b"TEXT 3\r\nabc"), vec![Event::text("abc")]);
    assert_eq!(dec(b"TEXT 3\r\nabc\r"), vec![Event::text("abc")]);
}

#[test]
fn trailing_crlf_is_not_checked() {
    assert_eq!(
        dec(b"TEXT 1\r\naXXPING\r\n"),
        vec![Event::text("a"), Event::ping("")]
    );
}

#[test]
fn unknown_types_are_ignored() {
    assert_eq!(
        dec(b"text 1\r\na\r\nFOO\r\n\r\nOPEN\r\nBAR 2\r\nxy\r\n"),
        vec![Event::open()]
    );
}

#[test]
fn bare_event_decodes_without_content() {
    let evs = dec(b"TEXT\r\nCLOSE\r\n");
    assert_eq!(evs, vec![Event::text(""), Event::close(None, "")]);
    assert_eq!(evs[0].payload(), b"");
    assert_eq!(evs[1].close_code(), (None, String::new()));
}

#[test]
fn close_payloads() {
    assert_eq!(&close_payload(1000, "")[..], b"\x03\xe8");
    assert_eq!(&close_payload(4001, "é")[..], b"\x0f\xa1\xc3\xa9");
    assert_eq!(parse_close(b"\x03\xe8done"), (Some(1000), "done".into()));
    assert_eq!(parse_close(b"\x03\xe8"), (Some(1000), String::new()));
    assert_eq!(parse_close(b"\x03"), (None, String::new()));
    assert_eq!(parse_close(b""), (None, String::new()));
    assert_eq!(
        parse_close(b"\x03\xe8\xff"),
        (Some(1000), "\u{fffd}".into())
    );
}

#[test]
fn kinds() {
    for k in EventKind::ALL {
        assert_eq!(EventKind::from_wire(k.as_str().as_bytes()), Some(k));
        assert_eq!(k.to_string(), k.as_str());
    }
    assert_eq!(EventKind::from_wire(b"Open"), None);
    assert!(EventKind::Pong.is_message());
    assert!(!EventKind::Close.is_message());
    assert_eq!(Event::close(Some(1000), "ab").content_len(), 4);
}

#[test]
fn decode_bytes_shares_the_buffer() {
    let body = Bytes::from_static(b"TEXT 2\r\nhi\r\n");
    let evs = decode_bytes(&body).unwrap();
    let c = evs[0].content.as_ref().unwrap();
    assert_eq!(c.as_ptr(), body[8..].as_ptr());
}

#[test]
fn hex_digit_counts() {
    for n in [0usize, 1, 15, 16, 255, 256, 4095, 4096, usize::MAX] {
        assert_eq!(hex_digits(n), format!("{n:x}").len(), "{n}");
    }
}

fn event() -> impl Strategy<Value = Event> {
    (
        proptest::sample::select(EventKind::ALL.to_vec()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(kind, content)| Event::new(kind, content.map(Bytes::from)))
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(event(), 0..12)
}

proptest! {
    #[test]
    fn round_trip(evs in events()) {
        let body = encode(&evs);
        prop_assert_eq!(body.len(), encoded_len(&evs));
        prop_assert_eq!(decode(&body).unwrap(), evs);
    }

    #[test]
    fn encode_into_appends(evs in events(), prefix in "[a-z]{0,8}") {
        let mut buf = BytesMut::from(prefix.as_bytes());
        encode_into(&mut buf, &evs);
        prop_assert_eq!(&buf[..prefix.len()], prefix.as_bytes());
        prop_assert_eq!(&buf[prefix.len()..], &encode(&evs)[..]);
    }

    #[test]
    fn prefixes_never_panic(evs in events(), cut in any::<prop::sample::Index>()) {
        let body = encode(&evs);
        let n = cut.index(body.len() + 1);
        if let Ok(decoded) = decode(&body[..n]) {
            // A prefix never invents events.
            prop_assert!(decoded.len() <= evs.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&data);
    }

    #[test]
    fn event_like_garbage_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("TEXT ".to_string()),
                Just("\r\n".to_string()),
                "[0-9a-fA-F]{0,20}",
                "[ -~]{0,6}",
            ],
            0..16,
        )
    ) {
        let data = parts.concat();
        if let Ok(evs) = decode(data.as_bytes()) {
            let total: usize = evs.iter().map(Event::content_len).sum();
            prop_assert!(total <= data.len());
        }
    }
}
