//! GitLab (gitlab.com and self-managed), REST API v4.
//!
//! - Projects are addressed by the URL-encoded full path, `group%2Fsub%2Fproject`
//!   (<https://docs.gitlab.com/api/rest/#namespaced-paths>).
//! - List: `GET /projects/:id/merge_requests?source_branch=..&target_branch=..&state=opened`
//!   (<https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests>).
//!   Old GitLab versions ignored the branch filters (gitlab-org/gitlab#5130),
//!   so the answer is checked again here.
//! - Create: `POST /projects/:id/merge_requests` with
//!   `{source_branch, target_branch, title, description}`, 201 on success
//!   (<https://docs.gitlab.com/api/merge_requests/#create-mr>). An open MR
//!   from the same source branch is refused with 409 Conflict and
//!   `{"message": ["Another open merge request already exists for this source
//!   branch: !N"]}` (`conflict!(errors[:validate_branches])` in
//!   `lib/api/helpers/merge_requests_helpers.rb`); the status is what counts,
//!   since the text may be translated.
//! - Header: `PRIVATE-TOKEN: <token>` (personal, project or group access
//!   token; <https://docs.gitlab.com/api/rest/authentication/>).
//! - Fields used: `iid` (the `!N` number), `web_url`, `source_branch`, `target_branch`.

use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::client::{Api, secret_header};
use super::statuses::{CommitState, CommitStatus};
use super::{ForgeError, ForgeErrorKind, ForgeRepo, PullRequest};
use crate::secret::Secret;

pub(super) fn headers(token: &Secret) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("private-token"),
        secret_header("", token)?,
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    Ok(headers)
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: u64,
    web_url: String,
    source_branch: String,
    target_branch: String,
}

impl From<MergeRequest> for PullRequest {
    fn from(mr: MergeRequest) -> PullRequest {
        PullRequest {
            url: mr.web_url,
            number: mr.iid,
        }
    }
}

#[derive(Serialize)]
struct NewMergeRequest<'a> {
    source_branch: &'a str,
    target_branch: &'a str,
    title: &'a str,
    description: &'a str,
}

fn project(repo: &ForgeRepo) -> String {
    format!("{}/{}", repo.owner, repo.name)
}

pub(super) async fn find_open(
    api: &Api,
    repo: &ForgeRepo,
    head: &str,
    base: &str,
) -> Result<Option<PullRequest>, ForgeError> {
    let url = api.endpoint(&["projects", &project(repo), "merge_requests"]);
    let query = [
        ("source_branch", head),
        ("target_branch", base),
        ("state", "opened"),
    ];
    let mrs: Vec<MergeRequest> = api.get(url, &query).await?;
    Ok(mrs
        .into_iter()
        .find(|mr| mr.source_branch == head && mr.target_branch == base)
        .map(PullRequest::from))
}

pub(super) async fn create(
    api: &Api,
    repo: &ForgeRepo,
    head: &str,
    base: &str,
    title: &str,
    body: &str,
) -> Result<PullRequest, ForgeError> {
    let url = api.endpoint(&["projects", &project(repo), "merge_requests"]);
    let new = NewMergeRequest {
        source_branch: head,
        target_branch: base,
        title,
        description: body,
    };
    let mr: MergeRequest = api.post(url, &new).await?;
    Ok(mr.into())
}

pub(super) fn already_exists(e: &ForgeError) -> bool {
    e.status() == Some(409)
}

/// `POST /projects/:id/statuses/:sha` with `{state, name, target_url,
/// description}` (<https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit>),
/// 201 on success. States are a pipeline's: `running` while judging (GitLab
/// refuses `pending` → `success` on some versions), `success`, `failed`,
/// `canceled` for a superseded candidate. `name` is the status's label
/// (`context` is its older alias).
pub(super) async fn set_status(
    api: &Api,
    repo: &ForgeRepo,
    status: &CommitStatus<'_>,
) -> Result<(), ForgeError> {
    let url = api.endpoint(&["projects", &project(repo), "statuses", status.sha]);
    let state = match status.state {
        CommitState::Pending => "running",
        CommitState::Success => "success",
        CommitState::Failure => "failed",
        CommitState::Superseded => "canceled",
    };
    let body = GitlabStatus {
        state,
        name: status.context,
        target_url: status.target_url,
        description: status.description,
    };
    let _: serde::de::IgnoredAny = api.post(url, &body).await?;
    Ok(())
}

#[derive(Serialize)]
struct GitlabStatus<'a> {
    state: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_url: Option<&'a str>,
    description: &'a str,
}

/// 400 "Cannot transition status via :run from :running": the status
/// already has this state (a re-run of the hook), which is what was wanted.
pub(super) fn same_state(e: &ForgeError) -> bool {
    matches!(&e.kind, ForgeErrorKind::Status { status: 400, message } if message.contains("Cannot transition status"))
}
