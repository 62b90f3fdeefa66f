//! The Experiment CRD as the API server judges it: only formats Kubernetes
//! knows (anything else is a warning per field since 1.34), a structural
//! schema (required by apiextensions.k8s.io/v1), and printer columns that
//! name real fields. Each check is also shown to catch a broken CRD.

use serde_json::{Value, json};

use super::{kit, yaml_file};

/// Formats Kubernetes validates (apiextensions-apiserver
/// `pkg/apiserver/validation/formats.go`); integers take only the first two.
const KNOWN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "date",
    "date-time",
    "datetime",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "bsonobjectid",
];

const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

/// Keywords apiextensions/v1 rejects in a CRD schema.
const FORBIDDEN: &[&str] = &[
    "$ref",
    "$schema",
    "id",
    "definitions",
    "dependencies",
    "patternProperties",
    "additionalItems",
];

/// Every problem in `schema` at `path`, as "path: what".
fn problems(schema: &Value, path: &str, out: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    let free = schema["x-kubernetes-int-or-string"] == true
        || schema["x-kubernetes-preserve-unknown-fields"] == true;
    if !TYPES.contains(&ty) && !free {
        out.push(format!(
            "{path}: type {} is not a structural type",
            schema["type"]
        ));
    }
    if let Some(format) = schema.get("format") {
        let format = format.as_str().unwrap_or("");
        if !KNOWN_FORMATS.contains(&format) {
            out.push(format!("{path}: format {format} is unknown to Kubernetes"));
        } else if ty == "integer" && !["int32", "int64"].contains(&format) {
            out.push(format!("{path}: integer format {format}"));
        }
    }
    for key in FORBIDDEN {
        if schema.get(key).is_some() {
            out.push(format!("{path}: {key} is not allowed"));
        }
    }
    if schema["uniqueItems"] == true {
        out.push(format!("{path}: uniqueItems true is not allowed"));
    }
    if schema.get("properties").is_some() && ty != "object" {
        out.push(format!("{path}: properties on a {ty}"));
    }
    if schema.get("properties").is_some() && schema.get("additionalProperties").is_some() {
        out.push(format!("{path}: both properties and additionalProperties"));
    }
    match (ty, schema.get("items")) {
        ("array", Some(items)) if items.is_object() => problems(items, &format!("{path}[]"), out),
        ("array", _) => out.push(format!("{path}: an array needs one items schema")),
        (_, Some(_)) => out.push(format!("{path}: items on a {ty}")),
        _ => {}
    }
    for (name, child) in schema["properties"].as_object().into_iter().flatten() {
        problems(child, &format!("{path}.{name}"), out);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        problems(extra, &format!("{path}.*"), out);
    }
    // Junctors may only restrict values already declared outside them.
    let junctors = ["allOf", "anyOf", "oneOf"]
        .iter()
        .flat_map(|k| schema[*k].as_array().into_iter().flatten())
        .chain(schema.get("not"));
    for j in junctors {
        for key in [
            "type",
            "description",
            "default",
            "nullable",
            "additionalProperties",
        ] {
            if j.get(key).is_some() {
                out.push(format!("{path}: {key} inside a logical junctor"));
            }
        }
    }
}

fn schema_problems(crd: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for version in crd["spec"]["versions"].as_array().unwrap() {
        let schema = &version["schema"]["openAPIV3Schema"];
        assert!(schema.is_object(), "version without a schema");
        problems(schema, "", &mut out);
    }
    out
}

/// The schema node a printer column's `.a.b` path reaches, if any; fields of
/// `metadata` are Kubernetes' own and not in the schema.
fn column_problems(crd: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for version in crd["spec"]["versions"].as_array().unwrap() {
        let schema = &version["schema"]["openAPIV3Schema"];
        for col in version["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = col["jsonPath"].as_str().unwrap_or("");
            let want = col["type"].as_str().unwrap_or("");
            if path == ".metadata.creationTimestamp" {
                if want != "date" {
                    out.push(format!("{path}: a timestamp shown as {want}"));
                }
                continue;
            }
            let node = path
                .strip_prefix('.')
                .and_then(|p| column_node(schema, p, &mut out));
            match node {
                None => out.push(format!("{path}: no such field in the schema")),
                Some(node) => {
                    let ty = node["type"].as_str().unwrap_or("");
                    let fits = match want {
                        "date" => ty == "string",
                        "string" | "integer" | "number" | "boolean" => ty == want,
                        _ => false,
                    };
                    if !fits {
                        out.push(format!("{path}: column type {want} over a {ty} field"));
                    }
                }
            }
        }
    }
    out
}

/// The schema node of a printer column's path: `.a.b` fields, and a list
/// of conditions filtered as `list[?(@.type=="X")]`, whose `type` enum must
/// hold X.
fn column_node<'a>(schema: &'a Value, path: &str, out: &mut Vec<String>) -> Option<&'a Value> {
    let mut node = schema;
    let mut rest = path;
    while !rest.is_empty() {
        let (part, tail) = match rest.find(['.', '[']) {
            Some(0) => (&rest[..0], rest),
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !part.is_empty() {
            node = node["properties"].get(part)?;
        }
        rest = if let Some(filter) = tail.strip_prefix("[?(@.type==\"") {
            let (wanted, after) = filter.split_once("\")]")?;
            node = node.get("items")?;
            let kinds = node["properties"]["type"]["enum"].as_array()?;
            if !kinds.iter().any(|k| k == wanted) {
                out.push(format!(".{path}: no condition type {wanted}"));
            }
            after.strip_prefix('.').unwrap_or(after)
        } else if tail.starts_with('[') {
            // Any other index or filter: not a path this test reads.
            return None;
        } else {
            tail.strip_prefix('.').unwrap_or(tail)
        };
    }
    Some(node)
}

#[test]
fn crd_schema_is_structural_with_known_formats() {
    let crd = yaml_file(&kit("crd.yaml"));
    assert_eq!(schema_problems(&crd), Vec::<String>::new());
    // A field schemars would describe as uint64 or uint32 is caught.
    let mut broken = crd.clone();
    let spec =
        &mut broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    spec["properties"]["minRequests"]["format"] = json!("uint64");
    spec["properties"]["window"]["properties"]["warmupSeconds"]["format"] = json!("uint32");
    spec["properties"]["release"]["format"] = json!("semver");
    spec["properties"]["id"]["type"] = Value::Null;
    spec["properties"]["metrics"]["items"] = json!([{"type": "string"}]);
    assert_eq!(
        schema_problems(&broken),
        [
            ".spec.id: type null is not a structural type",
            ".spec.metrics: an array needs one items schema",
            ".spec.minRequests: format uint64 is unknown to Kubernetes",
            ".spec.release: format semver is unknown to Kubernetes",
            ".spec.window.warmupSeconds: format uint32 is unknown to Kubernetes",
        ]
    );
}

#[test]
fn crd_printer_columns_point_at_real_fields() {
    let crd = yaml_file(&kit("crd.yaml"));
    let columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap();
    assert!(columns.len() >= 3, "{columns:?}");
    assert_eq!(column_problems(&crd), Vec::<String>::new());
    let mut broken = crd.clone();
    let cols = &mut broken["spec"]["versions"][0]["additionalPrinterColumns"];
    cols[0]["jsonPath"] = json!(".status.phaze");
    cols[1]["type"] = json!("integer");
    cols[2]["jsonPath"] = json!(".status.conditions[?(@.type==\"Judgd\")].reason");
    cols[3]["jsonPath"] = json!(".status.conditions[?(@.type==\"Delivered\")].raeson");
    assert_eq!(
        column_problems(&broken),
        [
            ".status.phaze: no such field in the schema",
            ".status.verdict: column type integer over a string field",
            ".status.conditions[?(@.type==\"Judgd\")].reason: no condition type Judgd",
            ".status.conditions[?(@.type==\"Delivered\")].raeson: no such field in the schema",
        ]
    );
}
