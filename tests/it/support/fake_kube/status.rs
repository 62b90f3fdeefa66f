//! The `Status` bodies kube-apiserver answers errors with, built as its
//! `k8s.io/apimachinery/pkg/api/errors` constructors build them, so
//! `kube::Error::Api` carries the reason and code a cluster would send.

use serde_json::{Value, json};

use super::api::Target;
use super::events::Cause;
use super::http::Response;

/// `plural.group`, as the real server names a resource in messages.
pub(super) fn qualified(t: &Target) -> String {
    if t.group.is_empty() {
        t.plural.clone()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

pub(super) fn status_body(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

pub(super) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    json_response(code, &status_body(code, reason, message, details))
}

pub(super) fn json_response(code: u16, v: &Value) -> Response {
    Response {
        status: code,
        headers: Vec::new(),
        body: serde_json::to_vec(v).expect("JSON value serialises"),
    }
}

/// The real server's generic 404 for a path it has no handler for.
pub(super) fn no_route() -> Response {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

pub(super) fn not_allowed(detail: &str) -> Response {
    let msg = "the server does not allow this method on the requested resource";
    let msg = if detail.is_empty() {
        msg.to_string()
    } else {
        format!("{msg} ({detail})")
    };
    status(405, "MethodNotAllowed", &msg, Some(json!({})))
}

pub(super) fn details(t: &Target, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        d["group"] = json!(t.group);
    }
    d
}

pub(super) fn not_found(t: &Target, name: &str) -> Response {
    let msg = format!("{} \"{name}\" not found", qualified(t));
    status(404, "NotFound", &msg, Some(details(t, name)))
}

pub(super) fn bad_request(msg: &str) -> Response {
    status(400, "BadRequest", msg, None)
}

/// 422 as `errors.NewInvalid` builds it: `Kind.group "name" is invalid: …`.
pub(super) fn invalid(t: &Target, kind: &str, name: &str, causes: &[Cause]) -> Response {
    let all: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let joined = if all.len() == 1 {
        all[0].clone()
    } else {
        format!("[{}]", all.join(", "))
    };
    let gk = if t.group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{}", t.group)
    };
    let causes: Vec<Value> = causes
        .iter()
        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect();
    let mut d = json!({"name": name, "kind": kind, "causes": causes});
    if !t.group.is_empty() {
        d["group"] = json!(t.group);
    }
    status(
        422,
        "Invalid",
        &format!("{gk} \"{name}\" is invalid: {joined}"),
        Some(d),
    )
}

/// What an injected fault answers: the Status the real server (or its
/// priority-and-fairness filter) sends with that code.
pub(super) fn fault(code: u16, path: &str) -> Response {
    let (reason, message) = match code {
        409 => ("Conflict", "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again".to_string()),
        429 => ("TooManyRequests", "too many requests, please try again later".into()),
        500 => ("InternalError", format!("Internal error occurred: injected fault on {path}")),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request".into()),
        504 => ("Timeout", "the server was unable to return a response in the time allotted".into()),
        _ => ("", format!("injected fault {code} on {path}")),
    };
    let mut resp = if code == 429 {
        status(
            code,
            reason,
            &message,
            Some(json!({"retryAfterSeconds": 1})),
        )
    } else {
        status(code, reason, &message, None)
    };
    if code == 429 {
        resp.headers.push(("Retry-After".into(), "1".into()));
    }
    resp
}
