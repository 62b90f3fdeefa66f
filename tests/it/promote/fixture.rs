//! The in-cluster hook's set-up: the env repo with a candidate, its rendered
//! manifests, the fake Kubernetes API server loaded with the Experiment
//! (no real kube-apiserver can run here), and a mounted credentials Secret.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, NS, ago, finish, id_of, prometheus, promote, stderr, wait};
use crate::support::fake_kube::FakeKube;

pub(super) const SECRET_TOKEN: &str = "tok-s3cret-do-not-log";

/// Everything a hook run needs: the env repo with a candidate, its rendered
/// manifests, the fake API server loaded with the Experiment, and a
/// mounted credentials Secret.
pub(super) struct Cluster {
    pub(super) env: Env,
    pub(super) fake: FakeKube,
    pub(super) manifests: Vec<Value>,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) creds: tempfile::TempDir,
}

impl Cluster {
    /// Starts the hook on a window that stays open, and waits for its
    /// first look to be recorded.
    pub(super) fn judging(&self, prom_url: &str) -> Child {
        let child = self
            .hook(&["--prometheus", prom_url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.fake
            .wait_for(Duration::from_secs(30), "the first look", |reqs| {
                reqs.iter().any(|r| {
                    r.body
                        .as_ref()
                        .is_some_and(|b| b["status"]["iteration"] == 1)
                })
            });
        child
    }

    /// The hook stopped by SIGTERM at its first look (the load started
    /// 60 s ago, so the window stays open another 90 s): its output, after
    /// checking it exited 143.
    pub(super) fn stopped_by_sigterm(&self) -> std::process::Output {
        self.loadgen_started(60, false);
        let prom = prometheus(Some);
        let child = self.judging(&prom.url());
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = wait(child, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
        out
    }

    /// The hook with its load generator as a sync-phase Job, whose times
    /// the tests set (`loadgen.mode: job`).
    pub(super) fn new(repo: &str) -> Cluster {
        Cluster::with_load(repo, true)
    }

    pub(super) fn with_load(repo: &str, job: bool) -> Cluster {
        let env = Env::with_load(repo, job);
        env.propose("v2", "iter8/productpage:v2");
        let id = id_of(&env.spec());
        let text = std::fs::read_to_string(env.render()).unwrap();
        let manifests: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let fake = FakeKube::start();
        let exp = find(&manifests, "Experiment").clone();
        let name = exp["metadata"]["name"].as_str().unwrap().to_string();
        fake.put(exp);
        // A token the hook does not need for git:// but must never leak.
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("token"), SECRET_TOKEN).unwrap();
        Cluster {
            env,
            fake,
            manifests,
            id,
            name,
            creds,
        }
    }

    /// The loadgen Job as the cluster reports it, started `seconds` ago.
    pub(super) fn loadgen_started(&self, seconds: u64, failed: bool) {
        self.loadgen(seconds, None, failed);
    }

    /// Started `started` seconds ago and, if given, completed `completed` ago.
    pub(super) fn loadgen(&self, started: u64, completed: Option<u64>, failed: bool) {
        let mut job = find(&self.manifests, "Job").clone();
        assert!(
            job["metadata"]["name"]
                .as_str()
                .unwrap()
                .contains("loadgen")
        );
        job["status"] = json!({ "startTime": ago(started) });
        if let Some(c) = completed {
            job["status"]["completionTime"] = json!(ago(c));
        }
        if failed {
            job["status"]["conditions"] = json!([{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"
            }]);
        }
        self.fake.put(job);
    }

    pub(super) fn candidate_deployment(&self, stuck: bool) {
        let d = self
            .manifests
            .iter()
            .find(|m| m["kind"] == "Deployment" && m["metadata"]["name"] == "productpage-v2")
            .unwrap();
        let mut d = d.clone();
        d["status"] = if stuck {
            json!({"conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"productpage-v2-5d4f\" has timed out progressing."}]})
        } else {
            json!({"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})
        };
        self.fake.put(d);
    }

    pub(super) fn hook(&self, args: &[&str]) -> Command {
        let kubeconfig = self.fake.kubeconfig();
        let mut all = vec!["--credentials", self.creds.path().to_str().unwrap()];
        all.extend_from_slice(args);
        promote(
            &all,
            &[
                ("KUBECONFIG", kubeconfig.to_str().unwrap()),
                ("ASSAY_EXPERIMENT", &self.name),
                ("ASSAY_NAMESPACE", NS),
                ("HOSTNAME", "productpage-promote-x7k2p"),
            ],
        )
    }

    /// Runs the hook against a Prometheus where both versions are healthy.
    pub(super) fn judge_healthy(&self) -> std::process::Output {
        let prom = prometheus(Some);
        finish(
            self.hook(&["--prometheus", &prom.url()]),
            Duration::from_secs(60),
        )
    }

    /// Judges a candidate with 20 % errors while git daemon is down: the
    /// hook records the reject, the write-back fails, and it exits 1.
    pub(super) fn reject_with_git_down(&self) -> std::process::Output {
        self.loadgen_started(150, false);
        let prom = prometheus(|w| Some(w.error_fraction(0.2)));
        self.env.daemon.kill();
        let out = finish(
            self.hook(&["--prometheus", &prom.url(), "--git-deadline", "1s"]),
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        out
    }

    /// Git is back and the Job retries: the recorded verdict is delivered
    /// without judging again (Prometheus is unreachable).
    pub(super) fn retry_with_git_back(&self) -> std::process::Output {
        self.env.daemon.restart();
        let out = finish(
            self.hook(&["--prometheus", "http://127.0.0.1:1"]),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        out
    }

    pub(super) fn status(&self) -> Value {
        self.fake
            .get("assay.dev/v1alpha1", "experiments", NS, &self.name)
            .unwrap()["status"]
            .clone()
    }

    pub(super) fn event_reasons(&self) -> Vec<String> {
        self.fake
            .list("events.k8s.io/v1", "events", NS)
            .iter()
            .map(|e| e["reason"].as_str().unwrap().to_string())
            .collect()
    }

    pub(super) fn assert_no_secret(&self, stderr: &str) {
        assert!(!stderr.contains(SECRET_TOKEN));
        for r in self.fake.requests() {
            let body = r.body.map(|b| b.to_string()).unwrap_or_default();
            assert!(
                !body.contains(SECRET_TOKEN) && !r.path.contains(SECRET_TOKEN),
                "{body}"
            );
        }
        for (_, subject, body) in self.env.repo.log("main") {
            assert!(!subject.contains(SECRET_TOKEN) && !body.contains(SECRET_TOKEN));
        }
        assert!(!self.status().to_string().contains(SECRET_TOKEN));
    }
}

/// The one rendered object of `kind`.
pub(super) fn find<'a>(manifests: &'a [Value], kind: &str) -> &'a Value {
    manifests
        .iter()
        .find(|m| m["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}
