//! [`FakeKube`]: a fake kube-apiserver on loopback for the promote hook's
//! tests, since no real cluster can run on these machines.
//!
//! It is stateful and strict where the hook could go wrong against a real
//! server: paths, verbs, bearer token, patch content types, the
//! status-subresource rule (a `/status` patch changes only `.status`), Event
//! validation, and `Status` error bodies as kube-apiserver writes them, so
//! `kube::Error::Api` carries the same reason and code.
//!
//! Served from the start: `assay.dev/v1alpha1` experiments (custom resource,
//! status subresource), `batch/v1` jobs, `apps/v1` deployments (status
//! subresource) and `events.k8s.io/v1` events (no subresource);
//! [`FakeKube::put`] adds any other kind as a custom resource.
//!
//! Implemented: get, list (not watch), create, patch with
//! `application/merge-patch+json` and `application/json-patch+json`.
//! Like the real server: strategic merge patch on a custom resource is 415,
//! and apply without `?fieldManager=` is 422. Not implemented, answered with
//! a `Status` saying so: server-side apply (415), strategic merge patch on
//! built-in types (415), watch, PUT and DELETE (405). Every request is
//! recorded, answered or not.
//!
//! Pointing a client at it: `KUBECONFIG=<`[`FakeKube::kubeconfig`]`>` for
//! `assay` (kube's `Config::infer()` reads it; the `http://` server URL is
//! used as is, no TLS), or [`FakeKube::client`] in-process.

mod api;
mod events;
mod http;
mod patch;
mod status;

use std::collections::HashMap;
use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use http::{RawResponse, chunked, read_response};

/// The one bearer token the fake accepts.
pub const TOKEN: &str = "fake-token";

/// One request as the fake saw it, with the answer's status code.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Which TCP connection carried it (numbered from 1), to see keep-alive.
    pub conn: u64,
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`; empty when there was none.
    pub query: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    /// The body as JSON; a body that is not JSON is kept as a JSON string
    /// of its text, and an empty body is `None`.
    pub body: Option<Value>,
    /// The status code the fake answered.
    pub status: u16,
}

/// A request as Kubernetes' authorizer sees it, to compare with the rules
/// of the hook's rendered Role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RbacAttrs {
    pub verb: String,
    /// `""` for the core group.
    pub api_group: String,
    /// `plural` or `plural/subresource`, e.g. `experiments/status`.
    pub resource: String,
    /// `None` for collections (list, create), so any `resourceNames` rule
    /// does not match, as in Kubernetes.
    pub name: Option<String>,
}

impl Recorded {
    /// Kubernetes' verb mapping (`RequestInfoFactory`): GET on a name is
    /// get, on a collection list (watch with `?watch=true`), POST create,
    /// PUT update, PATCH patch, DELETE delete (deletecollection without a
    /// name). `None` for non-resource paths such as `/version`.
    pub fn rbac(&self) -> Option<RbacAttrs> {
        let t = api::parse_target(&self.path)?;
        let mut name = t.name.clone();
        let verb = match self.method.as_str() {
            "GET" | "HEAD" if name.is_some() => "get",
            "GET" | "HEAD" => {
                // A list or watch of one name by field selector is on that name.
                name = query_value(&self.query, "fieldSelector")
                    .and_then(|s| s.strip_prefix("metadata.name=").map(str::to_string));
                if query_flag(&self.query, "watch") {
                    "watch"
                } else {
                    "list"
                }
            }
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" if name.is_some() => "delete",
            "DELETE" => "deletecollection",
            other => return Some(self.attrs(other.to_ascii_lowercase(), &t, name)),
        };
        Some(self.attrs(verb.to_string(), &t, name))
    }

    fn attrs(&self, verb: String, t: &api::Target, name: Option<String>) -> RbacAttrs {
        let resource = match &t.sub {
            Some(s) => format!("{}/{s}", t.plural),
            None => t.plural.clone(),
        };
        RbacAttrs {
            verb,
            api_group: t.group.clone(),
            resource,
            name,
        }
    }

    /// One query parameter, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        query_value(&self.query, key)
    }
}

struct Shared {
    state: Mutex<api::State>,
    stopping: AtomicBool,
    conns: Mutex<Conns>,
}

#[derive(Default)]
struct Conns {
    next: u64,
    /// Clones of the open connections, so drop can unblock their reads.
    open: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

/// A fake kube-apiserver on `127.0.0.1` (see the module docs for what it
/// implements). Drop stops it: every thread is joined and the port freed.
pub struct FakeKube {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl FakeKube {
    /// Listens on a free port; empty store, no faults.
    pub fn start() -> FakeKube {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(api::State::new()),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Conns::default()),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        let dir = tempfile::Builder::new()
            .prefix("fake-kube-")
            .tempdir()
            .expect("temp dir");
        FakeKube {
            addr,
            shared,
            accept: Some(accept),
            dir,
        }
    }

    /// For tests that drive a connection by hand.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the cluster's `server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, api::State> {
        // A panic in a handler thread must not hide the store from the test.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `obj` as if created (namespace defaults to `default`; uid,
    /// resourceVersion, creationTimestamp and generation set where
    /// missing), replacing any object of the same name. Returns it as
    /// stored.
    pub fn put(&self, obj: Value) -> Value {
        self.state().put(obj)
    }

    /// The stored object, for assertions. `api_version` is `group/version`
    /// (`v1` for the core group), `plural` the resource (`experiments`).
    pub fn get(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let key = (
            api_version.into(),
            plural.into(),
            namespace.into(),
            name.into(),
        );
        self.state().objects.get(&key).cloned()
    }

    /// Sets (`Some`) or removes (`None`) one annotation of a stored object
    /// as a metadata patch would, leaving the rest of it as it is now; for
    /// what a person or Argo CD does while a client runs. Panics when the
    /// object is not stored.
    pub fn annotate(
        &self,
        (api_version, plural, namespace, name): (&str, &str, &str, &str),
        annotation: &str,
        value: Option<&str>,
    ) {
        let key = (
            api_version.into(),
            plural.into(),
            namespace.into(),
            name.into(),
        );
        assert!(
            self.state().annotate(&key, annotation, value),
            "no {api_version} {plural} {namespace}/{name} to annotate"
        );
    }

    /// Every stored object of one resource in one namespace, by name.
    pub fn list(&self, api_version: &str, plural: &str, namespace: &str) -> Vec<Value> {
        self.state()
            .objects
            .iter()
            .filter(|((a, p, n, _), _)| a == api_version && p == plural && n == namespace)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The RBAC view of every resource request so far, in order.
    pub fn rbac(&self) -> Vec<RbacAttrs> {
        self.requests().iter().filter_map(Recorded::rbac).collect()
    }

    /// The next request with this method whose path ends with `path_suffix`
    /// gets `status` and the `Status` body the real server sends with it
    /// (429 also with `Retry-After: 1`); later ones are answered normally.
    /// Faults queue, first match first.
    pub fn fail_next(&self, method: &str, path_suffix: &str, status: u16) {
        self.state().faults.push(api::Fault {
            method: method.into(),
            suffix: path_suffix.into(),
            status,
        });
    }

    /// Writes `kubeconfig` in the fake's temp dir: one cluster at
    /// [`FakeKube::url`], a user with `token: fake-token`, and a current
    /// context with namespace `default`. For `KUBECONFIG=` or
    /// `kube::config::Kubeconfig::read_from`.
    pub fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig_in("default")
    }

    /// [`FakeKube::kubeconfig`] with `namespace` as the context's
    /// namespace (a file of its own, `kubeconfig-<namespace>`), for
    /// clients that default to it as kubectl does.
    pub fn kubeconfig_in(&self, namespace: &str) -> PathBuf {
        let name = if namespace == "default" {
            "kubeconfig".to_string()
        } else {
            format!("kubeconfig-{namespace}")
        };
        let path = self.dir.path().join(name);
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user:\n    token: {TOKEN}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\ncurrent-context: fake\n",
            self.url()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// A `kube::Client` for this fake, built from [`FakeKube::kubeconfig`]
    /// without touching the process environment. Call inside a tokio
    /// runtime (the client spawns its buffer task there).
    pub async fn client(&self) -> kube::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("read kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("config from kubeconfig");
        kube::Client::try_from(config).expect("client")
    }

    /// One request on its own connection, for what kube's client would not
    /// send. Adds `Host`, `Connection: close` and `Content-Length` (unless
    /// `headers` has `Transfer-Encoding`); no token unless in `headers`.
    pub fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        http::raw(self.addr, method, target, headers, body)
    }

    /// Polls until `cond` holds for the recorded requests, or panics after
    /// `timeout`: for clients running on another thread or process.
    pub fn wait_for(&self, timeout: Duration, what: &str, cond: impl Fn(&[Recorded]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(&self.state().requests) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees `stopping` and returns.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        // No new connections now: unblock and join the open ones.
        let (open, threads) = {
            let mut c = self.shared.conns.lock().unwrap_or_else(|e| e.into_inner());
            (std::mem::take(&mut c.open), std::mem::take(&mut c.threads))
        };
        for s in open.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let mut conns = shared.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.next += 1;
        let id = conns.next;
        if let Ok(clone) = stream.try_clone() {
            conns.open.insert(id, clone);
        }
        let shared2 = shared.clone();
        let handle = std::thread::spawn(move || {
            serve(stream, id, &shared2);
            let mut c = shared2.conns.lock().unwrap_or_else(|e| e.into_inner());
            c.open.remove(&id);
        });
        conns.threads.retain(|t| !t.is_finished());
        conns.threads.push(handle);
    }
}

/// One connection: requests until the client closes or asks to.
fn serve(stream: TcpStream, conn: u64, shared: &Shared) {
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    loop {
        let req = match http::read_request(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    let body = status::status_body(400, "BadRequest", &e.to_string(), None);
                    let resp = http::Response {
                        status: 400,
                        headers: Vec::new(),
                        body: serde_json::to_vec(&body).expect("JSON"),
                    };
                    let _ = http::write_response(&mut w, &resp, true);
                }
                return;
            }
        };
        let resp = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let resp = st.respond(&req);
            st.requests.push(record(conn, &req, resp.status));
            resp
        };
        if http::write_response(&mut w, &resp, req.close).is_err() || req.close {
            return;
        }
    }
}

fn record(conn: u64, req: &http::Request, status: u16) -> Recorded {
    let h = |n: &str| req.header(n).map(str::to_string);
    let body = if req.body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&req.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into())),
        )
    };
    Recorded {
        conn,
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        content_type: h("content-type"),
        accept: h("accept"),
        authorization: h("authorization"),
        user_agent: h("user-agent"),
        body,
        status,
    }
}

/// `key`'s value in a query string, percent-decoded (`+` is a space).
fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// `?watch=true` / `?watch=1`, as the API server parses booleans.
fn query_flag(query: &str, key: &str) -> bool {
    query_value(query, key).is_some_and(|v| v == "true" || v == "1")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Now as RFC 3339 in UTC, to whole seconds (`creationTimestamp`'s format).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
