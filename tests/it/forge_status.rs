//! Commit statuses on the forge (issue 14 item 3), against loopback fakes
//! of GitHub, GitLab and Gitea that check the real method, path, auth header
//! and JSON body of each API:
//! - GitHub `POST /repos/{owner}/{repo}/statuses/{sha}`, `Authorization:
//!   Bearer`, `{state, target_url, description, context}`, states
//!   pending/success/failure/error (docs.github.com, "Create a commit status");
//! - GitLab `POST /projects/:id/statuses/:sha`, `PRIVATE-TOKEN`, `{state,
//!   name, target_url, description}`, states running/success/failed/canceled,
//!   and its 400 "Cannot transition status via :run from :running" when the
//!   state is already set;
//! - Gitea `POST /repos/{owner}/{repo}/statuses/{sha}`, `Authorization:
//!   token`, `CreateStatusOption` (`routers/api/v1/repo/status.go`).
//!
//! Then the hook end to end (git daemon, real Prometheus, fake GitHub): the
//! status goes on the commit that proposed the candidate, not on a later
//! head; a refusing forge leaves the verdict delivered and is logged once;
//! without a token nothing is sent.

use assay::gitops::credentials::Credentials;
use assay::gitops::forge::statuses::{CommitState, CommitStatus};
use assay::gitops::forge::{Forge, ForgeRepo};
use assay::runtime::Runtime;
use assay::secret::Secret;
use assay::spec::ForgeChoice;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::promote::{Env, id_of, prometheus, promote_local, stderr};
use crate::support::fake_forge::Fake;

const TOKEN: &str = "status-token-4d1e8b";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const CONTEXT: &str = "assay/productpage";

fn token_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    dir
}

fn token() -> Secret {
    let dir = token_dir();
    Credentials::from_dir(dir.path())
        .unwrap()
        .api_token()
        .unwrap()
        .clone()
}

fn runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().unwrap())
}

struct Case {
    setting: ForgeChoice,
    repo_url: &'static str,
    api_path: &'static str,
    status_path: String,
    auth: (&'static str, String),
    /// The forge's word for pending, success, failure, superseded.
    states: [&'static str; 4],
    /// The body's key for the status's label: `context` (GitLab: `name`).
    label: &'static str,
}

fn github() -> Case {
    Case {
        setting: ForgeChoice::Github,
        repo_url: "https://ghe.example.com/acme/env.git",
        api_path: "/api/v3",
        status_path: format!("/api/v3/repos/acme/env/statuses/{SHA}"),
        auth: ("authorization", format!("Bearer {TOKEN}")),
        states: ["pending", "success", "failure", "error"],
        label: "context",
    }
}

fn gitlab() -> Case {
    Case {
        setting: ForgeChoice::Gitlab,
        repo_url: "git@gitlab.example.com:platform/team/env.git",
        api_path: "/api/v4",
        status_path: format!("/api/v4/projects/platform%2Fteam%2Fenv/statuses/{SHA}"),
        auth: ("private-token", TOKEN.to_string()),
        states: ["running", "success", "failed", "canceled"],
        label: "name",
    }
}

fn gitea() -> Case {
    Case {
        setting: ForgeChoice::Gitea,
        repo_url: "https://gitea.example.com/acme/env.git",
        api_path: "/api/v1",
        status_path: format!("/api/v1/repos/acme/env/statuses/{SHA}"),
        auth: ("authorization", format!("token {TOKEN}")),
        states: ["pending", "success", "failure", "error"],
        label: "context",
    }
}

impl Case {
    /// The JSON body the forge documents.
    fn body(&self, state: &str, description: &str, link: Option<&str>) -> Value {
        let mut v = json!({"state": state, "description": description, self.label: CONTEXT});
        if let Some(l) = link {
            v["target_url"] = json!(l);
        }
        v
    }

    fn forge(&self, fake: &Fake) -> Forge<'static> {
        let api = format!("{}{}", fake.server.uri(), self.api_path);
        let repo = ForgeRepo::from_url(self.repo_url, self.setting, Some(&api)).unwrap();
        Forge::new(repo, &token(), runtime()).unwrap()
    }

    fn expect(&self, fake: &Fake, state: &str, description: &str, link: Option<&str>) {
        fake.mount(
            Mock::given(method("POST"))
                .and(path(self.status_path.as_str()))
                .and(header(self.auth.0, self.auth.1.as_str()))
                .and(header("content-type", "application/json"))
                .and(header_exists("user-agent"))
                .and(body_json(self.body(state, description, link)))
                .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
                .expect(1),
        );
    }
}

fn each_state_has_the_documented_shape(case: Case) {
    let fake = Fake::start();
    let link = "https://ghe.example.com/acme/env/pull/7";
    let long = format!("reject: {}", "p99-latency 900 ms over 500 ms; ".repeat(10));
    let cut = assay::gitops::forge::statuses::one_line(&long);
    assert_eq!(cut.chars().count(), 140);
    case.expect(&fake, case.states[0], "judging v2 against v1", None);
    case.expect(&fake, case.states[1], "promote: all good", Some(link));
    case.expect(&fake, case.states[2], &cut, Some(link));
    case.expect(&fake, case.states[3], "superseded: v3 proposed", None);
    let forge = case.forge(&fake);
    let status = |state, description, target_url| CommitStatus {
        sha: SHA,
        state,
        context: CONTEXT,
        description,
        target_url,
    };
    forge
        .set_status(&status(CommitState::Pending, "judging v2 against v1", None))
        .unwrap();
    forge
        .set_status(&status(
            CommitState::Success,
            "promote:\n all good",
            Some(link),
        ))
        .unwrap();
    forge
        .set_status(&status(CommitState::Failure, &long, Some(link)))
        .unwrap();
    forge
        .set_status(&status(
            CommitState::Superseded,
            "superseded: v3 proposed",
            None,
        ))
        .unwrap();
    fake.verify();
}

#[test]
fn github_statuses_have_the_documented_shape() {
    each_state_has_the_documented_shape(github());
}

#[test]
fn gitlab_statuses_have_the_documented_shape() {
    each_state_has_the_documented_shape(gitlab());
}

#[test]
fn gitea_statuses_have_the_documented_shape() {
    each_state_has_the_documented_shape(gitea());
}

#[test]
fn gitlab_refusing_the_same_state_again_is_success_and_a_refusal_is_an_error() {
    let case = gitlab();
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path(case.status_path.as_str()))
            .and(|r: &Request| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["state"] == "running"
            })
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "message": "Cannot transition status via :run from :running (Reason(s): Status cannot transition via \"run\")"
            })))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(case.status_path.as_str()))
            .and(|r: &Request| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["state"] == "success"
            })
            .respond_with(ResponseTemplate::new(403).set_body_json(
                json!({"message": format!("403 Forbidden - token {TOKEN} lacks api scope")}),
            ))
            .expect(1),
    );
    let forge = case.forge(&fake);
    let status = |state| CommitStatus {
        sha: SHA,
        state,
        context: CONTEXT,
        description: "x",
        target_url: None,
    };
    forge.set_status(&status(CommitState::Pending)).unwrap();
    let e = forge.set_status(&status(CommitState::Success)).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(!format!("{e} {e:?}").contains(TOKEN), "{e}");
    fake.verify();
}

/// An env repo at `acme/env-…` whose spec sends statuses to the fake GitHub
/// (push mode, `forge: github`, `apiUrl` on the fake); the candidate is
/// proposed, then `later` unrelated commits land on top. Returns the env, the
/// proposing commit, the experiment id and the rendered Experiment.
fn env_with_candidate(
    name: &str,
    fake: &Fake,
    later: usize,
) -> (Env, String, String, std::path::PathBuf) {
    env_with(name, fake, later, "")
}

/// [`env_with_candidate`] with `promotion` lines added to the spec's.
fn env_with(
    name: &str,
    fake: &Fake,
    later: usize,
    promotion: &str,
) -> (Env, String, String, std::path::PathBuf) {
    let env = Env::new(&format!("acme/{name}"));
    let api = format!("{}/api/v3", fake.server.uri());
    let spec = env.spec().replace(
        "    mode: push\n",
        &format!("    mode: push\n    forge: github\n    apiUrl: {api}\n{promotion}"),
    );
    env.repo
        .commit_as_other("main", &Env::spec_path(), &spec, "point at the forge");
    env.propose("v2", "iter8/productpage:v2");
    let proposing = env.repo.head("main");
    let id = id_of(&env.spec());
    for i in 0..later {
        env.repo.commit_as_other(
            "main",
            "samples/bookinfo/NOTES.md",
            &format!("unrelated {i}\n"),
            "docs: notes",
        );
    }
    let exp = env.render();
    (env, proposing, id, exp)
}

fn body_of(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn statuses_path(env: &Env, sha: &str) -> String {
    format!(
        "/api/v3/repos/acme/{}/statuses/{sha}",
        env.repo.name().trim_start_matches("acme/")
    )
}

/// Nine commits after the proposal: more than the first shallow fetch's 8,
/// so the lookup deepens, and still names the proposing commit.
#[test]
fn the_hook_marks_the_proposing_commit_pending_then_with_the_verdict() {
    let fake = Fake::start();
    let (env, proposing, id, exp) = env_with_candidate("env-status", &fake, 9);
    let status_path = statuses_path(&env, &proposing);
    let bearer = format!("Bearer {TOKEN}");
    fake.mount(
        Mock::given(method("POST"))
            .and(path(status_path.as_str()))
            .and(header("authorization", bearer.as_str()))
            .and(|r: &Request| {
                let b = body_of(r);
                b["state"] == "pending"
                    && b["context"] == CONTEXT
                    && b["description"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("judging v2 against v1 until "))
                    && b.get("target_url").is_none()
            })
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
            .expect(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path(status_path.as_str()))
            .and(header("authorization", bearer.as_str()))
            .and(|r: &Request| {
                let b = body_of(r);
                b["state"] == "success"
                    && b["context"] == CONTEXT
                    && b["description"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("promote: v2 meets every objective"))
                    && b["target_url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("https://127.0.0.1/acme/env-status/commit/"))
            })
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 2})))
            .expect(1),
    );
    let creds = token_dir();
    let prom = prometheus(Some);
    let out = promote_local(&exp, &prom.url(), creds.path().to_str().unwrap(), &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = env.verdict_commits(&id);
    assert_eq!(commits.len(), 1, "{err}");
    // The success status links to the verdict commit.
    let requests = fake.rt.block_on(fake.server.received_requests()).unwrap();
    let last = body_of(requests.last().unwrap());
    assert_eq!(
        last["target_url"],
        format!("https://127.0.0.1/acme/env-status/commit/{}", commits[0].0)
    );
    assert!(
        !err.contains(TOKEN) && !err.contains("commit status"),
        "{err}"
    );
    fake.verify();
}

#[test]
fn a_refusing_forge_does_not_hold_the_verdict_back_and_is_logged_once() {
    let fake = Fake::start();
    let (env, proposing, id, exp) = env_with_candidate("env-refused", &fake, 1);
    fake.mount(
        Mock::given(method("POST"))
            .and(path(statuses_path(&env, &proposing).as_str()))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .expect(2),
    );
    let creds = token_dir();
    let prom = prometheus(|w| Some(w.error_fraction(0.2)));
    let out = promote_local(&exp, &prom.url(), creds.path().to_str().unwrap(), &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let commits = env.verdict_commits(&id);
    assert_eq!(commits.len(), 1, "{err}");
    assert!(commits[0].2.contains("Assay-Verdict: reject"));
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("commit status"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("warning: commit status not set: POST ")
            && warnings[0].contains("HTTP 403 Forbidden: Resource not accessible by integration"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "{err}");
    fake.verify();
}

/// Off for anonymous remotes (no token: not a word about it), and off by
/// `promotion.commitStatus: false`, which the hook Job passes on as
/// `ASSAY_COMMIT_STATUS=false`.
#[test]
fn without_a_token_or_when_turned_off_no_status_is_sent() {
    let fake = Fake::start();
    let (env, _proposing, id, exp) = env_with_candidate("env-anonymous", &fake, 1);
    fake.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201))
            .expect(0),
    );
    let prom = prometheus(Some);
    let out = promote_local(&exp, &prom.url(), "/nonexistent/assay-credentials", &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(env.verdict_commits(&id).len(), 1, "{err}");
    assert!(!err.contains("commit status"), "{err}");

    // With a token, turned off in the spec: the rendered hooks say so.
    let (env, _proposing, id, exp) = env_with("env-off", &fake, 1, "    commitStatus: false\n");
    let manifests: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(&exp).unwrap()).unwrap();
    let hooks: Vec<&Value> = manifests
        .iter()
        .filter(|m| {
            m["kind"] == "Job"
                && m["metadata"]["annotations"]["argocd.argoproj.io/hook"].is_string()
        })
        .collect();
    assert_eq!(hooks.len(), 2);
    for job in &hooks {
        let vars = job["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap();
        assert!(
            vars.iter()
                .any(|e| e["name"] == "ASSAY_COMMIT_STATUS" && e["value"] == "false"),
            "{job}"
        );
    }
    let creds = token_dir();
    let out = promote_local(
        &exp,
        &prom.url(),
        creds.path().to_str().unwrap(),
        &[("ASSAY_COMMIT_STATUS", "false")],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(env.verdict_commits(&id).len(), 1, "{err}");
    assert!(!err.contains("commit status"), "{err}");
    fake.verify();
}
