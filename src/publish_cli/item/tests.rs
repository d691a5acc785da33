use serde_json::{json, Value};

use super::*;
use crate::publish_cli::args::{Args, DEFAULT_SPEC};
use clap::Parser;

fn publish(argv: &[&str]) -> Publish {
    Args::try_parse_from(std::iter::once("pushpin-publish").chain(argv.iter().copied()))
        .unwrap()
        .into_publish(DEFAULT_SPEC.to_owned())
        .unwrap()
}

fn no_file(name: &str) -> Result<Vec<u8>, PublishCliError> {
    panic!("read {name}")
}

fn item(argv: &[&str]) -> Value {
    build(&publish(argv), no_file).unwrap()
}

#[test]
fn content_goes_to_all_three_formats() {
    assert_eq!(
        item(&["test", "hello"]),
        json!({
            "channel": "test",
            "formats": {
                "http-response": { "code": 200, "body": "hello\n" },
                "http-stream": { "content": "hello\n" },
                "ws-message": { "content": "hello" },
            }
        })
    );
}

#[test]
fn no_eol_code_and_headers() {
    assert_eq!(
        item(&["--no-eol", "--code", "404", "c", "x", "-H", "A: b", "A: c"]),
        json!({
            "channel": "c",
            "formats": {
                "http-response": { "code": 404, "body": "x", "headers": [["A", "b"], ["A", "c"]] },
                "http-stream": { "content": "x" },
                "ws-message": { "content": "x" },
            }
        })
    );
}

#[test]
fn ids_meta_and_no_seq() {
    assert_eq!(
        item(&[
            "--id",
            "i",
            "--prev-id",
            "p",
            "--sender",
            "s",
            "--no-seq",
            "c",
            "x",
            "-M",
            "m=1",
            "n=2"
        ]),
        json!({
            "channel": "c",
            "id": "i",
            "prev-id": "p",
            "meta": { "sender": "s", "m": "1", "n": "2" },
            "no-seq": true,
            "formats": {
                "http-response": { "code": 200, "body": "x\n" },
                "http-stream": { "content": "x\n" },
                "ws-message": { "content": "x" },
            }
        })
    );
}

#[test]
fn meta_overrides_sender_and_later_meta_wins() {
    let v = item(&["--sender", "s", "c", "x", "-M", "sender=m", "k=1", "k=2"]);
    assert_eq!(v["meta"], json!({ "sender": "m", "k": "2" }));
}

#[test]
fn hint_in_every_format_with_ids_kept() {
    assert_eq!(
        item(&["--hint", "--id", "i", "-M", "m=1", "--", "c", "ignored"]),
        json!({
            "channel": "c",
            "id": "i",
            "meta": { "m": "1" },
            "formats": {
                "http-response": { "action": "hint" },
                "http-stream": { "action": "hint" },
                "ws-message": { "action": "hint" },
            }
        })
    );
}

#[test]
fn close_has_no_http_response() {
    assert_eq!(
        item(&["--close", "-H", "A: b", "--", "c"]),
        json!({
            "channel": "c",
            "formats": {
                "http-stream": { "action": "close" },
                "ws-message": { "action": "close" },
            }
        })
    );
}

#[test]
fn patch_goes_only_to_http_response() {
    let ops = r#"[{"op":"replace","path":"/a","value":1.5},{"op":"add","path":"/b","value":{"n":-3,"big":9223372036854775807}}]"#;
    assert_eq!(
        item(&["--patch", "--no-eol", "c", ops, "-H", "A: b"]),
        json!({
            "channel": "c",
            "formats": {
                "http-response": {
                    "code": 200,
                    "headers": [["A", "b"]],
                    "body-patch": [
                        { "op": "replace", "path": "/a", "value": 1.5 },
                        { "op": "add", "path": "/b", "value": { "n": -3, "big": 9223372036854775807_i64 } },
                    ],
                },
            }
        })
    );
    assert_eq!(
        item(&["--patch", "c", "[]"])["formats"]["http-response"]["body-patch"],
        json!([])
    );
}

#[test]
fn patch_integers_past_i64_fail() {
    let p = publish(&[
        "--patch",
        "c",
        r#"[{"value":[{"x":18446744073709551615}]}]"#,
    ]);
    let e = build(&p, no_file).unwrap_err();
    assert_eq!(e.to_string(), "invalid data");
    // beyond i64 below zero JSON gives a float, which passes
    let p = publish(&["--patch", "c", "[-9223372036854775809]"]);
    assert!(build(&p, no_file).is_ok());
}

#[test]
fn file_content_is_sent_as_is() {
    let p = publish(&["c", "@name.txt"]);
    let v = build(&p, |name| {
        assert_eq!(name, "name.txt");
        Ok(b"line1\nline2".to_vec())
    })
    .unwrap();
    assert_eq!(
        v["formats"],
        json!({
            "http-response": { "code": 200, "body": "line1\nline2" },
            "http-stream": { "content": "line1\nline2" },
            "ws-message": { "content": "line1\nline2" },
        })
    );
}

#[test]
fn binary_file_content_goes_as_base64() {
    let p = publish(&["c", "@bin"]);
    let v = build(&p, |_| Ok(b"abc\xff\xfe".to_vec())).unwrap();
    assert_eq!(
        v["formats"],
        json!({
            "http-response": { "code": 200, "body-bin": "YWJj//4=" },
            "http-stream": { "content-bin": "YWJj//4=" },
            "ws-message": { "content-bin": "YWJj//4=" },
        })
    );
}

#[test]
fn file_errors_pass_through() {
    let p = publish(&["c", "@missing"]);
    let e = build(&p, |name| {
        Err(PublishCliError::FileOpen {
            name: name.to_owned(),
            source: std::io::Error::from_raw_os_error(2),
        })
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "can't read file missing: No such file or directory (os error 2)"
    );
}

#[test]
fn body_wraps_one_item_compactly_with_sorted_keys() {
    let v = item(&["test", "hello"]);
    assert_eq!(
        String::from_utf8(body(&v)).unwrap(),
        r#"{"items":[{"channel":"test","formats":{"http-response":{"body":"hello\n","code":200},"http-stream":{"content":"hello\n"},"ws-message":{"content":"hello"}}}]}"#
    );
}
