//! Pull-request mode delivers a reject without waiting for a person: the
//! in-cluster hook (fake Kubernetes API, real git daemon, a loopback fake of
//! GitHub's REST API) resumes a recorded reject and pushes it straight to
//! the branch; when the server refuses that push (a pre-receive hook on the
//! bare repository, as branch protection would), it opens a pull request
//! instead and says so in the status and an Event. `promotion.reject:
//! pull-request` keeps rejects in pull requests.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::promote::{Env, NS, finish, id_of, promote, stderr};
use crate::support::fake_forge::Fake;
use crate::support::fake_kube::FakeKube;

/// The forge token in the mounted Secret; searched for in every output.
pub(crate) const FORGE_TOKEN: &str = "ghp_fake_forge_token_9c1e";
pub(crate) const REASON: &str = "v2 fails error-rate: 0.2 (bound 0.22) vs <= 0.01";

/// A hook run that resumes a reject recorded in the status: the env repo
/// with candidate v2, the Experiment (as rendered, `writeBack` edited by the
/// test) in the fake API server, and a credentials directory.
pub(crate) struct Resumed {
    pub env: Env,
    pub fake: FakeKube,
    pub name: String,
    pub id: String,
    pub creds: tempfile::TempDir,
}

impl Resumed {
    pub fn new(repo: &str, creds: &[(&str, &str)], edit: impl FnOnce(&mut Value)) -> Resumed {
        let env = Env::new(repo);
        env.propose("v2", "iter8/productpage:v2");
        let id = id_of(&env.spec());
        let text = std::fs::read_to_string(env.render()).unwrap();
        let manifests: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let mut exp = manifests
            .iter()
            .find(|m| m["kind"] == "Experiment")
            .expect("an Experiment")
            .clone();
        edit(&mut exp["spec"]);
        exp["status"] = json!({"phase": "Running", "verdict": "reject", "iteration": 3,
            "reason": REASON, "message": REASON});
        let name = exp["metadata"]["name"].as_str().unwrap().to_string();
        let fake = FakeKube::start();
        fake.put(exp);
        let dir = tempfile::tempdir().unwrap();
        for (k, v) in creds {
            std::fs::write(dir.path().join(k), v).unwrap();
        }
        Resumed {
            env,
            fake,
            name,
            id,
            creds: dir,
        }
    }

    /// Runs the hook to completion with `env` added.
    pub fn run(&self, env: &[(&str, &str)]) -> Output {
        let kubeconfig = self.fake.kubeconfig();
        let mut all = vec![
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("ASSAY_EXPERIMENT", self.name.as_str()),
            ("ASSAY_NAMESPACE", NS),
            ("HOSTNAME", "productpage-promote-x7k2p"),
        ];
        all.extend_from_slice(env);
        let args = ["--credentials", self.creds.path().to_str().unwrap()];
        finish(promote(&args, &all), Duration::from_secs(60))
    }

    pub fn status(&self) -> Value {
        self.fake
            .get("assay.dev/v1alpha1", "experiments", NS, &self.name)
            .unwrap()["status"]
            .clone()
    }

    /// `(type, reason, note)` of every Event.
    pub fn events(&self) -> Vec<(String, String, String)> {
        self.fake
            .list("events.k8s.io/v1", "events", NS)
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("type"), s("reason"), s("note"))
            })
            .collect()
    }

    /// `secret` is in no output, status, Event, API request or commit.
    pub fn assert_nowhere(&self, out: &Output, secret: &str) {
        assert!(!stderr(out).contains(secret));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
        assert!(!self.status().to_string().contains(secret));
        for e in self.fake.list("events.k8s.io/v1", "events", NS) {
            assert!(!e.to_string().contains(secret));
        }
        for r in self.fake.requests() {
            let body = r.body.map(|b| b.to_string()).unwrap_or_default();
            assert!(!body.contains(secret) && !r.path.contains(secret), "{body}");
        }
        let branches = self.env.repo.git(&["for-each-ref", "--format=%(refname)"]);
        for branch in branches.lines() {
            for (_, subject, body) in self.env.repo.log(branch) {
                assert!(!subject.contains(secret) && !body.contains(secret));
            }
        }
    }
}

/// `writeBack` in pull-request mode on the fake GitHub at `api`.
fn pull_request_mode(api: String, reject: Option<&'static str>) -> impl FnOnce(&mut Value) {
    move |spec: &mut Value| {
        let wb = &mut spec["writeBack"];
        wb["mode"] = json!("pull-request");
        wb["forge"] = json!("github");
        wb["apiURL"] = json!(api);
        match reject {
            Some(r) => wb["reject"] = json!(r),
            None => {
                wb.as_object_mut().unwrap().remove("reject");
            }
        }
    }
}

fn list_pulls(head: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/repos/acme/env/pulls"))
        .and(query_param("head", format!("acme:{head}")))
        .and(header("authorization", format!("Bearer {FORGE_TOKEN}")))
}

fn create_pull(head: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/repos/acme/env/pulls"))
        .and(header("authorization", format!("Bearer {FORGE_TOKEN}")))
        .and(body_partial_json(
            json!({"title": "assay: reject productpage v2", "head": head, "base": "main"}),
        ))
}

fn pull(head: &str) -> Value {
    json!({
        "html_url": "https://github.example/acme/env/pull/9", "number": 9, "state": "open",
        "head": {"ref": head, "label": format!("acme:{head}")}, "base": {"ref": "main"}
    })
}

/// The forge finds no pull request for `head` and then opens one, once each.
fn expect_one_new_pull(fake: &Fake, head: &str) {
    fake.mount(
        list_pulls(head)
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1),
    );
    fake.mount(
        create_pull(head)
            .respond_with(ResponseTemplate::new(201).set_body_json(pull(head)))
            .expect(1),
    );
}

/// Refuses every update of `refs/heads/main`, as a protected branch does.
pub(crate) fn protect_main(env: &Env) {
    let hook = env.repo.path().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n    \
         echo 'main is protected: changes go through pull requests' >&2\n    exit 1\n  fi\ndone\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn pull_request_mode_pushes_a_reject_directly() {
    let fake = Fake::start();
    let r = Resumed::new(
        "acme/env",
        &[("token", FORGE_TOKEN)],
        pull_request_mode(fake.server.uri(), None),
    );
    let head = format!("assay/productpage-{}", r.id);
    // Looked up once (an earlier run's pull request would be the verdict);
    // nothing is opened. The reject is a commit status on the commit that
    // proposed v2.
    fake.mount(
        list_pulls(&head)
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/env/pulls"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0),
    );
    let proposing = r
        .env
        .repo
        .log("main")
        .into_iter()
        .find(|(_, subject, _)| subject == "CI: propose v2")
        .unwrap()
        .0;
    fake.mount(
        Mock::given(method("POST"))
            .and(path(format!("/repos/acme/env/statuses/{proposing}")))
            .and(body_partial_json(
                json!({"state": "failure", "context": "assay/productpage"}),
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    let out = r.run(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = r.env.verdict_commits(&r.id);
    assert_eq!(commits.len(), 1, "{err}");
    assert_eq!(commits[0].1, "assay: reject productpage v2");
    assert_eq!(r.env.repo.try_head(&head), None, "no pull-request branch");
    let spec = assay::spec::parse("assay.yaml", r.env.spec().as_bytes()).unwrap();
    assert!(spec.candidate.is_none(), "the candidate left Git");
    assert_eq!(spec.rejected[0].reason.as_deref(), Some(REASON));
    let status = r.status();
    assert_eq!(status["commit"], commits[0].0.as_str());
    assert_eq!(status["pullRequest"], Value::Null);
    assert!(
        r.events()
            .iter()
            .any(|(t, reason, _)| t == "Normal" && reason == "Committed"),
        "{:?}",
        r.events()
    );
    fake.verify();
    r.assert_nowhere(&out, FORGE_TOKEN);
}

#[test]
fn a_refused_direct_reject_becomes_a_pull_request_and_says_so() {
    let fake = Fake::start();
    let r = Resumed::new(
        "acme/env",
        &[("token", FORGE_TOKEN)],
        pull_request_mode(fake.server.uri(), Some("push")),
    );
    protect_main(&r.env);
    let head = format!("assay/productpage-{}", r.id);
    expect_one_new_pull(&fake, &head);
    let main_before = r.env.repo.head("main");
    let out = r.run(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(r.env.repo.head("main"), main_before, "main is protected");
    let (_, subject, body) = r.env.repo.log(&head).into_iter().next().unwrap();
    assert_eq!(subject, "assay: reject productpage v2");
    assert!(
        body.contains(&format!("Assay-Experiment: {}", r.id)),
        "{body}"
    );
    let status = r.status();
    assert_eq!(
        status["pullRequest"],
        "https://github.example/acme/env/pull/9"
    );
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("could not be pushed directly")
            && message.contains("pre-receive hook declined")
            && message.contains("proposed in https://github.example/acme/env/pull/9 instead"),
        "{message}"
    );
    let events = r.events();
    let refused: Vec<_> = events
        .iter()
        .filter(|(t, reason, _)| t == "Warning" && reason == "PushRefused")
        .collect();
    assert_eq!(refused.len(), 1, "{events:?}");
    assert!(refused[0].2.contains("pull/9"), "{events:?}");
    fake.verify();
    r.assert_nowhere(&out, FORGE_TOKEN);
}

#[test]
fn reject_pull_request_keeps_rejects_in_pull_requests() {
    let fake = Fake::start();
    let r = Resumed::new(
        "acme/env",
        &[("token", FORGE_TOKEN)],
        pull_request_mode(fake.server.uri(), Some("pull-request")),
    );
    let head = format!("assay/productpage-{}", r.id);
    expect_one_new_pull(&fake, &head);
    let main_before = r.env.repo.head("main");
    let out = r.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(r.env.repo.head("main"), main_before);
    assert_eq!(
        r.status()["pullRequest"],
        "https://github.example/acme/env/pull/9"
    );
    assert!(
        !r.events()
            .iter()
            .any(|(_, reason, _)| reason == "PushRefused"),
        "{:?}",
        r.events()
    );
    fake.verify();
}

/// The forge failing (here its lookup answers 500) does not hold a reject
/// back: the push decides.
#[test]
fn a_forge_outage_does_not_hold_a_direct_reject() {
    let fake = Fake::start();
    let r = Resumed::new(
        "acme/env",
        &[("token", FORGE_TOKEN)],
        pull_request_mode(fake.server.uri(), None),
    );
    let head = format!("assay/productpage-{}", r.id);
    fake.mount(list_pulls(&head).respond_with(ResponseTemplate::new(500)));
    let out = r.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let commits = r.env.verdict_commits(&r.id);
    assert_eq!(commits.len(), 1);
    assert_eq!(r.status()["commit"], commits[0].0.as_str());
    r.assert_nowhere(&out, FORGE_TOKEN);
}
