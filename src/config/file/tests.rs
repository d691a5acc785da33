//! Unit tests for config loading: every key type and every error.

use super::*;
use std::io::Write;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "pp-config-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let d = TempDir::new();
    let p = d.write("pushpin.conf", text);
    from_file(&p)
}

#[test]
fn reads_the_keys_it_uses() {
    let d = TempDir::new();
    d.write(
        "pushpin-inc.conf",
        "[handler]\nmessage_wait=700\n[proxy]\nsig_iss=from-include\n",
    );
    let p = d.write(
        "pushpin.conf",
        "[global]\ninclude={ipc_prefix}inc.conf\nrundir=sub\n[runner]\nhttp_port=7999,127.0.0.1:8000,[::1]:8001\nlog_level=2,proxy:3\n\
         services=condure,pushpin-proxy,pushpin-handler\nzurl_bin=zurl\n[proxy]\nroutesfile=routes\nsig_key=base64:aGk=\n\
         x_forwarded_for=truncate:0,append\nx_forwarded_for_trusted=append\ndebug=true\nauto_cross_origin=TRUE\nset_x_forwarded_protocol=proto-only\n\
         zurl_out_specs=ipc://{rundir}/zurl-in\n[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port=5599\n\
         push_in_http_max_headers_size=2000\npush_in_http_max_body_size=3000\nid_cache_ttl=30\nconnection_subscription_max=5\n",
    );
    let c = from_file(&p).unwrap();
    assert_eq!(
        c.listeners,
        vec![
            "0.0.0.0:7999".parse().unwrap(),
            "127.0.0.1:8000".parse().unwrap(),
            "[::1]:8001".parse().unwrap()
        ]
    );
    assert_eq!(c.log_level, 3);
    assert_eq!(c.routes, RoutesSource::File(d.0.join("routes")));
    assert_eq!(c.sig_key, b"hi");
    assert_eq!(c.sig_iss, "from-include");
    assert_eq!(c.message_wait, Duration::from_millis(700));
    assert_eq!(
        c.xff,
        XffRule {
            truncate: Some(0),
            append: true
        }
    );
    assert!(c.xff_trusted.append);
    assert!(c.debug);
    assert!(c.auto_cross_origin);
    assert_eq!(c.set_xfp, XfpMode::ProtoOnly);
    assert_eq!(c.publish_addr, Some("127.0.0.1:5599".parse().unwrap()));
    assert_eq!(c.publish_max_headers_size, 2000);
    assert_eq!(c.publish_max_body_size, 3000);
    assert_eq!(c.id_cache_ttl, Duration::from_secs(30));
    assert_eq!(c.connection_subscription_max, 5);
}

#[test]
fn missing_include_is_skipped_and_keys_default() {
    let c = load_text("[global]\ninclude={libdir}/nonexistent-internal.conf\n").unwrap();
    assert_eq!(c.listeners, vec!["0.0.0.0:7999".parse().unwrap()]);
    assert_eq!(c.publish_addr, None);
    assert_eq!(c.routes, RoutesSource::None);
}

#[test]
fn bad_values_name_file_line_and_key() {
    let cases = [
        ("[runner]\nhttp_port=abc\n", 2, "http_port"),
        ("[runner]\nhttps_ports=443,abc\n", 2, "https_ports"),
        ("[runner]\n\nhttps_ports=0\n", 3, "https_ports"),
        ("[runner]\nhttps_ports=127.0.0.1:0\n", 2, "https_ports"),
        ("[runner]\nhttps_ports=127.0.0.1:70000\n", 2, "https_ports"),
        ("[runner]\n\nlog_level=x\n", 3, "log_level"),
        ("[runner]\nclient_maxconn=-5\n", 2, "client_maxconn"),
        (
            "[proxy]\nx_forwarded_for=truncate:z\n",
            2,
            "x_forwarded_for",
        ),
        ("[proxy]\nx_forwarded_for=prepend\n", 2, "x_forwarded_for"),
        ("[proxy]\nsig_key=base64:!!!\n", 2, "sig_key"),
        ("[proxy]\nsig_key=file:/nonexistent/key.pem\n", 2, "sig_key"),
        (
            "[handler]\npush_in_http_addr=nowhere\n",
            2,
            "push_in_http_addr",
        ),
        (
            "[handler]\npush_in_http_port=70000\n",
            2,
            "push_in_http_port",
        ),
        ("[handler]\nmessage_wait=soon\n", 2, "message_wait"),
        ("[handler]\nid_cache_ttl=1.5\n", 2, "id_cache_ttl"),
        ("[handler]\nprometheus_port=abc\n", 2, "prometheus_port"),
        ("[handler]\nprometheus_port=ipc://\n", 2, "prometheus_port"),
        (
            "[proxy]\n\nprometheus_port=127.0.0.1:70000\n",
            3,
            "prometheus_port",
        ),
        (
            "[handler]\nprometheus_port=9100\nprometheus_prefix=my-app_\n",
            3,
            "prometheus_prefix",
        ),
        (
            "[handler]\nprometheus_prefix=1st\nprometheus_port=9100\n",
            2,
            "prometheus_prefix",
        ),
        (
            "[handler]\nprometheus_port=9100\nstats_report_interval=often\n",
            3,
            "stats_report_interval",
        ),
    ];
    for (text, line, key) in cases {
        let e = load_text(text).unwrap_err().to_string();
        assert!(
            e.contains(&format!("pushpin.conf:{line}: invalid value for '{key}'")),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn malformed_lines_are_errors() {
    let e = load_text("[runner]\nhttp_port 7999\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("pushpin.conf:2: expected 'key=value'"), "{e}");
    let d = TempDir::new();
    d.write("inc.conf", "garbage line\n");
    let p = d.write("pushpin.conf", "[global]\ninclude=inc.conf\n");
    let e = from_file(&p).unwrap_err().to_string();
    assert!(e.contains("inc.conf:1:"), "{e}");
    assert!(matches!(
        from_file(&d.0.join("missing.conf")),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn https_and_local_ports() {
    let d = TempDir::new();
    let p = d.write(
        "pushpin.conf",
        "[runner]\nhttps_ports=443, 127.0.0.1:8443,[::1]:9443\nlocal_ports=/tmp/a.sock,rel.sock\n",
    );
    let c = from_file(&p).unwrap();
    assert_eq!(
        c.https_listeners,
        vec![
            "0.0.0.0:443".parse().unwrap(),
            "127.0.0.1:8443".parse().unwrap(),
            "[::1]:9443".parse().unwrap(),
        ]
    );
    // as given: a relative path is taken from the working directory
    assert_eq!(
        c.local_listeners,
        vec![PathBuf::from("/tmp/a.sock"), PathBuf::from("rel.sock")]
    );
    assert_eq!(c.certs_dir, d.0.join("runner").join("certs"));

    let c = load_text("[runner]\nhttps_ports=\nlocal_ports=\n").unwrap();
    assert!(c.https_listeners.is_empty() && c.local_listeners.is_empty());
}

#[test]
fn cli_port_replaces_every_listener() {
    let mut c = Config {
        https_listeners: vec!["0.0.0.0:443".parse().unwrap()],
        local_listeners: vec![PathBuf::from("/tmp/a.sock")],
        ..Config::default()
    };
    let cli = Cli {
        port: Some("9000".into()),
        ..Cli::default()
    };
    apply_cli(&mut c, &cli).unwrap();
    assert_eq!(c.listeners, vec!["0.0.0.0:9000".parse().unwrap()]);
    assert!(c.https_listeners.is_empty() && c.local_listeners.is_empty());
}

#[test]
fn cli_overrides() {
    let mut c = Config::default();
    let cli = Cli {
        port: Some("127.0.0.1:9000".into()),
        id: Some(2),
        route: vec!["* 127.0.0.1:80".into()],
        loglevel: Some("1".into()),
        verbose: true,
        ..Cli::default()
    };
    apply_cli(&mut c, &cli).unwrap();
    assert_eq!(c.listeners, vec!["127.0.0.1:9000".parse().unwrap()]);
    assert_eq!(c.publish_addr.unwrap().port(), 5581);
    assert!(matches!(c.routes, RoutesSource::Lines(_)));
    assert_eq!(c.log_level, 3);
    let bad = Cli {
        port: Some("x".into()),
        ..Cli::default()
    };
    assert!(apply_cli(&mut Config::default(), &bad)
        .unwrap_err()
        .to_string()
        .starts_with("--port:"));
}

#[test]
fn routes_errors_name_file_and_line() {
    let d = TempDir::new();
    let p = d.write("routes", "* 127.0.0.1:80\n* bad\n");
    let e = load_routes(&RoutesSource::File(p)).unwrap_err().to_string();
    assert!(e.contains("routes:2: target 'bad'"), "{e}");
    let e = load_routes(&RoutesSource::Lines(vec!["*,proto=x a:1".into()]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--route:1:"), "{e}");
    assert_eq!(load_routes(&RoutesSource::None).unwrap().len(), 0);
}

#[test]
fn prometheus_endpoints() {
    let c = load_text("[global]\nrundir=/r\n").unwrap();
    assert_eq!((c.handler_prometheus, c.proxy_prometheus), (None, None));
    let c = load_text(
        "[global]\nrundir=/r\n[proxy]\nprometheus_port=localhost:9101\nstats_report_interval=3\n\
         [handler]\nprometheus_port=ipc://{rundir}/prom.sock\nprometheus_prefix=pushpin_\nstats_report_interval=0\n",
    )
    .unwrap();
    assert_eq!(
        c.handler_prometheus,
        Some(Prometheus {
            listen: MetricsListen::Unix("/r/prom.sock".into()),
            prefix: "pushpin_".into(),
        })
    );
    // a host name listens on all addresses, as 1.36 does
    assert_eq!(
        c.proxy_prometheus,
        Some(Prometheus {
            listen: MetricsListen::Tcp("0.0.0.0:9101".parse().unwrap()),
            prefix: String::new(),
        })
    );
    // the handler's interval applies when its endpoint is on
    assert_eq!(c.stats_report_interval, Duration::ZERO);
    let c = load_text(
        "[proxy]\nprometheus_port=9101\nstats_report_interval=3\n[handler]\nprometheus_port=\n",
    )
    .unwrap();
    assert_eq!(c.handler_prometheus, None);
    assert_eq!(c.stats_report_interval, Duration::from_secs(3));
    // the prefix is unused (and unchecked) without a port
    let c = load_text("[handler]\nprometheus_prefix=not valid\n").unwrap();
    assert_eq!(c.handler_prometheus, None);
    assert_eq!(c.stats_report_interval, Duration::from_secs(10));
}
