//! Unit tests for the counts and their text, on tokio's paused clock.

use super::*;

const NO_MESSAGES: MessageCounts = MessageCounts {
    received: 0,
    sent: 0,
};

#[test]
fn text_is_1_36s_exposition() {
    let s = Snapshot {
        request_received: 4,
        connection_connected: 3,
        connection_minute: 4,
        message_received: 2,
        message_sent: 3,
    };
    let want = "\
# HELP pp_request_received Number of requests received
# TYPE pp_request_received counter
pp_request_received 4
# HELP pp_connection_connected Number of concurrent connections
# TYPE pp_connection_connected gauge
pp_connection_connected 3
# HELP pp_connection_minute Number of minutes clients have been connected
# TYPE pp_connection_minute counter
pp_connection_minute 4
# HELP pp_message_received Number of messages received by the publish API
# TYPE pp_message_received counter
pp_message_received 2
# HELP pp_message_sent Number of messages sent to clients
# TYPE pp_message_sent counter
pp_message_sent 3
";
    assert_eq!(s.to_text("pp_"), want);
    // 1.36's all-zero page with prefix "pp_" has Content-Length: 610
    assert_eq!(Snapshot::default().to_text("pp_").len(), 610);
}

#[test]
fn nothing_is_counted_without_an_endpoint() {
    let m = Metrics::new(false, Duration::from_secs(10));
    assert!(m.request().is_none());
    assert_eq!(m.snapshot(NO_MESSAGES, View::Handler), Snapshot::default());
}

#[test]
fn the_proxy_view_has_no_message_counts() {
    let m = Metrics::new(true, Duration::from_secs(10));
    let msgs = MessageCounts {
        received: 5,
        sent: 9,
    };
    let _c = m.request();
    let h = m.snapshot(msgs, View::Handler);
    let p = m.snapshot(msgs, View::Proxy);
    assert_eq!((h.message_received, h.message_sent), (5, 9));
    assert_eq!((p.message_received, p.message_sent), (0, 0));
    assert_eq!(p.request_received, 1);
    assert_eq!(p.connection_connected, 1);
}

#[tokio::test(start_paused = true)]
async fn connections_minutes_and_the_window() {
    let m = Metrics::new(true, Duration::from_secs(10));
    let snap = |m: &Metrics| m.snapshot(NO_MESSAGES, View::Handler);
    let short = m.request();
    let long = m.request();
    let s = snap(&m);
    assert_eq!(
        (
            s.request_received,
            s.connection_connected,
            s.connection_minute
        ),
        (2, 2, 2)
    );
    drop(short);
    tokio::time::advance(Duration::from_secs(59)).await;
    // still the window's peak; no full minute yet
    assert_eq!(
        (snap(&m).connection_connected, snap(&m).connection_minute),
        (2, 2)
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(snap(&m).connection_minute, 3);
    m.report();
    assert_eq!(snap(&m).connection_connected, 2);
    m.report();
    assert_eq!(snap(&m).connection_connected, 1);
    tokio::time::advance(Duration::from_secs(125)).await;
    drop(long);
    // 1 + 3 full minutes for the long one, 1 for the short one
    assert_eq!(snap(&m).connection_minute, 5);
    tokio::time::advance(Duration::from_secs(600)).await;
    let s = snap(&m);
    assert_eq!((s.connection_minute, s.request_received), (5, 2));
}

#[tokio::test(start_paused = true)]
async fn no_window_reports_the_current_count() {
    let m = Metrics::new(true, Duration::ZERO);
    let a = m.request();
    let _b = m.request();
    drop(a);
    assert_eq!(
        m.snapshot(NO_MESSAGES, View::Handler).connection_connected,
        1
    );
}

#[tokio::test(start_paused = true)]
async fn reports_tick_every_interval_until_shutdown() {
    let m = Metrics::new(true, Duration::from_secs(10));
    let token = CancellationToken::new();
    let c = m.request();
    drop(c);
    let connected = |m: &Metrics| m.snapshot(NO_MESSAGES, View::Handler).connection_connected;
    let ticks = run_reports(&m, Duration::from_secs(10), token.clone());
    let check = async {
        assert_eq!(connected(&m), 1);
        // the first tick keeps the peak, the second finds no change
        tokio::time::sleep(Duration::from_millis(10_500)).await;
        assert_eq!(connected(&m), 1);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(connected(&m), 0);
        token.cancel();
    };
    tokio::join!(ticks, check);
}
