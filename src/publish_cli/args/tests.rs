use clap::error::ErrorKind;
use serde_json::json;

use super::*;

fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("pushpin-publish").chain(argv.iter().copied()))
}

fn publish(argv: &[&str]) -> Result<Publish, PublishCliError> {
    parse(argv)
        .expect("clap accepts")
        .into_publish(DEFAULT_SPEC.to_owned())
}

fn usage_error(argv: &[&str]) -> ErrorKind {
    parse(argv).expect_err("clap refuses").kind()
}

#[test]
fn defaults() {
    let p = publish(&["test", "hello"]).unwrap();
    assert_eq!(
        p,
        Publish {
            spec: "http://localhost:5561".into(),
            user: None,
            channel: "test".into(),
            id: None,
            prev_id: None,
            sender: None,
            action: Action::Send {
                code: 200,
                content: Content::Text("hello".into()),
            },
            headers: vec![],
            meta: vec![],
            no_seq: false,
            eol: true,
        }
    );
}

#[test]
fn every_option() {
    let p = publish(&[
        "--spec",
        "http://h:1/p",
        "-u",
        "a:b",
        "--id",
        "i",
        "--prev-id",
        "pi",
        "--sender",
        "s",
        "--code",
        "404",
        "--no-seq",
        "--no-eol",
        "ch",
        "body",
        "-H",
        "A: b",
    ])
    .unwrap();
    assert_eq!(p.spec, "http://h:1/p");
    assert_eq!(p.user.as_deref(), Some("a:b"));
    assert_eq!(
        (p.id.as_deref(), p.prev_id.as_deref(), p.sender.as_deref()),
        (Some("i"), Some("pi"), Some("s"))
    );
    assert_eq!(
        p.action,
        Action::Send {
            code: 404,
            content: Content::Text("body".into())
        }
    );
    assert_eq!(p.headers, vec![("A".into(), "b".into())]);
    assert!(p.no_seq && !p.eol);
}

#[test]
fn spec_default_comes_from_grip_url_even_empty() {
    assert_eq!(default_spec(None), DEFAULT_SPEC);
    assert_eq!(default_spec(Some("http://x:1".into())), "http://x:1");
    assert_eq!(default_spec(Some(String::new())), "");
    let p = parse(&["c", "x"])
        .unwrap()
        .into_publish("http://env:2".into())
        .unwrap();
    assert_eq!(p.spec, "http://env:2");
    let p = parse(&["--spec", "http://flag:3", "c", "x"])
        .unwrap()
        .into_publish("http://env:2".into())
        .unwrap();
    assert_eq!(p.spec, "http://flag:3");
}

#[test]
fn empty_ids_and_sender_are_dropped() {
    let p = publish(&["--id", "", "--prev-id", "", "--sender", "", "c", "x"]).unwrap();
    assert_eq!((p.id, p.prev_id, p.sender), (None, None, None));
}

#[test]
fn hint_beats_close_beats_content() {
    assert_eq!(
        publish(&["--hint", "--close", "c"]).unwrap().action,
        Action::Hint
    );
    assert_eq!(
        publish(&["--close", "c", "ignored"]).unwrap().action,
        Action::Close
    );
    // content checks do not apply to hints and closes
    let p = publish(&["--hint", "--patch", "--code", "5000", "c", "not json"]).unwrap();
    assert_eq!(p.action, Action::Hint);
}

#[test]
fn code_is_checked_first_even_for_hints() {
    let e = publish(&["--hint", "--code", "abc", "c"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to parse code: invalid digit found in string"
    );
    let e = publish(&["--code", "70000", "c", "x"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to parse code: number too large to fit in target type"
    );
    let e = publish(&["--code", "", "c", "x"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to parse code: cannot parse integer from empty string"
    );
    let e = publish(&["--code=-5", "c", "x"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to parse code: invalid digit found in string"
    );
    // before the header check
    let e = publish(&["--code", "x", "c", "-H", "bad"]).unwrap_err();
    assert!(matches!(e, PublishCliError::CodeSyntax(_)));
}

#[test]
fn code_range() {
    for ok in ["0", "999", "+5"] {
        assert!(publish(&["--code", ok, "c", "x"]).is_ok(), "{ok}");
    }
    let e = publish(&["--code", "1000", "c", "x"]).unwrap_err();
    assert_eq!(e.to_string(), "code must be an integer between 0 and 999");
    assert!(publish(&["--close", "--code", "1000", "c"]).is_ok());
}

#[test]
fn content_is_required_to_send() {
    let e = publish(&["c"]).unwrap_err();
    assert_eq!(e.to_string(), "must specify content");
    let p = publish(&["c", ""]).unwrap();
    assert_eq!(
        p.action,
        Action::Send {
            code: 200,
            content: Content::Text(String::new())
        }
    );
}

#[test]
fn at_sign_names_a_file() {
    let p = publish(&["c", "@/tmp/f"]).unwrap();
    assert!(matches!(p.action, Action::Send { content: Content::File(n), .. } if n == "/tmp/f"));
    let p = publish(&["c", "@"]).unwrap();
    assert!(matches!(p.action, Action::Send { content: Content::File(n), .. } if n.is_empty()));
}

#[test]
fn patch_content() {
    let p = publish(&["--patch", "c", r#"[{"op":"add","path":"/a","value":1}]"#]).unwrap();
    assert_eq!(
        p.action,
        Action::Send {
            code: 200,
            content: Content::Patch(vec![json!({"op": "add", "path": "/a", "value": 1})]),
        }
    );
    let e = publish(&["--patch", "c", "nope"]).unwrap_err();
    assert_eq!(e.to_string(), "expected ident at line 1 column 2");
    // an @name is not read for a patch: it is just bad JSON
    let e = publish(&["--patch", "c", "@f"]).unwrap_err();
    assert_eq!(e.to_string(), "expected value at line 1 column 1");
    let e = publish(&["--patch", "c", r#"{"a":1}"#]).unwrap_err();
    assert_eq!(e.to_string(), "patch content must be a JSON array");
    // before the header check
    let e = publish(&["--patch", "c", "{}", "-H", "bad"]).unwrap_err();
    assert!(matches!(e, PublishCliError::PatchNotArray));
}

#[test]
fn header_split() {
    let p = publish(&["c", "x", "-H", " A : b ", ":x", "K:", "u: v: w", "A: again"]).unwrap();
    let want: Vec<(String, String)> = [
        (" A ", "b"),
        ("", "x"),
        ("K", ""),
        ("u", "v: w"),
        ("A", "again"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(p.headers, want);
    let e = publish(&["c", "x", "-H", "nocolon"]).unwrap_err();
    assert_eq!(e.to_string(), "header must be in the form \"name: value\"");
    // checked even when a hint leaves them unused
    assert!(matches!(
        publish(&["--hint", "c", "-H", "bad"]),
        Err(PublishCliError::Header)
    ));
}

#[test]
fn meta_split() {
    let p = publish(&["c", "x", "-M", " n = v ", "=e", "k=", "a=b=c"]).unwrap();
    let want: Vec<(String, String)> = [(" n ", "v"), ("", "e"), ("k", ""), ("a", "b=c")]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(p.meta, want);
    let e = publish(&["c", "x", "-M", "noeq"]).unwrap_err();
    assert_eq!(e.to_string(), "meta must be in the form \"name=value\"");
    // headers are looked at first
    assert!(matches!(
        publish(&["c", "x", "-M", "noeq", "-H", "nocolon"]),
        Err(PublishCliError::Header)
    ));
}

#[test]
fn header_and_meta_lists_are_greedy() {
    // as in 1.36: every word after -H up to the next option is a header
    assert_eq!(
        usage_error(&["-H", "A: b", "c", "x"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        usage_error(&["-M", "a=b", "c", "x"]),
        ErrorKind::MissingRequiredArgument
    );
    let p = publish(&["-H", "A: b", "C: d", "--", "c", "x"]).unwrap();
    assert_eq!(p.headers.len(), 2);
    assert_eq!(p.channel, "c");
    let p = publish(&["-H", "A: b", "-H", "C: d", "--no-seq", "c", "x"]).unwrap();
    assert_eq!(p.headers.len(), 2);
    // -M=a=b and --header=K:V take one value each
    let p = publish(&["-M=a=b", "--header=A: b", "c", "x"]).unwrap();
    assert_eq!(p.meta, vec![("a".into(), "b".into())]);
    assert_eq!(p.headers, vec![("A".into(), "b".into())]);
}

#[test]
fn options_given_twice_are_refused() {
    for argv in [
        &["--id", "1", "--id", "2", "c", "x"][..],
        &["--code", "200", "--code", "201", "c", "x"],
        &["--hint", "--hint", "c"],
        &["--spec", "http://a", "--spec", "http://b", "c", "x"],
    ] {
        assert_eq!(usage_error(argv), ErrorKind::ArgumentConflict, "{argv:?}");
    }
}

#[test]
fn usage_errors() {
    assert_eq!(usage_error(&[]), ErrorKind::MissingRequiredArgument);
    assert_eq!(usage_error(&["c", "x", "y"]), ErrorKind::UnknownArgument);
    assert_eq!(
        usage_error(&["c", "x", "--", "y"]),
        ErrorKind::UnknownArgument
    );
    assert_eq!(
        usage_error(&["--bogus", "c", "x"]),
        ErrorKind::UnknownArgument
    );
    assert_eq!(usage_error(&["c", "-5"]), ErrorKind::UnknownArgument);
    assert_eq!(usage_error(&["--help"]), ErrorKind::DisplayHelp);
    assert_eq!(usage_error(&["-V"]), ErrorKind::DisplayVersion);
    // after `--` a leading dash is content
    let p = publish(&["c", "--", "-5"]).unwrap();
    assert!(matches!(p.action, Action::Send { content: Content::Text(t), .. } if t == "-5"));
}

fn os(argv: &[&str]) -> Vec<OsString> {
    argv.iter().map(OsString::from).collect()
}

#[test]
fn attached_short_values_are_split_like_clap2() {
    assert_eq!(
        clap2_argv(os(&[
            "p", "-HA:b", "-Mk=v", "-H=x:y", "-M", "a=b", "--", "-HA:b"
        ])),
        os(&["p", "-H", "A:b", "-M", "k=v", "-H=x:y", "-M", "a=b", "--", "-HA:b"])
    );
    // the program name is never touched, nor are bare or other flags
    assert_eq!(
        clap2_argv(os(&["-Hx", "-H", "-uHx", "-V"])),
        os(&["-Hx", "-H", "-uHx", "-V"])
    );
    // and then the list is greedy, as in 1.36
    let argv = clap2_argv(os(&["pushpin-publish", "-Ma=b", "c", "x"]));
    assert_eq!(
        Args::try_parse_from(argv).unwrap_err().kind(),
        ErrorKind::MissingRequiredArgument
    );
    let argv = clap2_argv(os(&["pushpin-publish", "-HA:b", "--", "c", "x"]));
    let p = Args::try_parse_from(argv)
        .unwrap()
        .into_publish(String::new())
        .unwrap();
    assert_eq!(p.headers, vec![("A".into(), "b".into())]);
}
