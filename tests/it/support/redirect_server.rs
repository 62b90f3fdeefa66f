//! A redirecting HTTPS server on 127.0.0.1, for checking where a git client
//! sends credentials: it records every request (path, `Host`, whether it
//! carried `Authorization`) and answers
//!
//! - a path under `/moved/` with 401 and a Basic challenge when it has no
//!   `Authorization`, else 404 (nothing is served: only who asked matters);
//! - any other path with `302 Location: <redirect><path under /moved>`, when
//!   a redirect base is set (`https://localhost:P`, another server's
//!   `https://127.0.0.1:Q`, or the empty string: this very server).
//!
//! One request per connection (`Connection: close`). Its certificate, for
//! `IP:127.0.0.1` and `DNS:localhost`, is signed by a throwaway CA
//! ([`RedirectServer::ca_cert_path`], for `SSL_CERT_FILE`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use super::git_servers::tls_server_config;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub host: String,
    pub authorization: bool,
}

pub struct RedirectServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    redirect: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    tmp: tempfile::TempDir,
}

impl RedirectServer {
    pub fn start() -> RedirectServer {
        let tmp = tempfile::Builder::new()
            .prefix("redirect-")
            .tempdir()
            .unwrap();
        let config = tls_server_config(tmp.path());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let redirect: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (seen, redirect, stop) = (seen.clone(), redirect.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (config, seen, redirect) = (config.clone(), seen.clone(), redirect.clone());
                    thread::spawn(move || {
                        let _ = answer(stream, config, &seen, &redirect);
                    });
                }
            })
        };
        RedirectServer {
            port,
            seen,
            redirect,
            stop,
            accept: Some(accept),
            tmp,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Redirects every path outside `/moved/` to `base` + `/moved` + path
    /// (`""`: this server, same host and port).
    pub fn redirect_to(&self, base: &str) {
        *self.redirect.lock().unwrap() = Some(base.to_string());
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.tmp.path().join("ca.pem")
    }
}

impl Drop for RedirectServer {
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
    redirect: &Mutex<Option<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
    let mut line = String::new();
    tls.read_line(&mut line)?;
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (mut host, mut authorization, mut length) = (String::new(), false, 0usize);
    loop {
        let mut header = String::new();
        if tls.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => host = value.trim().to_string(),
            "authorization" => authorization = true,
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    std::io::Read::read_exact(&mut tls, &mut body)?;
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        host,
        authorization,
    });
    let target = redirect.lock().unwrap().clone();
    let head = match target {
        Some(base) if !path.starts_with("/moved/") => {
            format!("HTTP/1.1 302 Found\r\nLocation: {base}/moved{path}\r\n")
        }
        _ if !authorization => {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n".to_string()
        }
        _ => "HTTP/1.1 404 Not Found\r\n".to_string(),
    };
    let out = tls.get_mut();
    out.write_all(format!("{head}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes())?;
    out.flush()?;
    out.conn.send_close_notify();
    let _ = out.flush();
    Ok(())
}
