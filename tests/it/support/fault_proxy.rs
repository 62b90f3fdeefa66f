//! A loopback TCP proxy that injects one fault per connection, for testing
//! clients against a flaky network: connection `i` gets `plan[i]` (later
//! ones pass through clean). It forwards bytes both ways between the client
//! and `127.0.0.1:upstream` and, at a byte offset in one direction, cuts the
//! connection (FIN), resets it (RST), stalls it, or flips a byte; or it
//! resets a connection as soon as it is accepted ("refused for a while").
//!
//! It knows nothing about the protocol, so TLS passes through it untouched
//! up to the fault: a flipped byte inside a TLS record is what a client sees
//! as "decryption failed or bad record mac".
//!
//! Threads: one accepting, two per connection. Dropping the proxy closes
//! the listener and every live connection, so nothing outlives the test.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Which way the bytes a fault counts flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// What happens to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded untouched.
    Clean,
    /// Reset as soon as it is accepted, before any byte.
    Refuse,
    /// Closed both ways (FIN) once `after` bytes went through in `dir`.
    Cut { dir: Dir, after: usize },
    /// Reset (RST to the side receiving `dir`) after `after` bytes.
    Reset { dir: Dir, after: usize },
    /// Nothing more forwarded in `dir` after `after` bytes, for `pause`
    /// (`None`: until the connection closes).
    Stall {
        dir: Dir,
        after: usize,
        pause: Option<Duration>,
    },
    /// The byte at offset `at` in `dir` is XORed with `mask` (not 0).
    Flip { dir: Dir, at: usize, mask: u8 },
}

/// The proxy; see the module documentation.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    connections: AtomicUsize,
    /// Faults whose byte offset was reached (a cut after 10 kB never
    /// triggers on a 2 kB exchange).
    triggered: AtomicUsize,
    live: Mutex<Vec<TcpStream>>,
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16, plan: Vec<Fault>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            triggered: AtomicUsize::new(0),
            live: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let i = shared.connections.fetch_add(1, Ordering::SeqCst);
                    let fault = plan.get(i).cloned().unwrap_or(Fault::Clean);
                    serve(client, upstream, fault, shared.clone());
                }
            })
        };
        FaultProxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Faults that actually fired.
    pub fn triggered(&self) -> usize {
        self.shared.triggered.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in self.shared.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Makes the next close of `s` send RST instead of FIN.
fn linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn serve(client: TcpStream, upstream: u16, fault: Fault, shared: Arc<Shared>) {
    if fault == Fault::Refuse {
        shared.triggered.fetch_add(1, Ordering::SeqCst);
        linger_zero(&client);
        return;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], upstream));
    let Ok(server) = TcpStream::connect(addr) else {
        linger_zero(&client);
        return;
    };
    {
        let mut live = shared.live.lock().unwrap();
        live.extend(client.try_clone().ok());
        live.extend(server.try_clone().ok());
    }
    let ended = Arc::new(AtomicUsize::new(0));
    for dir in [Dir::Up, Dir::Down] {
        let (src, dst) = match dir {
            Dir::Up => (client.try_clone(), server.try_clone()),
            Dir::Down => (server.try_clone(), client.try_clone()),
        };
        let (Ok(src), Ok(dst)) = (src, dst) else {
            return;
        };
        let (fault, shared, ended) = (fault.clone(), shared.clone(), ended.clone());
        thread::spawn(move || {
            pump(src, dst, dir, &fault, &shared, &ended);
            ended.fetch_add(1, Ordering::SeqCst);
        });
    }
}

/// The offset in `dir` at which `fault` fires, if it fires in `dir`.
fn trigger(fault: &Fault, dir: Dir) -> Option<usize> {
    match *fault {
        Fault::Cut { dir: d, after }
        | Fault::Reset { dir: d, after }
        | Fault::Stall { dir: d, after, .. }
            if d == dir =>
        {
            Some(after)
        }
        Fault::Flip { dir: d, at, .. } if d == dir => Some(at),
        _ => None,
    }
}

fn pump(
    mut src: TcpStream,
    mut dst: TcpStream,
    dir: Dir,
    fault: &Fault,
    shared: &Shared,
    ended: &AtomicUsize,
) {
    let at = trigger(fault, dir);
    let mut fired = false;
    let mut seen = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = dst.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let chunk = &mut buf[..n];
        let hit = at.filter(|&a| !fired && a < seen + n && a >= seen);
        seen += n;
        let Some(a) = hit else {
            if dst.write_all(chunk).is_err() {
                let _ = src.shutdown(Shutdown::Both);
                return;
            }
            continue;
        };
        fired = true;
        shared.triggered.fetch_add(1, Ordering::SeqCst);
        let split = a - (seen - n);
        let (before, rest) = chunk.split_at_mut(split);
        let _ = dst.write_all(before);
        match *fault {
            Fault::Flip { mask, .. } => {
                rest[0] ^= mask;
                let _ = dst.write_all(rest);
            }
            Fault::Cut { .. } => {
                let _ = dst.shutdown(Shutdown::Both);
                let _ = src.shutdown(Shutdown::Both);
                return;
            }
            Fault::Reset { .. } => {
                // RST to the receiving side once its last descriptor
                // closes: wake the other pump (it reads `dst` or `src`).
                linger_zero(&dst);
                let _ = dst.shutdown(Shutdown::Read);
                let _ = src.shutdown(Shutdown::Both);
                let ends = |s: &TcpStream| (s.local_addr().ok(), s.peer_addr().ok());
                let (a, b) = (ends(&dst), ends(&src));
                shared
                    .live
                    .lock()
                    .unwrap()
                    .retain(|s| ends(s) != a && ends(s) != b);
                return;
            }
            Fault::Stall { pause, .. } => {
                // A pause runs its course; a stall without end lasts until
                // the other direction ends (the client gave up).
                let until = pause.map(|p| Instant::now() + p);
                let over = || match until {
                    Some(u) => Instant::now() >= u,
                    None => ended.load(Ordering::SeqCst) > 0,
                };
                while !over() && !shared.stop.load(Ordering::SeqCst) {
                    // The fault itself: the connection stays silent.
                    thread::sleep(Duration::from_millis(20));
                }
                if until.is_none() || shared.stop.load(Ordering::SeqCst) {
                    let _ = dst.shutdown(Shutdown::Both);
                    let _ = src.shutdown(Shutdown::Both);
                    return;
                }
                if dst.write_all(rest).is_err() {
                    return;
                }
            }
            Fault::Clean | Fault::Refuse => unreachable!("no offset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    /// An echo server on a free port; ends with the test process.
    fn echo() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let _ = std::io::copy(&mut r, &mut s);
                    let _ = s.shutdown(Shutdown::Write);
                });
            }
        });
        port
    }

    /// Sends `data`, half-closes, and reads everything back.
    fn round_trip(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(data)?;
        s.shutdown(Shutdown::Write)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn fault_proxy_forwards_flips_and_cuts() {
        let up = echo();
        let p = FaultProxy::start(
            up,
            vec![
                Fault::Clean,
                Fault::Flip {
                    dir: Dir::Down,
                    at: 2,
                    mask: 0x20,
                },
                Fault::Cut {
                    dir: Dir::Down,
                    after: 3,
                },
                Fault::Flip {
                    dir: Dir::Up,
                    at: 100,
                    mask: 1,
                },
            ],
        );
        assert_eq!(round_trip(p.port(), b"hello").unwrap(), b"hello");
        assert_eq!(round_trip(p.port(), b"hello").unwrap(), b"heLlo");
        assert_eq!(round_trip(p.port(), b"hello world").unwrap(), b"hel");
        // An offset past the end never fires.
        assert_eq!(round_trip(p.port(), b"hello").unwrap(), b"hello");
        assert_eq!((p.connections(), p.triggered()), (4, 2));
    }

    #[test]
    fn fault_proxy_resets_and_refuses() {
        let up = echo();
        let p = FaultProxy::start(
            up,
            vec![
                Fault::Refuse,
                Fault::Reset {
                    dir: Dir::Down,
                    after: 0,
                },
            ],
        );
        // Reset before any byte: the write or the read fails, or nothing
        // comes back.
        let refused = round_trip(p.port(), b"x");
        assert!(
            refused.as_ref().is_ok_and(Vec::is_empty) || refused.is_err(),
            "{refused:?}"
        );
        let reset = round_trip(p.port(), b"x");
        assert!(
            matches!(&reset, Err(e) if e.kind() == ErrorKind::ConnectionReset),
            "{reset:?}"
        );
        assert_eq!(round_trip(p.port(), b"ok").unwrap(), b"ok");
    }

    #[test]
    fn fault_proxy_stalls() {
        let up = echo();
        let pause = Duration::from_millis(300);
        let p = FaultProxy::start(
            up,
            vec![
                Fault::Stall {
                    dir: Dir::Down,
                    after: 0,
                    pause: None,
                },
                Fault::Stall {
                    dir: Dir::Down,
                    after: 1,
                    pause: Some(pause),
                },
            ],
        );
        // A stall without end: nothing ever arrives.
        let mut s = TcpStream::connect(("127.0.0.1", p.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e}"
        );
        drop(s);
        // A pause: everything arrives, not before the pause is over.
        let start = Instant::now();
        assert_eq!(round_trip(p.port(), b"hi").unwrap(), b"hi");
        assert!(start.elapsed() >= pause);
    }
}
