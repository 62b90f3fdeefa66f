//! What Argo CD makes of a command's stdout: the YAML-or-JSON manifest stream
//! with its per-document checks and List flattening (ARGOCD.md §2.3), and
//! parameter announcements (§1.3).

use std::fmt;

use serde_json::Value;

use super::{CmpError, output_err};

/// §1.3: stdout must be a JSON array of ParameterAnnouncement objects.
pub(super) fn parse_announcements(stdout: &str) -> Result<Vec<Value>, CmpError> {
    let value: Value = serde_json::from_str(stdout)
        .map_err(|e| output_err(format!("error unmarshaling parameters announcement: {e}")))?;
    let Value::Array(items) = value else {
        return Err(output_err(format!(
            "parameters announcement is not a JSON array: {stdout}"
        )));
    };
    let strings =
        |v: &Value, keys: &[&str]| keys.iter().all(|k| v[k].is_null() || v[k].is_string());
    let keys = [
        "name",
        "title",
        "tooltip",
        "itemType",
        "collectionType",
        "string",
    ];
    if let Some(bad) = items.iter().find(|i| !i.is_object() || !strings(i, &keys)) {
        return Err(output_err(format!("not a ParameterAnnouncement: {bad}")));
    }
    Ok(items)
}

/// §2.3: YAMLOrJSONDecoder, then Argo CD's per-document checks and List flattening.
pub(super) fn split_manifests(stdout: &str) -> Result<Vec<Value>, CmpError> {
    let unmarshal = |e: &dyn fmt::Display| output_err(format!("failed to unmarshal manifest: {e}"));
    let mut docs = vec![];
    if stdout.trim_start().starts_with('{') {
        for doc in serde_json::Deserializer::from_str(stdout).into_iter::<Value>() {
            docs.push(doc.map_err(|e| unmarshal(&e))?);
        }
    } else {
        for chunk in yaml_chunks(stdout) {
            let parsed = serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&chunk);
            docs.extend(parsed.map_err(|e| unmarshal(&e))?);
        }
    }
    let mut objects = vec![];
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let Value::Object(map) = &doc else {
            let what = if doc.is_array() { "array" } else { "scalar" };
            let go_type = "Go value of type map[string]interface {}";
            return Err(output_err(format!(
                "json: cannot unmarshal {what} into {go_type}: {doc}"
            )));
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        match (&doc["items"], kind.ends_with("List")) {
            (Value::Array(items), true) => {
                for item in items {
                    let mut item = item.clone();
                    if item.is_object() && item["apiVersion"].is_null() && item["kind"].is_null() {
                        // unstructured's decodeToList: typed list items inherit the type.
                        item["kind"] = kind.trim_end_matches("List").into();
                        item["apiVersion"] = doc["apiVersion"].clone();
                    }
                    objects.push(require_kind(item)?);
                }
            }
            (Value::Null, true) if map.contains_key("items") => {}
            _ => objects.push(require_kind(doc)?),
        }
    }
    Ok(objects)
}

fn require_kind(v: Value) -> Result<Value, CmpError> {
    match v["kind"].as_str().is_some_and(|k| !k.is_empty()) {
        true => Ok(v),
        false => Err(output_err(format!("Object 'Kind' is missing in '{v}'"))),
    }
}

/// k8s YAMLReader: a line `---` followed by nothing or a comment ends a document.
fn yaml_chunks(s: &str) -> Vec<String> {
    let mut chunks = vec![String::new()];
    for line in s.split_inclusive('\n') {
        let rest = line.strip_prefix("---").map(str::trim);
        if rest.is_some_and(|r| r.is_empty() || r.starts_with('#')) {
            chunks.push(String::new());
        } else {
            chunks.last_mut().unwrap().push_str(line);
        }
    }
    chunks.retain(|c| !c.trim().is_empty());
    chunks
}

// Behaviours ARGOCD.md pins, checked without `assay`.
#[cfg(test)]
mod tests {
    use super::split_manifests;

    #[test]
    fn split_follows_yaml_or_json_decoder() {
        let kinds = |s: &str| {
            let kind = |o: &serde_json::Value| o["kind"].as_str().unwrap_or_default().to_string();
            split_manifests(s).map(|v| v.iter().map(kind).collect::<Vec<_>>())
        };
        assert_eq!(
            kinds("---\nkind: A\n--- # c\n\n---\nnull\n---\nkind: B").unwrap(),
            ["A", "B"]
        );
        assert_eq!(
            kinds("{\"kind\":\"A\"}\n{\"kind\":\"B\"}").unwrap(),
            ["A", "B"]
        );
        assert_eq!(
            kinds("kind: PodList\napiVersion: v1\nitems:\n- metadata: {name: p}\n- kind: C")
                .unwrap(),
            ["Pod", "C"]
        );
        assert!(kinds("").unwrap().is_empty());
        assert!(
            kinds("- kind: A").is_err(),
            "a top-level array is not unpacked"
        );
        let missing = kinds("apiVersion: v1\nmetadata: {name: x}").unwrap_err();
        assert!(
            missing
                .message()
                .starts_with("Object 'Kind' is missing in '"),
            "{missing}"
        );
    }
}
