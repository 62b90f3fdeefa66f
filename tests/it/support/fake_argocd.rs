//! A loopback fake of the Argo CD API server, HTTPS only, for the hook's
//! refresh call: it records every request as received (method, path with
//! query, `Authorization`, `Host`) and answers with the status it is told
//! (200 with an Application, or Argo CD's grpc-gateway error body).
//!
//! One request per connection (`Connection: close`). Its certificate, for
//! `IP:127.0.0.1` and `DNS:localhost`, is signed by a throwaway CA
//! ([`FakeArgocd::ca_cert_path`], for `SSL_CERT_FILE`): a client that does
//! not trust that CA fails the handshake, and nothing is recorded.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use super::git_servers::tls_server_config;

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent (`/api/v1/applications/x?refresh=normal`).
    pub target: String,
    pub authorization: Option<String>,
    pub host: String,
}

pub struct FakeArgocd {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    tmp: tempfile::TempDir,
}

impl FakeArgocd {
    /// Answers 200 until told otherwise.
    pub fn start() -> FakeArgocd {
        let tmp = tempfile::Builder::new()
            .prefix("fake-argocd-")
            .tempdir()
            .unwrap();
        let config = tls_server_config(tmp.path());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (seen, status, stop) = (seen.clone(), status.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (config, seen, status) = (config.clone(), seen.clone(), status.clone());
                    thread::spawn(move || {
                        let _ = answer(stream, config, &seen, status.load(Ordering::SeqCst));
                    });
                }
            })
        };
        FakeArgocd {
            port,
            seen,
            status,
            stop,
            accept: Some(accept),
            tmp,
        }
    }

    /// `https://127.0.0.1:P`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The status every later request gets.
    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.tmp.path().join("ca.pem")
    }
}

impl Drop for FakeArgocd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn answer(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    seen: &Mutex<Vec<Seen>>,
    status: u16,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
    let mut line = String::new();
    tls.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (mut host, mut authorization) = (String::new(), None);
    loop {
        let mut header = String::new();
        if tls.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => host = value.trim().to_string(),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let app = target
        .split('?')
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    seen.lock().unwrap().push(Seen {
        method,
        target,
        authorization,
        host,
    });
    // Argo CD's answers: the Application, or grpc-gateway's error body.
    let (reason, body) = match status {
        200 => (
            "OK",
            serde_json::json!({"metadata": {"name": app, "namespace": "argocd"}}),
        ),
        403 => (
            "Forbidden",
            serde_json::json!({"error": "permission denied", "code": 7, "message": "permission denied"}),
        ),
        404 => {
            let m = format!("applications.argoproj.io \"{app}\" not found");
            (
                "Not Found",
                serde_json::json!({"error": m, "code": 5, "message": m}),
            )
        }
        _ => (
            "Error",
            serde_json::json!({"error": "internal", "code": 13, "message": "internal"}),
        ),
    };
    let body = body.to_string();
    let out = tls.get_mut();
    out.write_all(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )?;
    out.flush()?;
    out.conn.send_close_notify();
    let _ = out.flush();
    Ok(())
}
