//! GitHub and GitHub Enterprise Server, REST API version 2022-11-28.
//!
//! - List: `GET /repos/{owner}/{repo}/pulls?head={owner}:{branch}&base={base}&state=open`
//!   (<https://docs.github.com/en/rest/pulls/pulls#list-pull-requests>; `head`
//!   is `user:ref-name` or `organization:ref-name`).
//! - Create: `POST /repos/{owner}/{repo}/pulls` with `{title, head, base, body}`,
//!   201 on success (<https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request>).
//!   An open PR for the same head and base is refused with 422 "Validation
//!   Failed" and `errors[].message` "A pull request already exists for
//!   owner:branch." (`code: custom`).
//! - Headers: `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
//!   `X-GitHub-Api-Version: 2022-11-28`, and a `User-Agent`, without which
//!   GitHub answers 403 (<https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent>).
//! - Fields used: `number`, `html_url`, `head.ref`, `base.ref`.

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::client::{Api, secret_header};
use super::statuses::{CommitState, CommitStatus, NewStatus};
use super::{ForgeError, ForgeErrorKind, ForgeRepo, PullRequest};
use crate::secret::Secret;

pub(super) fn headers(token: &Secret) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, secret_header("Bearer ", token)?);
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    headers.insert(
        HeaderName::from_static("x-github-api-version"),
        HeaderValue::from_static("2022-11-28"),
    );
    Ok(headers)
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
    head: Branch,
    base: Branch,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    name: String,
}

impl From<Pull> for PullRequest {
    fn from(p: Pull) -> PullRequest {
        PullRequest {
            url: p.html_url,
            number: p.number,
        }
    }
}

#[derive(Serialize)]
struct NewPull<'a> {
    title: &'a str,
    head: &'a str,
    base: &'a str,
    body: &'a str,
}

pub(super) async fn find_open(
    api: &Api,
    repo: &ForgeRepo,
    head: &str,
    base: &str,
) -> Result<Option<PullRequest>, ForgeError> {
    let url = api.endpoint(&["repos", &repo.owner, &repo.name, "pulls"]);
    // Qualified with the owner: only branches of this repository, not forks.
    let qualified = format!("{}:{head}", repo.owner);
    let pulls: Vec<Pull> = api
        .get(
            url,
            &[("head", &qualified), ("base", base), ("state", "open")],
        )
        .await?;
    // The server filters; checking again costs nothing.
    Ok(pulls
        .into_iter()
        .find(|p| p.head.name == head && p.base.name == base)
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
    let url = api.endpoint(&["repos", &repo.owner, &repo.name, "pulls"]);
    let pull: Pull = api
        .post(
            url,
            &NewPull {
                title,
                head,
                base,
                body,
            },
        )
        .await?;
    Ok(pull.into())
}

/// 422 is every validation failure (no commits between the branches, a
/// missing branch...); only this message means "reuse the open one".
pub(super) fn already_exists(e: &ForgeError) -> bool {
    matches!(&e.kind, ForgeErrorKind::Status { status: 422, message } if message.contains("pull request already exists"))
}

/// `POST /repos/{owner}/{repo}/statuses/{sha}` with `{state, target_url,
/// description, context}`, 201 on success
/// (<https://docs.github.com/en/rest/commits/statuses#create-a-commit-status>):
/// states `pending`, `success`, `failure`, `error`. Gitea takes the same.
pub(super) async fn set_status(
    api: &Api,
    repo: &ForgeRepo,
    status: &CommitStatus<'_>,
) -> Result<(), ForgeError> {
    let url = api.endpoint(&["repos", &repo.owner, &repo.name, "statuses", status.sha]);
    let state = match status.state {
        CommitState::Pending => "pending",
        CommitState::Success => "success",
        CommitState::Failure => "failure",
        CommitState::Superseded => "error",
    };
    let body = NewStatus::new(state, status);
    let _: serde::de::IgnoredAny = api.post(url, &body).await?;
    Ok(())
}
