//! The kit's Lua (`argocd-cm.yaml`: the health check, the actions' discovery
//! and definitions) run in a real Lua 5.1, Debian's `lua5.1`, with only what
//! Argo CD v3.5.1 opens for a script from argocd-cm (`util/lua/lua.go`,
//! `runLuaWithResourceActionParameters`, `UseOpenLibs` false): the base
//! library (gopher-lua's, so no `coroutine`), `table`, `require` with `os`
//! preloaded as the safe os of `oslib_safe.go` (`time`, `date`); no string
//! library and so no string methods, no `math`, `io` or `debug`. `obj` and
//! `actionParams` are set as Argo CD sets them, and the returned table comes
//! back as JSON the way gopher-json encodes it (an empty table is `[]`).
//!
//! Tool: `$ASSAY_LUA`, else `lua5.1` on `PATH` (`.ci/run` installs Debian's
//! package). Missing, the tests fail with that advice; they never skip.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use super::{ACTIONS_KEY, HEALTH_KEY, kit_argocd_cm, kit_notifications};

fn lua() -> PathBuf {
    if let Some(p) = std::env::var_os("ASSAY_LUA").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("lua5.1"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no `lua5.1`: set ASSAY_LUA or `apt-get install lua5.1`"))
}

/// Runs `script` in the sandbox described in the module docs: `Ok` with
/// what it returned, or `Err` with the error it raised.
fn run(script: &str, obj: &Value, params: &[(&str, &str)]) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("script.lua");
    std::fs::write(&script_path, script).unwrap();
    let params: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let harness = format!(
        "local OBJ = {}\nlocal PARAMS = {}\n{HARNESS}",
        literal(obj),
        literal(&Value::Object(params))
    );
    let harness_path = dir.path().join("harness.lua");
    std::fs::write(&harness_path, harness).unwrap();
    let out = Command::new(lua())
        .arg(&harness_path)
        .arg(&script_path)
        .output()
        .unwrap_or_else(|e| panic!("lua5.1: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lua5.1 failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    match answer.get("error") {
        Some(e) => Err(e.as_str().unwrap().to_string()),
        None => Ok(answer["result"].clone()),
    }
}

/// `v` as a Lua expression, as Argo CD's `decodeValue` builds it (JSON
/// null is nil, so a null field is absent).
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for b in s.bytes() {
                match b {
                    b'"' | b'\\' => out.push_str(&format!("\\{}", b as char)),
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\{b}")),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", literal(&json!(k)), literal(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// Reads the script named by `arg[1]`, runs it with only Argo CD's
/// libraries, and prints `{"result": …}` or `{"error": "…"}`.
const HARNESS: &str = r#"
local sformat, sgsub, sbyte, tconcat, floor = string.format, string.gsub, string.byte, table.concat, math.floor
local f = assert(io.open(arg[1]))
local source = f:read("*a")
f:close()

local function quote(s)
  return '"' .. sgsub(s, '[%c"\\]', function(c) return sformat("\\u%04x", sbyte(c)) end) .. '"'
end
local function encode(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then return sformat("%.17g", v) end
  if t == "string" then return quote(v) end
  if t ~= "table" then error("cannot encode a " .. t) end
  local n, count = 0, 0
  for k in pairs(v) do
    count = count + 1
    if type(k) == "number" and k >= 1 and k == floor(k) and k > n then n = k end
  end
  local parts = {}
  if count == n then
    for i = 1, n do parts[i] = encode(v[i]) end
    return "[" .. tconcat(parts, ",") .. "]"
  end
  for k, x in pairs(v) do parts[#parts + 1] = quote(tostring(k)) .. ":" .. encode(x) end
  return "{" .. tconcat(parts, ",") .. "}"
end

-- gopher-lua's base library (baselib.go), package's require and module.
local env = {}
for _, name in ipairs({
  "assert", "collectgarbage", "dofile", "error", "getfenv", "getmetatable", "load", "loadfile",
  "loadstring", "next", "pcall", "print", "rawequal", "rawget", "rawset", "select", "setfenv",
  "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall", "module", "require",
  "ipairs", "pairs",
}) do
  env[name] = _G[name]
end
env._G = env
env._VERSION = _VERSION
env.table = {
  concat = table.concat, insert = table.insert, maxn = table.maxn,
  remove = table.remove, sort = table.sort, getn = table.getn,
}
env.os = { time = os.time, date = os.date }
-- require finds only what Argo CD loaded: the safe os.
for name in pairs(package.loaded) do
  if name ~= "_G" then package.loaded[name] = nil end
end
package.loaded.os = env.os
package.path, package.cpath = "", ""
-- Strings get methods only from the string library, which is not opened.
getmetatable("").__index = nil
env.obj = OBJ
env.actionParams = PARAMS

local chunk, err = loadstring(source, "=script")
if not chunk then error(err) end
setfenv(chunk, env)
local ok, result = pcall(chunk)
if ok then
  io.write('{"result":' .. encode(result) .. '}')
else
  io.write('{"error":' .. encode(tostring(result)) .. '}')
end
"#;

fn health(obj: &Value) -> Value {
    run(&kit_argocd_cm(HEALTH_KEY), obj, &[]).unwrap_or_else(|e| panic!("health check: {e}"))
}

/// The actions customization: discovery and each definition's script.
struct Actions {
    discovery: String,
    definitions: Vec<(String, String)>,
}

fn actions() -> Actions {
    let text = kit_argocd_cm(ACTIONS_KEY);
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    Actions {
        discovery: v["discovery.lua"].as_str().unwrap().to_string(),
        definitions: v["definitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["action.lua"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
    }
}

fn action(name: &str) -> String {
    actions()
        .definitions
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no action {name}"))
        .1
}

fn experiment(status: Value) -> Value {
    let mut obj = json!({
        "apiVersion": "assay.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "productpage-0a1b2c3d", "namespace": "bookinfo", "generation": 1},
        "spec": {"id": "0a1b2c3d"},
    });
    if !status.is_null() {
        obj["status"] = status;
    }
    obj
}

fn condition(kind: &str, status: &str, reason: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": "m",
           "lastTransitionTime": "2026-12-04T07:00:00Z", "observedGeneration": 1})
}

/// The sandbox is the one described: scripts that reach for a library
/// Argo CD does not open fail here as they would in Argo CD.
#[test]
fn lua_sandbox_opens_only_what_argo_cd_opens() {
    let obj = experiment(Value::Null);
    for script in [
        "return {n = string.len(\"abc\")}",
        "return {n = (\"abc\"):upper()}",
        "return {n = math.floor(1.5)}",
        "return {n = io.write(\"x\")}",
        "return {n = coroutine.create(print)}",
        "return {n = debug.traceback()}",
        "return {n = os.exit(1)}",
        "return {n = require(\"string\")}",
    ] {
        assert!(run(script, &obj, &[]).is_err(), "{script} ran");
    }
    let ok = run(
        "local os = require(\"os\")\nlocal t = {}\ntable.insert(t, \"a\" .. 1)\nreturn {t = t, n = #t, when = os.date(\"!%Y\"), kind = obj.kind, reason = actionParams[\"reason\"]}",
        &obj,
        &[("reason", "because")],
    )
    .unwrap();
    assert_eq!(ok["t"], json!(["a1"]));
    assert_eq!(ok["n"], json!(1));
    assert_eq!(ok["kind"], "Experiment");
    assert_eq!(ok["reason"], "because");
    assert_eq!(ok["when"].as_str().unwrap().len(), 4);
}

#[test]
fn health_check_is_always_healthy_and_says_where_the_experiment_is() {
    let cases = [
        (Value::Null, "waiting for the promote hook"),
        (json!({}), "waiting for the promote hook"),
        (
            json!({"phase": "Running", "message": "look 3: pending",
                   "conditions": [condition("Progressing", "True", "Judging"),
                                  condition("Judged", "Unknown", "Pending"),
                                  condition("Delivered", "Unknown", "Pending")]}),
            "Judging: look 3: pending",
        ),
        (
            json!({"phase": "Running", "verdict": "promote", "message": "every objective met",
                   "conditions": [condition("Progressing", "True", "Delivering"),
                                  condition("Judged", "True", "Promoted"),
                                  condition("Delivered", "Unknown", "Pending")]}),
            "Promoted: every objective met",
        ),
        (
            json!({"phase": "Completed", "verdict": "reject", "message": "committed as abc",
                   "conditions": [condition("Progressing", "False", "Completed"),
                                  condition("Judged", "True", "RejectedByHand"),
                                  condition("Delivered", "True", "Committed")]}),
            "RejectedByHand, Committed: committed as abc",
        ),
        (
            json!({"phase": "Completed", "verdict": "superseded", "message": "now v3",
                   "conditions": [condition("Progressing", "False", "Superseded"),
                                  condition("Judged", "False", "Superseded"),
                                  condition("Delivered", "False", "Superseded")]}),
            "Superseded: now v3",
        ),
        (
            json!({"phase": "Terminated", "message": "stopped by SIGTERM",
                   "conditions": [condition("Progressing", "False", "Terminated"),
                                  condition("Judged", "Unknown", "Pending")]}),
            "Terminated: stopped by SIGTERM",
        ),
        // Written by a hook from before conditions.
        (
            json!({"phase": "Completed", "verdict": "promote", "message": "committed"}),
            "Completed, promote: committed",
        ),
        // Not what the hook writes, but nothing the check trips over.
        (
            json!({"phase": 3, "conditions": "none", "message": ["x"]}),
            "3",
        ),
        (
            json!({"conditions": [1, {"type": "Judged"}, {"type": "Judged", "status": "True", "reason": 7}]}),
            "waiting for the promote hook",
        ),
    ];
    for (status, message) in cases {
        let got = health(&experiment(status.clone()));
        assert_eq!(
            got,
            json!({"status": "Healthy", "message": message}),
            "{status}"
        );
    }
}

#[test]
fn actions_are_offered_until_a_verdict_is_recorded() {
    let a = actions();
    let names: Vec<&str> = a.definitions.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["promote-now", "reject-now", "abort"]);
    let open = run(&a.discovery, &experiment(Value::Null), &[]).unwrap();
    for name in &names {
        assert_eq!(open[name]["disabled"], false, "{name}");
    }
    assert_eq!(open["reject-now"]["params"], json!([{"name": "reason"}]));
    let running = run(
        &a.discovery,
        &experiment(json!({"phase": "Running", "iteration": 2})),
        &[],
    )
    .unwrap();
    assert_eq!(running, open);
    let decided = run(
        &a.discovery,
        &experiment(json!({"phase": "Completed", "verdict": "superseded"})),
        &[],
    )
    .unwrap();
    for name in &names {
        assert_eq!(decided[name]["disabled"], true, "{name}");
    }
}

#[test]
fn actions_set_the_annotation_the_hook_reads() {
    let before = experiment(json!({"phase": "Running"}));
    for (name, params, reason) in [
        ("promote-now", vec![], None),
        (
            "reject-now",
            vec![("reason", "p99 doubles under load")],
            Some("p99 doubles under load"),
        ),
        ("abort", vec![], None),
    ] {
        let mut obj = before.clone();
        // A stale reason from an earlier action goes.
        obj["metadata"]["annotations"] = json!({"assay.dev/action-reason": "old", "team": "shop"});
        let after = run(&action(name), &obj, &params).unwrap();
        let ann = &after["metadata"]["annotations"];
        assert_eq!(ann["assay.dev/action"], name);
        assert_eq!(ann["team"], "shop", "{name}: other annotations are kept");
        assert_eq!(
            ann.get("assay.dev/action-reason").and_then(Value::as_str),
            reason
        );
        let at = ann["assay.dev/action-at"].as_str().unwrap();
        assert!(
            at.parse::<k8s_openapi::jiff::Timestamp>().is_ok() && at.ends_with('Z'),
            "{name}: action-at {at}"
        );
        // Nothing else changes: Argo CD patches the difference.
        let mut rest = after.clone();
        rest["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        let mut was = before.clone();
        was["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        assert_eq!(rest, was, "{name}");
    }
    // No annotations yet: the map is made.
    let after = run(&action("abort"), &before, &[]).unwrap();
    assert_eq!(
        after["metadata"]["annotations"]["assay.dev/action"],
        "abort"
    );
}

#[test]
fn reject_now_needs_a_reason_and_no_action_changes_a_verdict() {
    let running = experiment(json!({"phase": "Running"}));
    for params in [vec![], vec![("reason", "")]] {
        assert_eq!(
            run(&action("reject-now"), &running, &params),
            Err("reject-now needs a reason".into())
        );
    }
    let decided = experiment(json!({"phase": "Running", "verdict": "promote"}));
    for name in ["promote-now", "reject-now", "abort"] {
        assert_eq!(
            run(&action(name), &decided, &[("reason", "late")]),
            Err("the verdict promote is already recorded and is never changed".into()),
            "{name}"
        );
    }
}

/// The notification triggers match the words the health check writes: each
/// trigger's regular expression (RE2; these use only what Python's `re`
/// reads the same) is checked against the health message of the states it
/// is for and of the states it is not for.
#[test]
fn notification_triggers_match_the_health_messages() {
    let msg = |judged: &str, delivered: &str| {
        let status = json!({"phase": "Completed", "message": "m", "conditions": [
            condition("Progressing", "False", "Completed"),
            condition("Judged", if judged == "Pending" { "Unknown" } else { "True" }, judged),
            condition("Delivered", if delivered == "Pending" { "Unknown" } else { "True" }, delivered),
        ]});
        health(&experiment(status))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let promoted = msg("Promoted", "Committed");
    let by_hand = msg("RejectedByHand", "PullRequestOpened");
    let recorded = msg("Promoted", "Pending");
    let failed = msg("Rejected", "WriteBackFailed");
    let superseded = msg("Superseded", "Superseded");
    let aborted = msg("Aborted", "Aborted");
    let judging = health(&experiment(json!({"message": "look 1", "conditions": [
        condition("Progressing", "True", "Judging")]})))["message"]
        .as_str()
        .unwrap()
        .to_string();
    let all = [
        &promoted,
        &by_hand,
        &recorded,
        &failed,
        &superseded,
        &aborted,
        &judging,
    ];
    let want: [(&str, Vec<&String>); 4] = [
        ("on-assay-verdict", vec![&promoted, &by_hand]),
        ("on-assay-rejected", vec![&by_hand]),
        ("on-assay-delivery-failed", vec![&failed]),
        ("on-assay-stopped", vec![&superseded, &aborted]),
    ];
    let data = kit_notifications();
    // Argo CD reads every value as YAML.
    for (key, value) in &data {
        let parsed: Result<Value, _> = serde_saphyr::from_str(value.as_str().unwrap());
        assert!(parsed.is_ok(), "{key}: {parsed:?}");
    }
    for (trigger, hits) in want {
        let spec = data[&format!("trigger.{trigger}")].as_str().unwrap();
        let conditions: Value = serde_saphyr::from_str(spec).unwrap();
        let when = conditions[0]["when"].as_str().unwrap();
        let regex = when
            .split("matches '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{trigger}: no `matches '…'` in {when}"));
        for template in conditions[0]["send"].as_array().unwrap() {
            let key = format!("template.{}", template.as_str().unwrap());
            assert!(
                data.contains_key(&key),
                "{trigger} sends {key}, not defined"
            );
        }
        for m in all {
            assert_eq!(
                re_search(regex, m),
                hits.contains(&m),
                "{trigger} ({regex}) on {m:?}"
            );
        }
    }
}

/// Python's `re.search`, through the tests' Python (`$ASSAY_PYTHON`).
fn re_search(regex: &str, text: &str) -> bool {
    let out = Command::new(crate::validation::python())
        .args([
            "-c",
            "import re,sys; sys.exit(0 if re.search(sys.argv[1], sys.argv[2]) else 1)",
        ])
        .args([regex, text])
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("python: {}", String::from_utf8_lossy(&out.stderr)),
    }
}
