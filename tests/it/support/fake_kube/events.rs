//! kube-apiserver's validation of events.k8s.io/v1 Events
//! (`pkg/apis/core/validation/events.go`: `ValidateEventCreate` and
//! `ValidateEventUpdate` for a request in events.k8s.io/v1), so a hook that
//! forgets `reportingInstance` fails here as it would in a cluster.
//!
//! The real server validates the internal `core.Event`, so its field paths
//! use the internal names: `involvedObject` for `regarding`, `message` for
//! `note`. This fake reports the same paths.

use serde_json::Value;

/// One `StatusCause` of a 422 answer.
pub(super) struct Cause {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

pub(super) fn required(field: &str, detail: &str) -> Cause {
    let mut message = "Required value".to_string();
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(detail);
    }
    Cause {
        reason: "FieldValueRequired",
        field: field.into(),
        message,
    }
}

pub(super) fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("Invalid value: {value}: {detail}"),
    }
}

const LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

fn text<'a>(ev: &'a Value, ptr: &str) -> &'a str {
    ev.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn set(ev: &Value, ptr: &str) -> bool {
    ev.pointer(ptr).is_some_and(|v| !v.is_null())
}

/// `ValidateEventCreate`: the legacy checks every event passes, then the
/// strict ones for events.k8s.io/v1. `namespace` is the request's.
pub(super) fn validate_create(ev: &Value, namespace: &str) -> Vec<Cause> {
    let mut errs = legacy(ev, namespace);
    errs.extend(validate_name(text(ev, "/metadata/name"), "metadata.name"));
    errs.extend(series(ev));
    if !set(ev, "/eventTime") {
        errs.push(required("eventTime", ""));
    }
    let ty = text(ev, "/type");
    if ty != "Normal" && ty != "Warning" {
        errs.push(invalid(
            "type",
            &Value::from(""),
            &format!("has invalid value: {ty}"),
        ));
    }
    for (json, internal) in [
        ("/deprecatedFirstTimestamp", "deprecatedFirstTimestamp"),
        ("/deprecatedLastTimestamp", "deprecatedLastTimestamp"),
    ] {
        if set(ev, json) {
            errs.push(invalid(internal, &Value::from(""), "needs to be unset"));
        }
    }
    if ev
        .pointer("/deprecatedCount")
        .and_then(Value::as_i64)
        .is_some_and(|c| c != 0)
    {
        errs.push(invalid(
            "deprecatedCount",
            &Value::from(""),
            "needs to be unset",
        ));
    }
    if !text(ev, "/deprecatedSource/component").is_empty()
        || !text(ev, "/deprecatedSource/host").is_empty()
    {
        errs.push(invalid(
            "deprecatedSource",
            &Value::from(""),
            "needs to be unset",
        ));
    }
    errs
}

/// `ValidateEventUpdate`: legacy checks, the series when it changed, and the
/// fields an event may never change (a series update touches only `series`).
pub(super) fn validate_update(new: &Value, old: &Value, namespace: &str) -> Vec<Cause> {
    let mut errs = legacy(new, namespace);
    if new.get("series") != old.get("series") {
        errs.extend(series(new));
    }
    for (json, internal) in [
        ("regarding", "involvedObject"),
        ("reason", "reason"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("type", "type"),
        ("eventTime", "eventTime"),
        ("action", "action"),
        ("related", "related"),
        ("reportingController", "reportingController"),
        ("reportingInstance", "reportingInstance"),
    ] {
        if new.get(json) != old.get(json) {
            let value = new.get(json).cloned().unwrap_or(Value::Null);
            errs.push(invalid(internal, &value, "field is immutable"));
        }
    }
    errs
}

/// `legacyValidateEvent` for a request in events.k8s.io/v1.
fn legacy(ev: &Value, namespace: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let regarding_ns = text(ev, "/regarding/namespace");
    if !set(ev, "/eventTime") {
        // An old-style event: its namespace must match the object's.
        let ok = if regarding_ns.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == regarding_ns
        };
        if !ok {
            errs.push(invalid(
                "involvedObject.namespace",
                &Value::from(regarding_ns),
                "does not match event.namespace",
            ));
        }
        return errs;
    }
    if regarding_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
        errs.push(invalid(
            "involvedObject.namespace",
            &Value::from(regarding_ns),
            "does not match event.namespace",
        ));
    }
    let controller = text(ev, "/reportingController");
    if controller.is_empty() {
        errs.push(required("reportingController", ""));
    }
    for msg in qualified_name_errors(controller) {
        errs.push(invalid(
            "reportingController",
            &Value::from(controller),
            &msg,
        ));
    }
    for (json, internal, limit) in [
        ("/reportingInstance", "reportingInstance", LENGTH_LIMIT),
        ("/action", "action", LENGTH_LIMIT),
        ("/reason", "reason", LENGTH_LIMIT),
        ("/note", "message", NOTE_LENGTH_LIMIT),
    ] {
        let v = text(ev, json);
        if v.is_empty() && internal != "message" {
            errs.push(required(internal, ""));
        }
        // Go's len(): bytes, not characters.
        if v.len() > limit {
            errs.push(invalid(
                internal,
                &Value::from(""),
                &format!("can have at most {limit} characters"),
            ));
        }
    }
    errs
}

/// `validateV1EventSeries`.
fn series(ev: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(s) = ev.get("series").filter(|s| !s.is_null()) {
        if s.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            errs.push(invalid(
                "series.count",
                &Value::from(""),
                "should be at least 2",
            ));
        }
        if !set(s, "/lastObservedTime") {
            errs.push(required("series.lastObservedTime", ""));
        }
    }
    errs
}

/// `ValidateObjectMeta`'s name check with `NameIsDNSSubdomain`.
pub(super) fn validate_name(name: &str, field: &str) -> Vec<Cause> {
    if name.is_empty() {
        return vec![required(field, "name or generateName is required")];
    }
    dns1123_subdomain_errors(name)
        .into_iter()
        .map(|msg| invalid(field, &Value::from(name), &msg))
        .collect()
}

fn dns1123_subdomain_errors(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push("must be no more than 253 characters".into());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !v.split('.').all(label_ok) {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    errs
}

/// `IsQualifiedName`: an optional DNS-subdomain prefix and `/`, then a name
/// of at most 63 alphanumerics, `-`, `_` or `.`, alphanumeric at both ends.
fn qualified_name_errors(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match v.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            name
        }
        None => v,
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".into());
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok {
        errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    errs
}
