//! The fake kube-apiserver ([`FakeKube`]) driven by a real `kube::Client`,
//! so the promote hook's tests can trust that what passes here would pass
//! against a cluster: the paths, content types and bodies kube sends, and
//! the answers (and errors) it gets back.

mod http;

use assay::crd::Experiment;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::support::fake_kube::{FakeKube, RbacAttrs, TOKEN};

const NS: &str = "bookinfo";
const EXP_PATH: &str = "/apis/assay.dev/v1alpha1/namespaces/bookinfo/experiments/exp";

/// Runs `f` on a current-thread runtime, as `assay promote` will.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// An Experiment as `assay generate` renders one.
pub fn experiment() -> Value {
    json!({
        "apiVersion": "assay.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "exp", "namespace": NS},
        "spec": {
            "id": "0123abcd", "release": "productpage",
            "application": {"name": "bookinfo"},
            "pattern": "canary",
            "baseline": {"version": "v1", "image": "iter8/productpage:v1", "workload": "productpage-v1"},
            "candidate": {"version": "v2", "image": "iter8/productpage:v2", "workload": "productpage-v2"},
            "window": {"warmupSeconds": 10, "durationSeconds": 60, "intervalSeconds": 10},
            "minRequests": 100, "confidence": 0.95,
            "prometheus": "http://prometheus.istio-system:9090",
            "objectives": [{"metric": "error-rate", "upperLimit": 0.01}],
            "loadgen": {"job": "productpage-loadgen-0123abcd"},
            "writeBack": {
                "repoURL": "https://git.example/env.git", "branch": "HEAD",
                "path": "bookinfo/assay.yaml", "mode": "pull-request",
                "credentialsSecret": "assay-git", "forge": "auto",
                "author": {"name": "assay", "email": "assay@example.com"}
            }
        }
    })
}

/// An events.k8s.io/v1 Event the real server accepts.
pub fn event() -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"generateName": "exp-", "namespace": NS},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "reportingController": "assay.dev/promote",
        "reportingInstance": "assay-promote-exp",
        "action": "Judge", "reason": "Promoted", "type": "Normal",
        "note": "candidate v2 passed every objective",
        "regarding": {"apiVersion": "assay.dev/v1alpha1", "kind": "Experiment",
                      "name": "exp", "namespace": NS, "uid": "u-1"}
    })
}

fn api_err(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn gets_the_experiment_and_merge_patches_its_status() {
    let fake = FakeKube::start();
    let stored = fake.put(experiment());
    let rv0 = stored["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    block_on(async {
        let api: Api<Experiment> = Api::namespaced(fake.client().await, NS);
        let exp = api.get("exp").await.unwrap();
        assert_eq!(exp.spec.release, "productpage");
        assert_eq!(exp.spec.candidate.version, "v2");
        assert!(exp.status.is_none());

        let patch = json!({"status": {"phase": "Running", "iteration": 1}});
        let got = api
            .patch_status("exp", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        assert_eq!(got.status.unwrap().phase, Some(assay::crd::Phase::Running));

        // The status subresource ignores everything outside .status.
        let sneaky = json!({"spec": {"release": "evil"}, "status": {"phase": "Completed"}});
        api.patch_status("exp", &PatchParams::default(), &Patch::Merge(&sneaky))
            .await
            .unwrap();
    });
    let exp = fake
        .get("assay.dev/v1alpha1", "experiments", NS, "exp")
        .unwrap();
    assert_eq!(exp["status"], json!({"phase": "Completed", "iteration": 1}));
    assert_eq!(exp["spec"]["release"], "productpage");
    assert_eq!(
        exp["metadata"]["generation"], 1,
        "status writes keep generation"
    );
    assert_ne!(exp["metadata"]["resourceVersion"], json!(rv0));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    let get = &reqs[0];
    assert_eq!((get.method.as_str(), get.path.as_str()), ("GET", EXP_PATH));
    assert_eq!(get.authorization.as_deref(), Some("Bearer fake-token"));
    // kube sends a bare GET: no Accept, no Content-Type.
    assert_eq!((&get.accept, &get.content_type), (&None, &None));
    let patch = &reqs[1];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.path, format!("{EXP_PATH}/status"));
    assert_eq!(patch.query, "", "PatchParams::default() adds no query");
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(patch.accept.as_deref(), Some("application/json"));
    assert_eq!(
        patch.body,
        Some(json!({"status": {"phase": "Running", "iteration": 1}}))
    );
    assert_eq!(patch.status, 200);
    // kube-rs sends no User-Agent of its own; the hook may set one.
    assert!(reqs.iter().all(|r| r.user_agent.is_none()), "{reqs:#?}");
    // hyper keeps the connection alive between sequential requests.
    assert!(reqs.iter().all(|r| r.conn == reqs[0].conn), "{reqs:#?}");
}

#[test]
fn a_missing_object_is_404_with_a_status() {
    let fake = FakeKube::start();
    block_on(async {
        let client = fake.client().await;
        let api: Api<Experiment> = Api::namespaced(client.clone(), NS);
        assert_eq!(
            api_err(api.get("exp").await.unwrap_err()),
            (404, "NotFound".into())
        );
        assert!(api.get_opt("exp").await.unwrap().is_none());
        let patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
        let err = api
            .patch_status("exp", &PatchParams::default(), &patch)
            .await;
        assert_eq!(api_err(err.unwrap_err()), (404, "NotFound".into()));
        let jobs: Api<Job> = Api::namespaced(client, NS);
        assert_eq!(api_err(jobs.get("lg").await.unwrap_err()).0, 404);
    });
    let body = fake
        .raw(
            "GET",
            EXP_PATH,
            &[("Authorization", "Bearer fake-token")],
            b"",
        )
        .json();
    assert_eq!(
        body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "experiments.assay.dev \"exp\" not found", "reason": "NotFound",
            "code": 404, "details": {"name": "exp", "group": "assay.dev", "kind": "experiments"}
        })
    );
}

#[test]
fn reads_the_loadgen_job_and_the_candidate_deployment() {
    let fake = FakeKube::start();
    fake.put(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "productpage-loadgen-0123abcd", "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"name": "lg", "image": "fortio"}]}}},
        "status": {"startTime": "2025-01-01T00:00:00Z", "active": 1}
    }));
    fake.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "productpage-v2", "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "productpage"}},
                 "template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}},
        "status": {"readyReplicas": 1}
    }));
    block_on(async {
        let client = fake.client().await;
        let job = Api::<Job>::namespaced(client.clone(), NS)
            .get("productpage-loadgen-0123abcd")
            .await
            .unwrap();
        assert!(job.status.unwrap().start_time.is_some());
        let dep = Api::<Deployment>::namespaced(client, NS)
            .get("productpage-v2")
            .await
            .unwrap();
        assert_eq!(dep.status.unwrap().ready_replicas, Some(1));
    });
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/apis/batch/v1/namespaces/bookinfo/jobs/productpage-loadgen-0123abcd",
            "/apis/apps/v1/namespaces/bookinfo/deployments/productpage-v2",
        ]
    );
}

#[test]
fn creates_an_event_and_updates_its_series() {
    let fake = FakeKube::start();
    let name = block_on(async {
        let events: Api<Event> = Api::namespaced(fake.client().await, NS);
        let ev: Event = serde_json::from_value(event()).unwrap();
        let created = events.create(&PostParams::default(), &ev).await.unwrap();
        let name = created.metadata.name.clone().unwrap();
        assert!(name.starts_with("exp-") && name.len() == 9, "{name}");
        assert!(created.metadata.uid.is_some());

        // What kube's Recorder sends when the event repeats.
        let mut again = created.clone();
        again.metadata.resource_version = None;
        again.series = Some(
            serde_json::from_value(
                json!({"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"}),
            )
            .unwrap(),
        );
        let pp = PatchParams::default();
        let patched = events
            .patch(&name, &pp, &Patch::Merge(&again))
            .await
            .unwrap();
        assert_eq!(patched.series.unwrap().count, 2);

        // An event's reason never changes.
        let err = events
            .patch(&name, &pp, &Patch::Merge(json!({"reason": "Rejected"})))
            .await
            .unwrap_err();
        assert_eq!(api_err(err), (422, "Invalid".into()));

        let mut same = ev.clone();
        same.metadata.generate_name = None;
        same.metadata.name = Some(name.clone());
        let err = events
            .create(&PostParams::default(), &same)
            .await
            .unwrap_err();
        assert_eq!(api_err(err), (409, "AlreadyExists".into()));
        name
    });
    let stored = fake.get("events.k8s.io/v1", "events", NS, &name).unwrap();
    assert_eq!(stored["reason"], "Promoted");
    assert_eq!(stored["series"]["count"], 2);
    assert_eq!(stored["regarding"]["name"], "exp");

    let reqs = fake.requests();
    let create = &reqs[0];
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.path,
        "/apis/events.k8s.io/v1/namespaces/bookinfo/events"
    );
    assert_eq!(create.content_type.as_deref(), Some("application/json"));
    assert_eq!(create.status, 201);
    assert_eq!(
        create.body.as_ref().unwrap()["metadata"]["generateName"],
        "exp-"
    );
    let codes: Vec<u16> = reqs.iter().map(|r| r.status).collect();
    assert_eq!(codes, [201, 200, 422, 409]);
}

#[test]
fn an_invalid_event_is_422_with_every_cause() {
    let fake = FakeKube::start();
    let mut ev = event();
    let m = ev.as_object_mut().unwrap();
    m.remove("eventTime");
    m.remove("reportingInstance");
    m.remove("action");
    m.insert("type".into(), json!("Info"));
    m.insert("note".into(), json!("x".repeat(1025)));
    let err = block_on(async {
        let events: Api<Event> = Api::namespaced(fake.client().await, NS);
        let ev: Event = serde_json::from_value(ev.clone()).unwrap();
        events
            .create(&PostParams::default(), &ev)
            .await
            .unwrap_err()
    });
    assert_eq!(api_err(err), (422, "Invalid".into()));
    assert!(fake.list("events.k8s.io/v1", "events", NS).is_empty());

    let body = serde_json::to_vec(&ev).unwrap();
    let resp = fake.raw(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/bookinfo/events",
        &[
            ("Authorization", "Bearer fake-token"),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(resp.status, 422);
    let status = resp.json();
    assert_eq!(status["details"]["kind"], "Event");
    assert_eq!(status["details"]["group"], "events.k8s.io");
    let causes: Vec<(String, String)> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    // An old-style event (no eventTime) gets only the namespace check from
    // the legacy rules, then the strict events.k8s.io/v1 ones.
    assert_eq!(
        causes,
        [
            ("eventTime".to_string(), "FieldValueRequired".to_string()),
            ("type".into(), "FieldValueInvalid".into()),
        ]
    );

    // With eventTime set the legacy rules apply in full.
    let mut ev2 = ev.clone();
    ev2["eventTime"] = json!("2025-01-01T00:00:00.000000Z");
    ev2["regarding"]["namespace"] = json!("");
    let resp = fake.raw(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/bookinfo/events",
        &[("Authorization", "Bearer fake-token")],
        &serde_json::to_vec(&ev2).unwrap(),
    );
    let fields: Vec<String> = resp.json()["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "involvedObject.namespace",
            "reportingInstance",
            "action",
            "message",
            "type"
        ]
    );
}

#[test]
fn strategic_merge_patch_on_the_custom_resource_is_415() {
    let fake = FakeKube::start();
    let before = fake.put(experiment());
    let err = block_on(async {
        let api: Api<Experiment> = Api::namespaced(fake.client().await, NS);
        let patch = Patch::Strategic(json!({"status": {"phase": "Running"}}));
        api.patch_status("exp", &PatchParams::default(), &patch)
            .await
            .unwrap_err()
    });
    assert_eq!(api_err(err), (415, "UnsupportedMediaType".into()));
    let reqs = fake.requests();
    assert_eq!(
        reqs[0].content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(
        fake.get("assay.dev/v1alpha1", "experiments", NS, "exp"),
        Some(before)
    );
}

#[test]
fn injected_faults_answer_once_then_the_fake_behaves() {
    let fake = FakeKube::start();
    fake.put(experiment());
    fake.fail_next("GET", "/experiments/exp", 500);
    fake.fail_next("PATCH", "/experiments/exp/status", 409);
    fake.fail_next("GET", "/experiments/exp", 429);
    block_on(async {
        let api: Api<Experiment> = Api::namespaced(fake.client().await, NS);
        assert_eq!(
            api_err(api.get("exp").await.unwrap_err()),
            (500, "InternalError".into())
        );
        let patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
        let err = api
            .patch_status("exp", &PatchParams::default(), &patch)
            .await;
        assert_eq!(api_err(err.unwrap_err()), (409, "Conflict".into()));
        // kube-rs 5 retries 429/503/504 itself, honouring Retry-After.
        api.get("exp").await.unwrap();
        api.patch_status("exp", &PatchParams::default(), &patch)
            .await
            .unwrap();
    });
    let codes: Vec<(String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    let want = [
        ("GET", 500),
        ("PATCH", 409),
        ("GET", 429),
        ("GET", 200),
        ("PATCH", 200),
    ];
    assert_eq!(codes, want.map(|(m, c)| (m.to_string(), c)));
    let raw = fake.raw(
        "GET",
        EXP_PATH,
        &[("Authorization", "Bearer fake-token")],
        b"",
    );
    assert_eq!(raw.status, 200);
    fake.fail_next("GET", "/experiments/exp", 429);
    let raw = fake.raw(
        "GET",
        EXP_PATH,
        &[("Authorization", "Bearer fake-token")],
        b"",
    );
    assert_eq!((raw.status, raw.header("retry-after")), (429, Some("1")));
    assert_eq!(raw.json()["reason"], "TooManyRequests");
}

#[test]
fn the_rbac_view_of_a_hook_run() {
    let fake = FakeKube::start();
    fake.put(experiment());
    block_on(async {
        let client = fake.client().await;
        let exps: Api<Experiment> = Api::namespaced(client.clone(), NS);
        exps.get("exp").await.unwrap();
        let _ = Api::<Job>::namespaced(client.clone(), NS).get("lg").await;
        let patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
        exps.patch_status("exp", &PatchParams::default(), &patch)
            .await
            .unwrap();
        let events: Api<Event> = Api::namespaced(client, NS);
        let ev: Event = serde_json::from_value(event()).unwrap();
        let ev = events.create(&PostParams::default(), &ev).await.unwrap();
        let name = ev.metadata.name.unwrap();
        let series =
            json!({"series": {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"}});
        events
            .patch(&name, &PatchParams::default(), &Patch::Merge(series))
            .await
            .unwrap();
        exps.list(&Default::default()).await.unwrap();
    });
    let a = |verb: &str, group: &str, resource: &str, name: Option<&str>| RbacAttrs {
        verb: verb.into(),
        api_group: group.into(),
        resource: resource.into(),
        name: name.map(str::to_string),
    };
    let got = fake.rbac();
    let event_name = got[4].name.clone();
    assert!(event_name.as_deref().is_some_and(|n| n.starts_with("exp-")));
    assert_eq!(
        got,
        [
            a("get", "assay.dev", "experiments", Some("exp")),
            a("get", "batch", "jobs", Some("lg")),
            a("patch", "assay.dev", "experiments/status", Some("exp")),
            a("create", "events.k8s.io", "events", None),
            a("patch", "events.k8s.io", "events", event_name.as_deref()),
            a("list", "assay.dev", "experiments", None),
        ]
    );
}

#[test]
fn requests_without_the_token_are_401() {
    let fake = FakeKube::start();
    fake.put(experiment());
    let none = fake.raw("GET", EXP_PATH, &[], b"");
    let wrong = fake.raw("GET", EXP_PATH, &[("Authorization", "Bearer nope")], b"");
    let basic = fake.raw(
        "GET",
        EXP_PATH,
        &[("Authorization", "Basic ZmFrZS10b2tlbg==")],
        b"",
    );
    let auth = format!("Bearer {TOKEN}");
    let right = fake.raw("GET", EXP_PATH, &[("Authorization", &auth)], b"");
    for r in [&none, &wrong, &basic] {
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        );
    }
    assert_eq!(right.status, 200);
    assert_eq!(right.json()["metadata"]["name"], "exp");
    let codes: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(codes, [401, 401, 401, 200]);
}
