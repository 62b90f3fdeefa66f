//! The fake's HTTP and patch handling below what a `kube::Client` exercises:
//! connections (keep-alive, close, chunked bodies, concurrency, shutdown),
//! JSON patch, apply, unknown routes, and `KUBECONFIG` as `assay` will use it.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use assay::crd::Experiment;
use kube::Api;
use serde_json::{Value, json};

use super::{EXP_PATH, NS, block_on, event, experiment};
use crate::support::fake_kube::{FakeKube, chunked, read_response};

const AUTH: (&str, &str) = ("Authorization", "Bearer fake-token");

fn patch(fake: &FakeKube, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let r = fake.raw(
        "PATCH",
        path,
        &[AUTH, ("Content-Type", content_type)],
        &body,
    );
    (r.status, r.json())
}

fn stored(fake: &FakeKube) -> Value {
    fake.get("assay.dev/v1alpha1", "experiments", NS, "exp")
        .unwrap()
}

#[test]
fn keep_alive_then_connection_close() {
    let fake = FakeKube::start();
    fake.put(experiment());
    let s = TcpStream::connect(fake.addr()).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let req = |close: &str| {
        format!(
            "GET {EXP_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-token\r\n{close}\r\n"
        )
    };
    w.write_all(req("").as_bytes()).unwrap();
    let first = read_response(&mut r).unwrap();
    assert_eq!((first.status, first.header("connection")), (200, None));
    w.write_all(req("Connection: close\r\n").as_bytes())
        .unwrap();
    let second = read_response(&mut r).unwrap();
    assert_eq!(
        (second.status, second.header("connection")),
        (200, Some("close"))
    );
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the server closed after the response");
    let conns: Vec<u64> = fake.requests().iter().map(|r| r.conn).collect();
    assert_eq!(conns, [1, 1]);
}

#[test]
fn chunked_request_bodies_are_read() {
    let fake = FakeKube::start();
    let body = serde_json::to_vec(&event()).unwrap();
    let r = fake.raw(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/bookinfo/events",
        &[
            AUTH,
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked(&body, 7),
    );
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(fake.requests()[0].body.as_ref(), Some(&event()));
    assert_eq!(fake.list("events.k8s.io/v1", "events", NS).len(), 1);
}

#[test]
fn a_stalled_connection_does_not_block_others() {
    let fake = FakeKube::start();
    fake.put(experiment());
    let mut stalled = TcpStream::connect(fake.addr()).unwrap();
    stalled.write_all(b"GET /apis/assay.dev/v1").unwrap();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let addr = fake.addr();
            std::thread::spawn(move || {
                let s = TcpStream::connect(addr).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut codes = Vec::new();
                for _ in 0..3 {
                    let req = format!("GET {EXP_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-token\r\n\r\n");
                    w.write_all(req.as_bytes()).unwrap();
                    codes.push(read_response(&mut r).unwrap().status);
                }
                codes
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), [200, 200, 200]);
    }
    let mut conns: Vec<u64> = fake.requests().iter().map(|r| r.conn).collect();
    conns.dedup();
    conns.sort();
    conns.dedup();
    assert_eq!(conns.len(), 6);
    // Concurrent requests from kube open connections of their own.
    block_on(async {
        let api: Api<Experiment> = Api::namespaced(fake.client().await, NS);
        let (a, b, c) = tokio::join!(api.get("exp"), api.get("exp"), api.get("exp"));
        for r in [a, b, c] {
            assert_eq!(r.unwrap().spec.release, "productpage");
        }
    });
    stalled
        .write_all(b"/x HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut BufReader::new(stalled)).unwrap();
    assert_eq!(resp.status, 401, "no token on the stalled request");
}

#[test]
fn malformed_requests_get_400_and_a_close() {
    let fake = FakeKube::start();
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r).unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(fake.requests().is_empty(), "nothing parseable to record");
}

#[test]
fn drop_stops_the_server_and_frees_the_port() {
    let fake = FakeKube::start();
    let addr = fake.addr();
    let s = TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut idle = BufReader::new(s);
    w.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-token\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle).unwrap().status, 200);
    // The connection is idle in keep-alive; drop must still join its thread.
    drop(fake);
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(rest.is_empty());
    TcpListener::bind(addr).expect("port freed on drop");
}

#[test]
fn unknown_routes_and_verbs_get_a_status() {
    let fake = FakeKube::start();
    fake.put(experiment());
    let cases = [
        (
            "GET",
            "/apis/widgets.dev/v1/namespaces/bookinfo/widgets/a",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments/exp/scale",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/apis/events.k8s.io/v1/namespaces/bookinfo/events/e/status",
            404,
            "NotFound",
        ),
        ("GET", "/healthz/nope", 404, "NotFound"),
        ("DELETE", EXP_PATH, 405, "MethodNotAllowed"),
        ("PUT", EXP_PATH, 405, "MethodNotAllowed"),
        ("POST", EXP_PATH, 405, "MethodNotAllowed"),
        (
            "GET",
            "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments?watch=true",
            405,
            "MethodNotAllowed",
        ),
    ];
    for (method, path, code, reason) in cases {
        let r = fake.raw(method, path, &[AUTH], b"");
        assert_eq!(
            (r.status, r.json()["reason"].clone()),
            (code, json!(reason)),
            "{method} {path}"
        );
    }
    let seen: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(seen, cases.map(|c| c.2), "every request is recorded");
    let list = fake.raw(
        "GET",
        "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments",
        &[AUTH],
        b"",
    );
    assert_eq!(list.json()["kind"], "ExperimentList");
    assert_eq!(list.json()["items"][0]["metadata"]["name"], "exp");
}

#[test]
fn json_patch_apply_and_other_content_types() {
    let fake = FakeKube::start();
    fake.put(experiment());
    let status = format!("{EXP_PATH}/status");
    let jp = "application/json-patch+json";
    let ops = json!([
        {"op": "test", "path": "/metadata/name", "value": "exp"},
        {"op": "add", "path": "/status", "value": {"phase": "Running", "evidence": []}},
        {"op": "add", "path": "/status/evidence/-", "value": {"metric": "error-rate"}},
        {"op": "replace", "path": "/status/phase", "value": "Completed"},
        {"op": "remove", "path": "/status/evidence/0"},
        {"op": "add", "path": "/spec/release", "value": "ignored on /status"},
    ]);
    assert_eq!(patch(&fake, &status, jp, &ops).0, 200);
    let exp = stored(&fake);
    assert_eq!(exp["status"], json!({"phase": "Completed", "evidence": []}));
    assert_eq!(exp["spec"]["release"], "productpage");

    let failing = json!([{"op": "test", "path": "/status/phase", "value": "Running"},
                         {"op": "remove", "path": "/status"}]);
    assert_eq!(patch(&fake, &status, jp, &failing).0, 422);
    assert_eq!(patch(&fake, &status, jp, &json!({"op": "add"})).0, 400);
    assert_eq!(stored(&fake), exp, "failed patches change nothing");

    let apply = "application/apply-patch+yaml";
    let (code, body) = patch(&fake, &status, apply, &json!({"status": {}}));
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    let with_manager = format!("{status}?fieldManager=assay");
    assert_eq!(patch(&fake, &with_manager, apply, &json!({})).0, 415);
    assert_eq!(patch(&fake, &status, "text/plain", &json!({})).0, 415);
    let (code, body) = patch(
        &fake,
        &status,
        "application/merge-patch+json; charset=utf-8",
        &json!({"status": null}),
    );
    assert_eq!(code, 200);
    assert!(body.get("status").is_none());
}

#[test]
fn main_resource_patches_bump_generation_and_check_resource_version() {
    let fake = FakeKube::start();
    let before = fake.put(experiment());
    let mp = "application/merge-patch+json";
    let (code, after) = patch(
        &fake,
        EXP_PATH,
        mp,
        &json!({"spec": {"minRequests": 200}, "status": {"phase": "x"}}),
    );
    assert_eq!(code, 200);
    assert_eq!(after["spec"]["minRequests"], 200);
    assert!(
        after.get("status").is_none(),
        "the main resource ignores .status"
    );
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    // A no-op patch writes nothing, so the resourceVersion stays.
    let (_, same) = patch(&fake, EXP_PATH, mp, &json!({"spec": {"minRequests": 200}}));
    assert_eq!(
        same["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
    let stale = json!({"metadata": {"resourceVersion": before["metadata"]["resourceVersion"]}, "spec": {"minRequests": 1}});
    let (code, body) = patch(&fake, EXP_PATH, mp, &stale);
    assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
    let (code, _) = patch(&fake, EXP_PATH, mp, &json!({"metadata": {"name": "other"}}));
    assert_eq!(code, 422);
}

/// Set in the child process that [`kubeconfig_env_is_all_assay_needs`] runs.
const CHILD: &str = "ASSAY_FAKE_KUBE_CHILD";

/// `Client::try_default()` reads `KUBECONFIG` and talks plain http to the
/// fake. It runs in a child process (this test again), since setting
/// `KUBECONFIG` in this one would race with other tests.
#[test]
fn kubeconfig_env_is_all_assay_needs() {
    if std::env::var_os(CHILD).is_some() {
        block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = kube::Client::try_default()
                .await
                .expect("client from KUBECONFIG");
            assert_eq!(client.default_namespace(), "default");
            let api: Api<Experiment> = Api::namespaced(client, NS);
            assert_eq!(api.get("exp").await.unwrap().spec.release, "productpage");
        });
        return;
    }
    let fake = FakeKube::start();
    fake.put(experiment());
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "fake_kube_harness::http::kubeconfig_env_is_all_assay_needs",
            "--exact",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("KUBECONFIG", fake.kubeconfig())
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_eq!(reqs[0].path, EXP_PATH);
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer fake-token"));
    assert_eq!(reqs[0].status, 200);
}
