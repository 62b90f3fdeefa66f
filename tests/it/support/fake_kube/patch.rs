//! The two patch formats kube-apiserver applies to custom resources:
//! RFC 7386 merge patch and RFC 6902 JSON patch. Strategic merge patch needs
//! Go struct tags a custom resource does not have, so the real server (and
//! this fake) refuses it there.

use serde_json::{Map, Value};

/// RFC 7386: objects merge key by key, `null` deletes, anything else replaces.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("just made an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Why a JSON patch was not applied: the real server answers 400 to a patch
/// it cannot decode and 422 to one that does not apply.
pub(super) enum JsonPatchError {
    Malformed(String),
    Failed(String),
}

/// RFC 6902 on a copy of `doc`: all operations apply, or none.
pub(super) fn json_patch(doc: &Value, ops: &Value) -> Result<Value, JsonPatchError> {
    use JsonPatchError::{Failed, Malformed};
    let ops = ops
        .as_array()
        .ok_or_else(|| Malformed("a JSON patch is an array of operations".into()))?;
    let mut doc = doc.clone();
    for op in ops {
        let field = |name: &str| {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| Malformed(format!("operation lacks string field {name:?}: {op}")))
        };
        let path = pointer(field("path")?)?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| Malformed(format!("operation lacks \"value\": {op}")))
        };
        match field("op")? {
            "add" => add(&mut doc, &path, value()?)?,
            "remove" => {
                remove(&mut doc, &path)?;
            }
            "replace" => {
                remove(&mut doc, &path)?;
                add(&mut doc, &path, value()?)?;
            }
            "move" => {
                let v = remove(&mut doc, &pointer(field("from")?)?)?;
                add(&mut doc, &path, v)?;
            }
            "copy" => {
                let v = get(&doc, &pointer(field("from")?)?)?.clone();
                add(&mut doc, &path, v)?;
            }
            "test" => {
                if *get(&doc, &path)? != value()? {
                    return Err(Failed(format!(
                        "testing value {} failed: test failed",
                        field("path")?
                    )));
                }
            }
            other => return Err(Malformed(format!("unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

/// RFC 6901 reference tokens, unescaped.
fn pointer(p: &str) -> Result<Vec<String>, JsonPatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(JsonPatchError::Malformed(format!(
            "JSON pointer must start with '/': {p:?}"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn missing(tokens: &[String]) -> JsonPatchError {
    JsonPatchError::Failed(format!("doc is missing path: /{}", tokens.join("/")))
}

fn index(tokens: &[String], token: &str, len: usize) -> Result<usize, JsonPatchError> {
    match token.parse::<usize>() {
        Ok(i) if i < len && (token == "0" || !token.starts_with('0')) => Ok(i),
        _ => Err(missing(tokens)),
    }
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Result<&'a Value, JsonPatchError> {
    let mut at = doc;
    for t in tokens {
        at = match at {
            Value::Object(m) => m.get(t),
            Value::Array(a) => a.get(index(tokens, t, a.len())?),
            _ => None,
        }
        .ok_or_else(|| missing(tokens))?;
    }
    Ok(at)
}

fn parent<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, JsonPatchError> {
    let mut at = doc;
    for t in &tokens[..tokens.len() - 1] {
        at = match at {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => {
                let i = index(tokens, t, a.len())?;
                a.get_mut(i)
            }
            _ => None,
        }
        .ok_or_else(|| missing(tokens))?;
    }
    Ok(at)
}

fn add(doc: &mut Value, tokens: &[String], v: Value) -> Result<(), JsonPatchError> {
    let Some(last) = tokens.last() else {
        *doc = v;
        return Ok(());
    };
    match parent(doc, tokens)? {
        Value::Object(m) => {
            m.insert(last.clone(), v);
        }
        Value::Array(a) if last == "-" => a.push(v),
        Value::Array(a) => {
            let i = index(tokens, last, a.len() + 1)?;
            a.insert(i, v);
        }
        _ => return Err(missing(tokens)),
    }
    Ok(())
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, JsonPatchError> {
    let Some(last) = tokens.last() else {
        return Ok(std::mem::take(doc));
    };
    match parent(doc, tokens)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(tokens)),
        Value::Array(a) => {
            let i = index(tokens, last, a.len())?;
            Ok(a.remove(i))
        }
        _ => Err(missing(tokens)),
    }
}
