//! The API side of the fake: routing like kube-apiserver's `RequestInfo`,
//! the object store, and the answers (objects and `Status` bodies) a real
//! server gives for get, list, create and patch.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::events;
use super::http::{Request, Response};
use super::patch::{self, JsonPatchError};
use super::status::{
    bad_request, details, fault, invalid, json_response, no_route, not_allowed, not_found,
    qualified, status,
};
use super::{Recorded, TOKEN};

/// A resource type the fake serves.
pub(super) struct ResourceType {
    pub kind: String,
    /// Built-in types take strategic merge patches; custom resources don't.
    pub builtin: bool,
    /// Has a `/status` subresource (so the main resource ignores `.status`).
    pub status: bool,
}

/// (apiVersion, plural, namespace, name).
pub(super) type Key = (String, String, String, String);

pub(super) struct Fault {
    pub method: String,
    pub suffix: String,
    pub status: u16,
}

pub(super) struct State {
    pub objects: BTreeMap<Key, Value>,
    /// Keyed by (apiVersion, plural).
    pub types: BTreeMap<(String, String), ResourceType>,
    pub requests: Vec<Recorded>,
    pub faults: Vec<Fault>,
    /// Source of resourceVersions, uids and generated names.
    counter: u64,
}

/// The resources `assay promote` touches, served from the start like a
/// cluster with the assay CRD installed.
const BUILTIN: &[(&str, &str, &str, bool, bool)] = &[
    (
        "assay.dev/v1alpha1",
        "experiments",
        "Experiment",
        false,
        true,
    ),
    ("batch/v1", "jobs", "Job", true, true),
    ("apps/v1", "deployments", "Deployment", true, true),
    ("events.k8s.io/v1", "events", "Event", true, false),
];

/// Where a request points, as kube-apiserver's `RequestInfoFactory` splits it.
pub(super) struct Target {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `None` for non-resource paths (`/version`, `/apis`, discovery).
pub(super) fn parse_target(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let mut namespace = None;
    if let ["namespaces", ns, more @ ..] = rest {
        namespace = Some(ns.to_string());
        // `namespaces/{ns}/status` and `/finalize` are the namespace's own.
        if !more.is_empty() && !matches!(more[0], "status" | "finalize") {
            rest = more;
        }
    }
    if rest.is_empty() || rest.iter().take(3).any(|p| p.is_empty()) {
        return None;
    }
    Some(Target {
        group: group.into(),
        version: version.into(),
        namespace,
        plural: rest[0].into(),
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

/// Default plural for a kind, as `kubectl` guesses one.
pub(super) fn plural_of(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with('s') || k.ends_with("ch") || k.ends_with("sh") || k.ends_with('x') {
        format!("{k}es")
    } else if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl State {
    pub fn new() -> State {
        let mut types = BTreeMap::new();
        for (av, plural, kind, builtin, status) in BUILTIN {
            types.insert(
                (av.to_string(), plural.to_string()),
                ResourceType {
                    kind: kind.to_string(),
                    builtin: *builtin,
                    status: *status,
                },
            );
        }
        State {
            objects: BTreeMap::new(),
            types,
            requests: Vec::new(),
            faults: Vec::new(),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Sets (`Some`) or removes (`None`) one annotation of a stored
    /// object, with a new resourceVersion, as a metadata patch would
    /// (`kubectl annotate`, an Argo CD resource action); nothing else of the
    /// object changes. False when there is no such object.
    pub fn annotate(&mut self, key: &Key, annotation: &str, value: Option<&str>) -> bool {
        let rv = self.next_rv();
        let Some(obj) = self.objects.get_mut(key) else {
            return false;
        };
        let meta = &mut obj["metadata"];
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        let map = meta["annotations"].as_object_mut().expect("an object");
        match value {
            Some(v) => map.insert(annotation.to_string(), json!(v)),
            None => map.remove(annotation),
        };
        meta["resourceVersion"] = json!(rv);
        true
    }

    fn next_rv(&mut self) -> String {
        (1000 + self.next()).to_string()
    }

    /// The system fields the server sets on create, where missing.
    fn fill_system_fields(&mut self, obj: &mut Value) {
        let rv = self.next_rv();
        let uid = format!("fa4e0000-0000-4000-8000-{:012x}", self.next());
        let m = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
        m.entry("resourceVersion").or_insert(json!(rv));
        m.entry("uid").or_insert(json!(uid));
        m.entry("creationTimestamp")
            .or_insert(json!(super::rfc3339_now()));
        m.entry("generation").or_insert(json!(1));
    }

    /// Preload: registers unknown kinds as custom resources with a status
    /// subresource, and defaults the namespace to `default`.
    pub fn put(&mut self, mut obj: Value) -> Value {
        let av = obj["apiVersion"]
            .as_str()
            .expect("object has apiVersion")
            .to_string();
        let kind = obj["kind"].as_str().expect("object has kind").to_string();
        let plural = self
            .types
            .iter()
            .find(|((a, _), t)| *a == av && t.kind == kind)
            .map(|((_, p), _)| p.clone())
            .unwrap_or_else(|| plural_of(&kind));
        self.types
            .entry((av.clone(), plural.clone()))
            .or_insert(ResourceType {
                kind,
                builtin: false,
                status: true,
            });
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let name = meta_str(&obj, "name").to_string();
        assert!(!name.is_empty(), "object has metadata.name: {obj}");
        if meta_str(&obj, "namespace").is_empty() {
            obj["metadata"]["namespace"] = json!("default");
        }
        let ns = meta_str(&obj, "namespace").to_string();
        self.fill_system_fields(&mut obj);
        self.objects.insert((av, plural, ns, name), obj.clone());
        obj
    }

    /// Answers one request (authentication, injected faults, then the API).
    pub fn respond(&mut self, req: &Request) -> Response {
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return status(401, "Unauthorized", "Unauthorized", None);
        }
        if let Some(i) = self.faults.iter().position(|f| {
            f.method.eq_ignore_ascii_case(&req.method) && req.path.ends_with(&f.suffix)
        }) {
            let f = self.faults.remove(i);
            return fault(f.status, &req.path);
        }
        if req.path == "/version" && req.method == "GET" {
            return json_response(
                200,
                &json!({
                    "major": "1", "minor": "33", "gitVersion": "v1.33.2-fake",
                    "platform": "linux/amd64",
                }),
            );
        }
        let Some(t) = parse_target(&req.path) else {
            return no_route();
        };
        let av = t.api_version();
        let Some(ty) = self.types.get(&(av.clone(), t.plural.clone())) else {
            return no_route();
        };
        let (kind, builtin, has_status) = (ty.kind.clone(), ty.builtin, ty.status);
        let watch = super::query_flag(&req.query, "watch");
        let m = req.method.as_str();
        match (&t.namespace, &t.name, t.sub.as_deref()) {
            (None, None, _) if m == "GET" && !watch => self.list(&av, &t, &kind, None),
            (Some(ns), None, _) if m == "GET" && !watch => self.list(&av, &t, &kind, Some(ns)),
            (_, None, _) if m == "GET" => not_allowed("the fake does not implement watch"),
            (None, _, _) => no_route(),
            (Some(ns), None, _) if m == "POST" => self.create(&av, &t, &kind, has_status, ns, req),
            (Some(_), None, _) => not_allowed(""),
            (Some(_), Some(_), Some(s)) if s != "status" || !has_status => no_route(),
            (Some(ns), Some(name), _) => {
                let key = (av.clone(), t.plural.clone(), ns.clone(), name.clone());
                match m {
                    "GET" => match self.objects.get(&key) {
                        Some(o) => json_response(200, o),
                        None => not_found(&t, name),
                    },
                    "PATCH" => self.patch(&t, key, &kind, builtin, has_status, req),
                    _ => not_allowed("the fake implements get and patch on objects"),
                }
            }
        }
    }

    fn list(&self, av: &str, t: &Target, kind: &str, ns: Option<&String>) -> Response {
        let items: Vec<&Value> = self
            .objects
            .iter()
            .filter(|((a, p, n, _), _)| a == av && *p == t.plural && ns.is_none_or(|ns| ns == n))
            .map(|(_, o)| o)
            .collect();
        let rv = self.counter + 1000;
        json_response(
            200,
            &json!({
                "kind": format!("{kind}List"), "apiVersion": av,
                "metadata": {"resourceVersion": rv.to_string()}, "items": items,
            }),
        )
    }

    fn create(
        &mut self,
        av: &str,
        t: &Target,
        kind: &str,
        has_status: bool,
        ns: &str,
        req: &Request,
    ) -> Response {
        let mut obj: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return bad_request("the body of the request is not a JSON object"),
            Err(e) => return bad_request(&format!("error decoding request body: {e}")),
        };
        // The decoder fills a missing apiVersion/kind from the URL.
        for (field, want) in [("apiVersion", av), ("kind", kind)] {
            match obj.get(field).and_then(Value::as_str) {
                None | Some("") => obj[field] = json!(want),
                Some(got) if got != want => {
                    return bad_request(&format!(
                        "the {field} in the data ({got}) does not match the expected {field} ({want})"
                    ));
                }
                Some(_) => {}
            }
        }
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        match meta_str(&obj, "namespace") {
            "" => obj["metadata"]["namespace"] = json!(ns),
            n if n != ns => {
                return bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                );
            }
            _ => {}
        }
        if !meta_str(&obj, "resourceVersion").is_empty() {
            return bad_request("resourceVersion should not be set on objects to be created");
        }
        let gen_prefix = meta_str(&obj, "generateName").to_string();
        if meta_str(&obj, "name").is_empty() && !gen_prefix.is_empty() {
            let name = loop {
                let candidate = format!("{gen_prefix}{}", self.random_suffix());
                let key = (av.into(), t.plural.clone(), ns.into(), candidate.clone());
                if !self.objects.contains_key(&key) {
                    break candidate;
                }
            };
            obj["metadata"]["name"] = json!(name);
        }
        let name = meta_str(&obj, "name").to_string();
        let causes = if kind == "Event" && av == "events.k8s.io/v1" {
            events::validate_create(&obj, ns)
        } else {
            events::validate_name(&name, "metadata.name")
        };
        if !causes.is_empty() {
            return invalid(t, kind, &name, &causes);
        }
        let key = (
            av.to_string(),
            t.plural.clone(),
            ns.to_string(),
            name.clone(),
        );
        if self.objects.contains_key(&key) {
            let msg = format!("{} \"{name}\" already exists", qualified(t));
            return status(409, "AlreadyExists", &msg, Some(details(t, &name)));
        }
        if has_status && let Some(m) = obj.as_object_mut() {
            // Create ignores status where a status subresource owns it.
            m.remove("status");
        }
        for f in ["uid", "creationTimestamp", "generation"] {
            obj["metadata"].as_object_mut().expect("object").remove(f);
        }
        self.fill_system_fields(&mut obj);
        self.objects.insert(key, obj.clone());
        json_response(201, &obj)
    }

    /// Five characters from the alphabet `generateName` uses.
    fn random_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.next().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
        (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    fn patch(
        &mut self,
        t: &Target,
        key: Key,
        kind: &str,
        builtin: bool,
        has_status: bool,
        req: &Request,
    ) -> Response {
        let ct = req.header("content-type").unwrap_or("");
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
        match ct.as_str() {
            "application/merge-patch+json" | "application/json-patch+json" => {}
            "application/apply-patch+yaml" => {
                if super::query_value(&req.query, "fieldManager").is_none_or(|f| f.is_empty()) {
                    let c = events::required("fieldManager", "is required for apply patch");
                    return status(
                        422,
                        "Invalid",
                        &format!(
                            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: {}",
                            c.message
                        ),
                        Some(json!({"group": "meta.k8s.io", "kind": "PatchOptions",
                            "causes": [{"reason": c.reason, "message": c.message, "field": c.field}]})),
                    );
                }
                return status(
                    415,
                    "UnsupportedMediaType",
                    "fake kube-apiserver: server-side apply is not implemented (use a merge patch)",
                    None,
                );
            }
            "application/strategic-merge-patch+json" if builtin => {
                return status(
                    415,
                    "UnsupportedMediaType",
                    "fake kube-apiserver: strategic merge patch is not implemented (use a merge patch)",
                    None,
                );
            }
            _ => {
                let msg = format!(
                    "the body of the request was in an unknown format - accepted media types include: {accepted}"
                );
                return status(415, "UnsupportedMediaType", &msg, None);
            }
        }
        let name = key.3.clone();
        let Some(old) = self.objects.get(&key).cloned() else {
            return not_found(t, &name);
        };
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad_request(&format!("error decoding patch: {e}")),
        };
        let mut new = if ct == "application/merge-patch+json" {
            let mut new = old.clone();
            patch::merge(&mut new, &body);
            new
        } else {
            match patch::json_patch(&old, &body) {
                Ok(v) => v,
                Err(JsonPatchError::Malformed(m)) => return bad_request(&m),
                Err(JsonPatchError::Failed(m)) => {
                    return status(422, "Invalid", &m, None);
                }
            }
        };
        // A resourceVersion in the patch is a precondition.
        let rv = meta_str(&old, "resourceVersion").to_string();
        if new.pointer("/metadata/resourceVersion").is_some()
            && meta_str(&new, "resourceVersion") != rv
        {
            let msg = format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(t)
            );
            return status(409, "Conflict", &msg, Some(details(t, &name)));
        }
        for f in ["name", "namespace", "uid"] {
            if meta_str(&new, f) != meta_str(&old, f) {
                let c = events::invalid(
                    &format!("metadata.{f}"),
                    &json!(meta_str(&new, f)),
                    "field is immutable",
                );
                return invalid(t, kind, &name, &[c]);
            }
        }
        new["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
        new["metadata"]["resourceVersion"] = json!(rv);
        if t.sub.is_some() {
            // The status subresource takes `.status` and nothing else.
            let mut only_status = old.clone();
            match new.get("status") {
                Some(s) => only_status["status"] = s.clone(),
                None => {
                    only_status
                        .as_object_mut()
                        .expect("object")
                        .remove("status");
                }
            }
            new = only_status;
        } else {
            if has_status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().expect("object").remove("status");
                    }
                }
            }
            let strip = |o: &Value| {
                let mut o = o.clone();
                let m = o.as_object_mut().expect("object");
                m.remove("metadata");
                m.remove("status");
                o
            };
            if strip(&new) != strip(&old) {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        if kind == "Event" && key.0 == "events.k8s.io/v1" {
            let causes = events::validate_update(&new, &old, &key.2);
            if !causes.is_empty() {
                return invalid(t, kind, &name, &causes);
            }
        }
        if new != old {
            new["metadata"]["resourceVersion"] = json!(self.next_rv());
            self.objects.insert(key, new.clone());
        }
        json_response(200, &new)
    }
}
