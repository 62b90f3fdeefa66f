//! Issue 15: `promotion.next` environments in other repositories. Each
//! environment is its own env repo on its own real server (git daemon; prod
//! over HTTPS behind lighttpd with its own credentials); the hook runs in
//! "cluster" mode against the fake Kubernetes API, resuming a verdict
//! recorded in the Experiment's status (the judging itself is covered by
//! tests/it/promote), so what is tested here is what happens after it: the
//! verdict commit, then one proposal per next environment.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::promote::{Env, NS, finish, id_of, promote, stderr};
use crate::support::fake_forge::Fake;
use crate::support::fake_kube::FakeKube;
use crate::support::git_servers::HttpGit;

mod kill;
mod render;

const SPEC: &str = "samples/bookinfo/assay.yaml";

/// One environment: its env repo, and the fake API server its hook talks to.
struct Stage {
    env: Env,
    kube: FakeKube,
    /// Experiment name of the last [`Stage::record`].
    name: String,
    /// `<creds>/git` is this environment's Secret (absent: anonymous git://);
    /// `<creds>/next/<secret>` the next environments' own.
    creds: tempfile::TempDir,
}

impl Stage {
    fn new(repo: &str) -> Stage {
        Stage {
            env: Env::new(repo),
            kube: FakeKube::start(),
            name: String::new(),
            creds: tempfile::tempdir().unwrap(),
        }
    }

    /// Adds `entries` (YAML list items, indented for `next:`) to the spec,
    /// as a person would commit it.
    fn configure_next(&self, entries: &str) {
        let text = self.env.spec();
        let anchor = "    credentialsSecret: assay-git\n";
        assert!(text.contains(anchor));
        let text = text.replace(anchor, &format!("{anchor}    next:\n{entries}"));
        self.env
            .repo
            .commit_as_other("main", SPEC, &text, "configure next environments");
    }

    /// A Secret of a next environment, mounted where the hook looks for it.
    fn next_secret(&self, secret: &str, keys: &[(&str, &str)]) {
        let dir = self.creds.path().join("next").join(secret);
        std::fs::create_dir_all(&dir).unwrap();
        for (k, v) in keys {
            std::fs::write(dir.join(k), v).unwrap();
        }
    }

    /// Renders the spec at main's head (which must hold a candidate) and
    /// puts its Experiment in the API with `verdict` already recorded, as a
    /// hook killed after judging leaves it. Returns the Experiment's spec.
    fn record(&mut self, verdict: &str) -> Value {
        let text = std::fs::read_to_string(self.env.render()).unwrap();
        let manifests: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let mut exp = manifests
            .into_iter()
            .find(|m| m["kind"] == "Experiment")
            .expect("an Experiment");
        exp["status"] = json!({"phase": "Running", "verdict": verdict, "iteration": 3,
            "reason": "decided by the test", "message": "decided by the test"});
        self.name = exp["metadata"]["name"].as_str().unwrap().to_string();
        let spec = exp["spec"].clone();
        self.kube.put(exp);
        spec
    }

    fn command(&self, env: &[(&str, &str)]) -> std::process::Command {
        let kubeconfig = self.kube.kubeconfig();
        let mut all = vec![
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("ASSAY_EXPERIMENT", self.name.as_str()),
            ("ASSAY_NAMESPACE", NS),
            ("HOSTNAME", "productpage-promote-x7k2p"),
        ];
        all.extend_from_slice(env);
        let own = self.creds.path().join("git");
        let args = [
            "--credentials",
            own.to_str().unwrap(),
            "--git-deadline",
            "3s",
        ];
        promote(&args, &all)
    }

    /// Runs the hook to completion.
    fn run(&self, env: &[(&str, &str)]) -> Output {
        finish(self.command(env), Duration::from_secs(60))
    }

    fn status(&self) -> Value {
        self.kube
            .get("assay.dev/v1alpha1", "experiments", NS, &self.name)
            .unwrap()["status"]
            .clone()
    }

    fn id(&self) -> String {
        id_of(&self.env.spec())
    }
}

/// Commits on `repo`'s main proposing something from experiment `id`, as
/// `(sha, subject, body)`.
fn proposals(env: &Env, id: &str) -> Vec<(String, String, String)> {
    proposals_on(env, "main", id)
}

fn proposals_on(env: &Env, branch: &str, id: &str) -> Vec<(String, String, String)> {
    let trailer = format!("Assay-Source-Experiment: {id}");
    env.repo
        .log(branch)
        .into_iter()
        .filter(|(_, _, body)| body.lines().any(|l| l == trailer))
        .collect()
}

/// The `Assay-Source-Commit` of a proposal.
fn source_commit(body: &str) -> String {
    body.lines()
        .find_map(|l| l.strip_prefix("Assay-Source-Commit: "))
        .expect("Assay-Source-Commit trailer")
        .to_string()
}

/// Dev, with staging and qa as next environments, and v2's promotion
/// recorded in dev's Experiment (not yet delivered); and its experiment id.
fn promoted_with_two_next() -> (Stage, Stage, Stage, String) {
    let mut dev = Stage::new("acme/dev");
    let staging = Stage::new("acme/staging");
    let qa = Stage::new("acme/qa");
    dev.configure_next(&(entry(&staging.env.url, "") + &entry(&qa.env.url, "")));
    dev.env.propose("v2", "iter8/productpage:v2");
    let id = dev.id();
    dev.record("promote");
    (dev, staging, qa, id)
}

fn entry(url: &str, extra: &str) -> String {
    format!("      - repo: {url}\n        path: {SPEC}\n{extra}")
}

fn candidate_of(env: &Env) -> Option<(String, String)> {
    let spec = assay::spec::parse("assay.yaml", env.spec().as_bytes()).unwrap();
    spec.candidate.map(|c| (c.version, c.image))
}

#[test]
fn a_promotion_travels_dev_to_staging_to_prod_and_a_reject_goes_nowhere() {
    let mut dev = Stage::new("acme/dev");
    let mut staging = Stage::new("acme/staging");
    let prod = Stage::new("acme/prod");
    // Prod is served over HTTPS with basic auth, and only staging's hook
    // holds its credentials (Secret prod-git).
    let https = HttpGit::start(&prod.env.repo.root());
    let prod_url = https.url(&prod.env.repo);
    dev.configure_next(&entry(&staging.env.url, ""));
    staging.configure_next(&entry(&prod_url, "        credentialsSecret: prod-git\n"));
    staging.next_secret(
        "prod-git",
        &[
            ("username", https.username()),
            ("password", https.password()),
        ],
    );
    let seeded_staging = staging.env.repo.log("main").len();

    // dev: CI proposes v2, the hook promotes it.
    dev.env.propose("v2", "iter8/productpage:v2");
    let dev_id = dev.id();
    let spec = dev.record("promote");
    assert_eq!(
        spec["writeBack"]["nextEnvironments"],
        json!([{"repoURL": staging.env.url, "branch": "HEAD", "path": SPEC, "mode": "push",
                "credentialsSecret": "assay-git", "forge": "auto"}])
    );
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let verdict = dev.env.verdict_commits(&dev_id);
    assert_eq!(verdict.len(), 1);
    let sent = proposals(&staging.env, &dev_id);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (sha, subject, body) = &sent[0];
    assert_eq!(
        subject,
        &format!(
            "assay: propose productpage v2 (promoted in {} main {SPEC})",
            dev.env.url
        )
    );
    assert_eq!(source_commit(body), verdict[0].0);
    assert!(body.contains(&format!("Assay-Next-Path: {SPEC}")), "{body}");
    assert_eq!(
        candidate_of(&staging.env),
        Some(("v2".into(), "iter8/productpage:v2".into()))
    );
    let st = dev.status();
    assert_eq!(st["phase"], "Completed", "{st}");
    assert_eq!(
        st["next"],
        json!([{"environment": format!("{} HEAD {SPEC}", staging.env.url),
                "outcome": "Proposed", "commit": sha}])
    );

    // staging: the proposal is its candidate; its hook promotes it to prod.
    let staging_id = staging.id();
    staging.record("promote");
    let ca = https.ca_cert_path();
    let out = staging.run(&[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(staging.env.verdict_commits(&staging_id).len(), 1);
    assert_eq!(staging.env.repo.log("main").len(), seeded_staging + 2);
    let sent = proposals(&prod.env, &staging_id);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        candidate_of(&prod.env),
        Some(("v2".into(), "iter8/productpage:v2".into()))
    );
    // Prod's password reaches neither the log nor the status nor a commit.
    let status = staging.status();
    assert_eq!(status["next"][0]["outcome"], "Proposed", "{status}");
    for text in [stderr(&out), status.to_string(), sent[0].2.clone()] {
        assert!(!text.contains(https.password()), "{text}");
    }

    // dev again: v3 is rejected; staging hears nothing of it.
    dev.env.propose("v3", "iter8/productpage:v3");
    let v3 = dev.id();
    dev.record("reject");
    let before = staging.env.repo.log("main");
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        dev.env.verdict_commits(&v3)[0]
            .2
            .contains("Assay-Verdict: reject")
    );
    assert_eq!(staging.env.repo.log("main"), before);
    assert_eq!(dev.status().get("next"), None);
}

#[test]
fn a_refused_proposal_fails_the_hook_keeps_the_verdict_and_the_retry_completes_it() {
    let (dev, staging, qa, id) = promoted_with_two_next();
    crate::reject_push::protect_main(&staging.env);

    let out = dev.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 next environment(s) are not proposed yet")
            && err.contains("pre-receive hook declined"),
        "{err}"
    );
    // The verdict stands, and qa got its proposal all the same.
    let verdict = dev.env.verdict_commits(&id);
    assert_eq!(verdict.len(), 1);
    assert_eq!(proposals(&qa.env, &id).len(), 1);
    assert!(proposals(&staging.env, &id).is_empty());
    let st = dev.status();
    assert_eq!(st["phase"], "Failed", "{st}");
    assert_eq!(st["verdict"], "promote");
    assert_eq!(st["commit"], verdict[0].0.as_str());
    let missing = &st["next"][0];
    assert_eq!(missing["outcome"], "Failed", "{st}");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("pre-receive hook declined"),
        "{st}"
    );
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains(&format!("not yet proposed in: {} HEAD", staging.env.url)),
        "{st}"
    );
    assert_eq!(st["next"][1]["outcome"], "Proposed", "{st}");

    // The Job retries once the branch lets the hook in.
    std::fs::remove_file(staging.env.repo.path().join("hooks/pre-receive")).unwrap();
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dev.env.verdict_commits(&id).len(), 1);
    assert_eq!(proposals(&staging.env, &id).len(), 1);
    assert_eq!(proposals(&qa.env, &id).len(), 1);
    let st = dev.status();
    assert_eq!(st["phase"], "Completed", "{st}");
    assert_eq!(st["next"][0]["outcome"], "Proposed", "{st}");
    assert_eq!(st["next"][1]["outcome"], "Proposed", "{st}");
}

#[test]
fn a_candidate_rejected_downstream_is_not_proposed_there_again() {
    let mut dev = Stage::new("acme/dev");
    let staging = Stage::new("acme/staging");
    // Staging rejected v2 before.
    let text = staging.env.spec().replace(
        "    credentialsSecret: assay-git\n",
        "    credentialsSecret: assay-git\n  rejected:\n    - {version: v2, image: iter8/productpage:v2, reason: too slow}\n",
    );
    staging
        .env
        .repo
        .commit_as_other("main", SPEC, &text, "staging rejected v2");
    dev.configure_next(&entry(&staging.env.url, ""));
    dev.env.propose("v2", "iter8/productpage:v2");
    let id = dev.id();
    dev.record("promote");
    let before = staging.env.repo.log("main");
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(staging.env.repo.log("main"), before);
    assert!(proposals(&staging.env, &id).is_empty());
    let st = dev.status();
    assert_eq!(st["next"][0]["outcome"], "Refused", "{st}");
    assert!(
        st["next"][0]["message"]
            .as_str()
            .unwrap()
            .contains("set force on the entry"),
        "{st}"
    );
}

const FORGE_TOKEN: &str = "ghp_fake_staging_token_41b7";

fn list_pulls(head: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/repos/acme/staging/pulls"))
        .and(query_param("head", format!("acme:{head}")))
        .and(header("authorization", format!("Bearer {FORGE_TOKEN}")))
}

fn pull(head: &str) -> Value {
    json!({
        "html_url": "https://github.example/acme/staging/pull/4", "number": 4, "state": "open",
        "head": {"ref": head, "label": format!("acme:{head}")}, "base": {"ref": "main"}
    })
}

#[test]
fn a_next_environment_in_pull_request_mode_gets_one_pull_request() {
    let fake = Fake::start();
    let mut dev = Stage::new("acme/dev");
    let staging = Stage::new("acme/staging");
    let extra = format!(
        "        mode: pull-request\n        forge: github\n        apiUrl: {}\n        credentialsSecret: staging-git\n        after: 24h\n",
        fake.server.uri()
    );
    dev.configure_next(&entry(&staging.env.url, &extra));
    dev.next_secret("staging-git", &[("token", FORGE_TOKEN)]);
    dev.env.propose("v2", "iter8/productpage:v2");
    let id = dev.id();
    dev.record("promote");
    let head = format!("assay/next-{id}-samples-bookinfo-assay");
    fake.mount(
        list_pulls(&head)
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/repos/acme/staging/pulls"))
            .and(header("authorization", format!("Bearer {FORGE_TOKEN}")))
            .and(body_partial_json(json!({
                "title": format!("assay: propose productpage v2 (promoted in {} main {SPEC})", dev.env.url),
                "head": head, "base": "main"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(pull(&head)))
            .expect(1),
    );
    let before = staging.env.repo.log("main");
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    fake.rt.block_on(fake.server.verify());
    // Main is untouched; the proposal waits on its own branch.
    assert_eq!(staging.env.repo.log("main"), before);
    let on_branch = proposals_on(&staging.env, &head, &id);
    assert_eq!(on_branch.len(), 1);
    let verdict = dev.env.verdict_commits(&id);
    assert_eq!(source_commit(&on_branch[0].2), verdict[0].0);
    // The soak: the pull request says when it may be merged.
    assert!(
        on_branch[0].2.contains("Soak: merge no earlier than")
            && on_branch[0].2.contains("Assay-Not-Before: "),
        "{}",
        on_branch[0].2
    );
    let st = dev.status();
    assert_eq!(
        st["next"][0]["pullRequest"],
        "https://github.example/acme/staging/pull/4"
    );
    assert!(!st.to_string().contains(FORGE_TOKEN));
    assert!(!stderr(&out).contains(FORGE_TOKEN));

    // A retried hook finds the open pull request and opens no other.
    fake.rt.block_on(fake.server.reset());
    fake.mount(
        list_pulls(&head)
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([pull(&head)])))
            .expect(1..),
    );
    fake.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0),
    );
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    fake.verify();
    assert_eq!(proposals_on(&staging.env, &head, &id).len(), 1);
}

#[test]
fn a_busy_next_environment_in_queue_mode_queues_the_winner() {
    let mut dev = Stage::new("acme/dev");
    let staging = Stage::new("acme/staging");
    // Staging tests every candidate in turn and has v9 under test.
    let text = staging.env.spec().replace(
        "    credentialsSecret: assay-git\n",
        "    credentialsSecret: assay-git\n    onNewCandidate: queue\n",
    );
    staging
        .env
        .repo
        .commit_as_other("main", SPEC, &text, "staging queues");
    staging.env.propose("v9", "iter8/productpage:v9");
    dev.configure_next(&entry(&staging.env.url, ""));
    dev.env.propose("v2", "iter8/productpage:v2");
    let id = dev.id();
    dev.record("promote");
    let out = dev.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(proposals(&staging.env, &id).len(), 1);
    let spec = assay::spec::parse("assay.yaml", staging.env.spec().as_bytes()).unwrap();
    assert_eq!(spec.candidate.unwrap().version, "v9");
    let queued: Vec<_> = spec.queue.iter().map(|q| q.version.as_str()).collect();
    assert_eq!(queued, ["v2"]);
}
