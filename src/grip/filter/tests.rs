use super::*;

type SubMeta = BTreeMap<String, Option<String>>;

fn sub(pairs: &[(&str, Option<&str>)]) -> SubMeta {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect()
}

fn pubm(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn drops(filters: &[&str], sub_meta: &SubMeta, pub_meta: &[(&str, &str)], prev: &SubMeta) -> bool {
    let pub_meta = pubm(pub_meta);
    let ctx = FilterContext {
        sub_meta,
        pub_meta: &pub_meta,
        prev_ids: prev,
    };
    should_drop(&names(filters), &ctx)
}

fn process(
    filters: &[&str],
    sub_meta: &SubMeta,
    prev: &SubMeta,
    body: &str,
) -> Result<String, String> {
    let pub_meta = BTreeMap::new();
    let ctx = FilterContext {
        sub_meta,
        pub_meta: &pub_meta,
        prev_ids: prev,
    };
    process_content(&names(filters), &ctx, body.as_bytes()).map(|v| String::from_utf8(v).unwrap())
}

#[test]
fn no_filters_never_drop() {
    let alice = sub(&[("user", Some("alice"))]);
    let none = SubMeta::new();
    assert!(!drops(
        &[],
        &alice,
        &[("sender", "alice"), ("require_sub", "x")],
        &none
    ));
    assert!(!drops(
        &["nope", "Skip-Self"],
        &alice,
        &[("sender", "alice")],
        &none
    ));
}

#[test]
fn skip_self() {
    let none = SubMeta::new();
    let alice = sub(&[("user", Some("alice"))]);
    assert!(drops(&["skip-self"], &alice, &[("sender", "alice")], &none));
    assert!(!drops(
        &["skip-self"],
        &alice,
        &[("sender", "Alice")],
        &none
    ));
    assert!(!drops(&["skip-self"], &alice, &[], &none));
    let empty = sub(&[("user", Some(""))]);
    assert!(!drops(&["skip-self"], &empty, &[("sender", "")], &none));
    let null = sub(&[("user", None)]);
    assert!(!drops(&["skip-self"], &null, &[("sender", "")], &none));
}

#[test]
fn skip_users() {
    let none = SubMeta::new();
    let bob = sub(&[("user", Some("bob"))]);
    let f = ["skip-users"];
    assert!(drops(
        &f,
        &bob,
        &[("skip_users", "alice, bob ,carol")],
        &none
    ));
    assert!(drops(&f, &bob, &[("skip_users", "\tbob\n")], &none));
    assert!(!drops(&f, &bob, &[("skip_users", "bobby,alice")], &none));
    assert!(!drops(&f, &bob, &[], &none));
    let empty = sub(&[("user", Some(""))]);
    assert!(!drops(&f, &empty, &[("skip_users", "a,, ,b")], &none));
    let null = sub(&[("user", None)]);
    assert!(!drops(&f, &null, &[("skip_users", ",")], &none));
}

#[test]
fn require_sub() {
    let meta = SubMeta::new();
    let prev = sub(&[("news", None), ("sports", Some("3"))]);
    let f = ["require-sub"];
    assert!(!drops(&f, &meta, &[("require_sub", "news")], &prev));
    assert!(!drops(&f, &meta, &[("require_sub", "sports")], &prev));
    assert!(drops(&f, &meta, &[("require_sub", "weather")], &prev));
    assert!(!drops(&f, &meta, &[("require_sub", "")], &prev));
    assert!(!drops(&f, &meta, &[], &prev));
    // WebSocket: no prev-ids, so any non-empty require_sub drops.
    assert!(drops(
        &f,
        &meta,
        &[("require_sub", "news")],
        &SubMeta::new()
    ));
}

#[test]
fn any_delivery_filter_drops() {
    let bob = sub(&[("user", Some("bob"))]);
    let prev = sub(&[("c", None)]);
    let f = ["skip-self", "build-id", "skip-users"];
    assert!(drops(&f, &bob, &[("skip_users", "bob")], &prev));
    assert!(!drops(&f, &bob, &[("skip_users", "al")], &prev));
}

#[test]
fn content_filter_assertion() {
    let subs = names(&["skip-self", "build-id", "x", "var-subst", "build-id"]);
    let ok = names(&["build-id", "var-subst", "build-id"]);
    assert_eq!(check_content_filters(&subs, None), Ok(()));
    assert_eq!(check_content_filters(&subs, Some(&ok)), Ok(()));
    assert_eq!(
        check_content_filters(&names(&["skip-self"]), Some(&[])),
        Ok(())
    );
    assert_eq!(
        check_content_filters(&subs, Some(&names(&["var-subst", "build-id", "build-id"]))),
        Err(
            "content filter mismatch: subscription=build-id,var-subst,build-id \
             message=var-subst,build-id,build-id"
                .to_owned()
        )
    );
    assert_eq!(
        check_content_filters(&names(&["build-id"]), Some(&[])),
        Err("content filter mismatch: subscription=build-id message=".to_owned())
    );
    assert_eq!(
        check_content_filters(&[], Some(&names(&["skip-self"]))),
        Err("content filter mismatch: subscription= message=skip-self".to_owned())
    );
}

#[test]
fn content_untouched_without_content_filters() {
    let none = SubMeta::new();
    let f = ["skip-self", "require-sub", "unknown"];
    assert!(!has_content_filters(&names(&f)));
    assert_eq!(
        process(&f, &none, &none, "100% %(x)s %").unwrap(),
        "100% %(x)s %"
    );
    assert_eq!(process(&[], &none, &none, "%").unwrap(), "%");
}

#[test]
fn var_subst() {
    let none = SubMeta::new();
    let meta = sub(&[
        ("user", Some("bob")),
        ("pct", Some("%s")),
        ("e", Some("")),
        ("n", None),
    ]);
    let f = ["var-subst", "skip-self"];
    assert_eq!(
        process(&f, &meta, &none, "hi %(user)s, 100%%").unwrap(),
        "hi bob, 100%"
    );
    // Values are inserted verbatim, not re-processed.
    assert_eq!(process(&f, &meta, &none, "[%(pct)s]").unwrap(), "[%s]");
    assert_eq!(process(&f, &meta, &none, "[%(e)s]").unwrap(), "[]");
    let err = |body| process(&f, &meta, &none, body).unwrap_err();
    assert_eq!(
        err("ab%(n)s"),
        "filter error: var-subst: No such variable 'n' at position 6"
    );
    assert_eq!(
        err("%(zz)s"),
        "filter error: var-subst: No such variable 'zz' at position 5"
    );
    assert_eq!(
        err("x%s"),
        "filter error: var-subst: Directive 's' requires argument at position 2"
    );
    assert_eq!(
        err("%()s"),
        "filter error: var-subst: Directive 's' requires argument at position 3"
    );
    assert_eq!(
        err("%(user)d"),
        "filter error: var-subst: Unknown directive 'd' at position 7"
    );
    assert_eq!(
        err("%1"),
        "filter error: var-subst: Unknown directive '1' at position 1"
    );
    assert_eq!(
        err("100%"),
        "filter error: var-subst: Expected directive after '%' at position 3"
    );
    assert_eq!(
        err("%(a"),
        "filter error: var-subst: Unterminated field starting at position 1"
    );
    assert_eq!(
        err("%("),
        "filter error: var-subst: Expected character after '(' at position 1"
    );
    assert_eq!(
        err("%(a)"),
        "filter error: var-subst: Expected directive after ')' at position 3"
    );
    assert_eq!(
        err(r"%(a\"),
        r"filter error: var-subst: Expected character after '\' at position 3"
    );
}

fn id_meta(format: &str, encoding: Option<Option<&str>>) -> SubMeta {
    let mut m = sub(&[("id_format", Some(format))]);
    if let Some(e) = encoding {
        m.insert("id_encoding".to_owned(), e.map(str::to_owned));
    }
    m
}

#[test]
fn build_id_default_and_explicit() {
    let prev = sub(&[("a", Some("7")), ("b", Some("x")), ("c", None)]);
    let meta = id_meta("%(a)s-%(b)s%%", None);
    let f = ["build-id"];
    assert_eq!(process(&f, &meta, &prev, "id=%I;").unwrap(), "id=7-x%;");
    assert_eq!(
        process(&f, &meta, &prev, "%()I %(C3PO)I %%").unwrap(),
        "7-x% C3PO %"
    );
    assert_eq!(process(&f, &meta, &prev, r"%(a\)b)I").unwrap(), "a)b");
    let hex = id_meta("%(a)s", Some(Some("hex")));
    assert_eq!(
        process(&f, &hex, &prev, "%I/%(C3PO)I").unwrap(),
        "37/4333504f"
    );
    // A null encoding is raw.
    let raw = id_meta("%(a)s", Some(None));
    assert_eq!(process(&f, &raw, &prev, "%I").unwrap(), "7");
}

#[test]
fn build_id_setup_errors() {
    let prev = sub(&[("a", Some("7")), ("c", None)]);
    let f = ["build-id"];
    let err = |meta: &SubMeta, prev: &SubMeta, body| process(&f, meta, prev, body).unwrap_err();
    let missing = "filter error: build-id: no sub meta 'id_format'";
    assert_eq!(err(&SubMeta::new(), &prev, ""), missing);
    assert_eq!(
        err(&sub(&[("id_format", None)]), &SubMeta::new(), "plain"),
        missing
    );
    assert_eq!(
        err(&id_meta("%(zz)s", None), &prev, ""),
        "filter error: build-id: failed to render ID: No such variable 'zz' at position 5"
    );
    assert_eq!(
        err(&id_meta("<%(c)s>", None), &prev, ""),
        "filter error: build-id: failed to render ID: No such variable 'c' at position 5"
    );
    assert_eq!(
        err(&id_meta("%I", None), &prev, ""),
        "filter error: build-id: failed to render ID: Unknown directive 'I' at position 1"
    );
    assert_eq!(
        err(&id_meta("%s", None), &prev, ""),
        "filter error: build-id: failed to render ID: Directive 's' requires argument at position 1"
    );
    assert_eq!(
        err(&id_meta("%(a", None), &prev, ""),
        "filter error: build-id: failed to render ID: Unterminated field starting at position 1"
    );
    // Without prev-ids the format is not rendered at all.
    assert_eq!(
        process(&f, &id_meta("%(zz)s", None), &SubMeta::new(), "ok").unwrap(),
        "ok"
    );
    for bad in ["", "HEX", "base64"] {
        assert_eq!(
            err(&id_meta("%(a)s", Some(Some(bad))), &prev, ""),
            format!("filter error: build-id: unsupported encoding: {bad}")
        );
    }
}

#[test]
fn build_id_content_errors() {
    let prev = sub(&[("a", Some("7"))]);
    let meta = id_meta("%(a)s", None);
    let f = ["build-id"];
    let err = |prev: &SubMeta, body| process(&f, &meta, prev, body).unwrap_err();
    assert_eq!(
        err(&prev, "ab%s"),
        "filter error: build-id: Unknown directive 's' at position 3"
    );
    assert_eq!(
        err(&prev, "%(x)i"),
        "filter error: build-id: Unknown directive 'i' at position 4"
    );
    assert_eq!(
        err(&prev, "%-"),
        "filter error: build-id: Unknown directive '-' at position 1"
    );
    assert_eq!(
        err(&SubMeta::new(), "ab %I"),
        "filter error: build-id: No ID specified and no default ID in context at position 4"
    );
    // A trailing incomplete directive fails at finalize; the position is
    // within the leftover buffer.
    assert_eq!(
        err(&prev, "abc%("),
        "filter error: build-id: Expected character after '(' at position 1"
    );
    assert_eq!(
        err(&prev, "abc%"),
        "filter error: build-id: Expected directive after '%' at position 0"
    );
    assert_eq!(
        err(&prev, "x%(ab"),
        "filter error: build-id: Unterminated field starting at position 1"
    );
}

#[test]
fn stack_runs_in_subscription_order() {
    let prev = sub(&[("a", Some("7"))]);
    let meta = id_meta("%(a)s", None);
    let mut meta2 = meta.clone();
    meta2.insert("user".to_owned(), Some("bob".to_owned()));
    let vb = ["var-subst", "build-id"];
    let bv = ["build-id", "var-subst"];
    assert_eq!(
        process(&vb, &meta2, &prev, "%%I %(user)s").unwrap(),
        "7 bob"
    );
    assert_eq!(
        process(&bv, &meta2, &prev, "%(z)I %%(user)s").unwrap(),
        "z bob"
    );
    // Each instance runs: duplicates unescape twice.
    assert_eq!(
        process(&["build-id", "build-id"], &meta, &prev, "%%%%I|%%I").unwrap(),
        "%I|7"
    );
    // The first failing filter names the error.
    assert_eq!(
        process(&vb, &SubMeta::new(), &prev, "%(user)s").unwrap_err(),
        "filter error: var-subst: No such variable 'user' at position 7"
    );
    assert_eq!(
        process(&bv, &SubMeta::new(), &prev, "%(user)s").unwrap_err(),
        "filter error: build-id: no sub meta 'id_format'"
    );
}

#[test]
fn proxy_filters_union() {
    let a = names(&["skip-self", "build-id", "var-subst"]);
    let b = names(&["build-id", "build-id", "x"]);
    let c = names(&["require-sub"]);
    assert_eq!(proxy_content_filters(&[&a, &b, &c]), names(&["build-id"]));
    assert!(proxy_content_filters(&[&c, &[]]).is_empty());
    assert!(proxy_content_filters(&[]).is_empty());
}

fn stream(meta: &SubMeta, chunks: &[&str]) -> Result<String, String> {
    let mut s = ContentStream::new(&names(&["build-id"]), meta);
    let mut out = Vec::new();
    for c in chunks {
        out.extend(s.update(c.as_bytes())?);
    }
    out.extend(s.finalize()?);
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn stream_buffers_incomplete_directives() {
    let meta = id_meta("ignored", Some(Some("hex")));
    let mut s = ContentStream::new(&names(&["var-subst", "build-id"]), &meta);
    assert!(!s.is_passthrough());
    assert_eq!(s.update(b"a %").unwrap(), b"a ");
    assert_eq!(s.update(b"(C3").unwrap(), b"");
    assert_eq!(s.update(b"\\").unwrap(), b"");
    assert_eq!(s.update(b")PO").unwrap(), b"");
    assert_eq!(s.update(b")I %%").unwrap(), b"433329504f %");
    assert_eq!(s.update(b"").unwrap(), b"");
    assert_eq!(s.finalize().unwrap(), b"");

    // Chunk boundaries do not change the result.
    let raw = id_meta("x", None);
    let body = "<%(one)I|%%|%(t\\)wo)I>";
    let whole = stream(&raw, &[body]).unwrap();
    assert_eq!(whole, "<one|%|t)wo>");
    let bytes: Vec<String> = body.chars().map(String::from).collect();
    let bytes: Vec<&str> = bytes.iter().map(String::as_str).collect();
    assert_eq!(stream(&raw, &bytes).unwrap(), whole);
}

#[test]
fn stream_errors() {
    let meta = id_meta("%(a)s", None);
    assert_eq!(
        stream(&meta, &["ok ", "then %I"]).unwrap_err(),
        "filter error: build-id: No ID specified and no default ID in context at position 6"
    );
    // Positions are within leftover + chunk.
    assert_eq!(
        stream(&meta, &["abc %(x", ")s"]).unwrap_err(),
        "filter error: build-id: Unknown directive 's' at position 4"
    );
    assert_eq!(
        stream(&meta, &["abc %(x", "yz"]).unwrap_err(),
        "filter error: build-id: Unterminated field starting at position 1"
    );
    assert_eq!(
        stream(&SubMeta::new(), &[]).unwrap_err(),
        "filter error: build-id: no sub meta 'id_format'"
    );
    assert_eq!(
        stream(&SubMeta::new(), &["x"]).unwrap_err(),
        "filter error: build-id: no sub meta 'id_format'"
    );
    let bad = id_meta("x", Some(Some("b64")));
    assert_eq!(
        stream(&bad, &[]).unwrap_err(),
        "filter error: build-id: unsupported encoding: b64"
    );
}

#[test]
fn stream_passthrough_without_build_id() {
    let mut s = ContentStream::new(&names(&["var-subst", "skip-self"]), &SubMeta::new());
    assert!(s.is_passthrough());
    assert_eq!(s.update(b"%(user)s 100%").unwrap(), b"%(user)s 100%");
    assert_eq!(s.finalize().unwrap(), b"");
}
