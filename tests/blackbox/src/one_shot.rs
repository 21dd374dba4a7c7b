//! A one-connection HTTP/1.1 server on loopback that gives one fixed answer: the upstream for
//! a fault no real service can be made to show on demand (an answer too large, a redirect, an
//! API that says 200 and refuses an entry). Named as the fake it is.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Listens on a free loopback port and answers the first request with `answer`. Gives the
/// server's `http://host:port` URL, and the request's bytes (as text) once it was answered.
pub async fn serve_once(answer: Vec<u8>) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!(
        "http://{}",
        listener.local_addr().expect("a bound listener's address")
    );
    let served = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // The head, then as many body bytes as its Content-Length announces.
        loop {
            let n = socket.read(&mut buf).await.expect("a readable request");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().expect("a length"));
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        socket.write_all(&answer).await.expect("the answer written");
        let _ = socket.shutdown().await;
        String::from_utf8_lossy(&request).into_owned()
    });
    (url, served)
}

/// An HTTP/1.1 answer: `status_line` ("200 OK"), `headers` (each ending in CRLF), then `body`
/// with its length, on a connection that closes afterwards.
pub fn answer(status_line: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status_line}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}
