//! The direct path through a real socket pair: what an armed inbox writes,
//! what it queues, and how it hands the socket back.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::DirectSink;
use crate::grip::item::{HttpStream, Item};
use crate::hub::{Inbox, Recv};

/// A connected pair: (the server side, as a session holds it; the client).
async fn pair() -> (Arc<TcpStream>, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, _) = l.accept().await.unwrap();
    (Arc::new(server), client)
}

fn sink(stream: &Arc<TcpStream>, track_writes: bool) -> DirectSink {
    DirectSink {
        stream: stream.clone(),
        chunked: true,
        track_writes,
    }
}

fn stream_item(text: &str) -> Arc<Item> {
    Arc::new(Item::test_stream("c", text))
}

async fn read_exactly(client: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut buf))
        .await
        .expect("bytes arrived")
        .unwrap();
    buf
}

#[tokio::test]
async fn an_armed_idle_inbox_writes_chunks_and_queues_nothing() {
    let (server, mut client) = pair().await;
    let inbox = Inbox::new(8);
    assert!(inbox.arm(sink(&server, true)));
    let (a, b) = (stream_item("hello\n"), stream_item("world\n"));
    assert_eq!(inbox.offer(&[&a, &b], 0), (2, 0));
    assert_eq!(
        read_exactly(&mut client, 22).await,
        b"6\r\nhello\n\r\n6\r\nworld\n\r\n"
    );
    assert!(inbox.try_recv(&mut Vec::new()).is_none(), "nothing queued");
    assert!(inbox.disarm().is_some(), "the write time is reported");
    assert!(inbox.disarm().is_none(), "and reported once");
}

#[tokio::test]
async fn a_disarmed_inbox_queues() {
    let (server, _client) = pair().await;
    let inbox = Inbox::new(8);
    assert!(inbox.arm(sink(&server, false)));
    assert_eq!(inbox.disarm(), None);
    let a = stream_item("x");
    assert_eq!(inbox.offer(&[&a], 3), (1, 0));
    let mut out = Vec::new();
    assert_eq!(inbox.try_recv(&mut out), Some(Recv::Items));
    assert_eq!((out.len(), out[0].slot, out[0].skip), (1, 3, 0));
}

#[tokio::test]
async fn arming_is_refused_while_deliveries_wait() {
    let (server, _client) = pair().await;
    let inbox = Inbox::new(8);
    let a = stream_item("x");
    inbox.offer(&[&a], 0);
    assert!(!inbox.arm(sink(&server, false)));
}

#[tokio::test]
async fn items_only_the_session_can_handle_go_through_the_queue_in_order() {
    let (server, mut client) = pair().await;
    let inbox = Inbox::new(8);
    assert!(inbox.arm(sink(&server, false)));
    let first = stream_item("a");
    assert_eq!(inbox.offer(&[&first], 0), (1, 0));
    let mut close = Item::test_stream("c", "");
    close.http_stream = Some(HttpStream::Close);
    let (close, after) = (Arc::new(close), stream_item("b"));
    assert_eq!(inbox.offer(&[&after, &close], 0), (2, 0));
    // the first went out; the batch with the close waits for the session,
    // and so does everything after it (the inbox is disarmed now)
    assert_eq!(read_exactly(&mut client, 6).await, b"1\r\na\r\n");
    let late = stream_item("c");
    inbox.offer(&[&late], 0);
    let mut out = Vec::new();
    assert_eq!(inbox.try_recv(&mut out), Some(Recv::Items));
    assert_eq!(out.len(), 3);
    assert!(matches!(out[1].item.http_stream, Some(HttpStream::Close)));
}

#[tokio::test]
async fn a_full_socket_hands_the_rest_to_the_session_with_its_offset() {
    let (server, mut client) = pair().await;
    let inbox = Inbox::new(1000);
    assert!(inbox.arm(sink(&server, false)));
    // the client reads nothing yet, so the socket fills up part way
    let mut items = Vec::new();
    let mut queued = Vec::new();
    while inbox.try_recv(&mut queued).is_none() {
        let letter = char::from(b'a' + (items.len() % 26) as u8);
        let item = stream_item(&letter.to_string().repeat(100_000));
        assert_eq!(inbox.offer(&[&item], 0), (1, 0));
        items.push(item);
        assert!(items.len() < 500, "the socket never filled");
    }
    for more in 0..3 {
        let item = stream_item(&format!("after {more}\n"));
        inbox.offer(&[&item], 0);
        items.push(item);
    }
    inbox.try_recv(&mut queued);
    assert!(inbox.arm(sink(&server, false)), "re-armed once drained");
    inbox.disarm();
    // the session writes its share, starting where the direct write stopped
    let server_side = server.clone();
    let writer = tokio::spawn(async move {
        for d in queued {
            let Some(HttpStream::Send(s)) = &d.item.http_stream else {
                unreachable!()
            };
            crate::server::io::write_all(&server_side, &s.chunk[d.skip as usize..])
                .await
                .unwrap();
        }
    });
    let want: Vec<u8> = items
        .iter()
        .flat_map(|i| match &i.http_stream {
            Some(HttpStream::Send(s)) => s.chunk.to_vec(),
            _ => unreachable!(),
        })
        .collect();
    let got = read_exactly(&mut client, want.len()).await;
    writer.await.unwrap();
    assert!(got == want, "every byte exactly once, in order");
}
