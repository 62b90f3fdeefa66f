//! `plugin.yaml` as the fake reads it: loading and validating the
//! ConfigManagementPlugin (ARGOCD.md §1.1, and §1.2's discovery precedence).

use serde_json::Value;

/// A `{command, args}` block of `plugin.yaml`; argv is `command` + `args`, no shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCommand {
    pub command: Vec<String>,
    pub args: Vec<String>,
}

/// The parts of `plugin.yaml` the fake uses (unknown fields are ignored, as in Argo CD).
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub name: String,
    pub init: Option<PluginCommand>,
    pub generate: PluginCommand,
    pub discover_file_name: Option<String>,
    /// `discover.find.command` (used only when `fileName` is not set).
    pub discover_command: Option<PluginCommand>,
    pub dynamic_parameters: Option<PluginCommand>,
    pub static_parameters: Vec<Value>,
    pub preserve_file_mode: bool,
}

impl PluginConfig {
    /// Parses and validates `plugin.yaml` as §1.1 does (errors are fatal at start).
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let invalid = |what: &str| Err(format!("invalid plugin configuration file. {what}"));
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return invalid("metadata.name should be non-empty.");
        }
        if doc["kind"] != "ConfigManagementPlugin" {
            return invalid("kind should be ConfigManagementPlugin");
        }
        let spec = &doc["spec"];
        let generate = command_at(spec, "/generate")?.filter(|g| !g.command.is_empty());
        let Some(generate) = generate else {
            return invalid("spec.generate command should be non-empty");
        };
        assert!(
            spec.pointer("/discover/find/glob")
                .is_none_or(Value::is_null),
            "FakeCmpServer imitates discover.fileName and find.command, not find.glob"
        );
        let file_name = spec.pointer("/discover/fileName").and_then(Value::as_str);
        Ok(PluginConfig {
            name: name.to_string(),
            init: command_at(spec, "/init")?,
            generate,
            discover_file_name: file_name.filter(|s| !s.is_empty()).map(str::to_string),
            discover_command: command_at(spec, "/discover/find")?.filter(|c| !c.command.is_empty()),
            dynamic_parameters: command_at(spec, "/parameters/dynamic")?,
            static_parameters: match spec.pointer("/parameters/static") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(items)) => items.clone(),
                Some(_) => return invalid("spec.parameters.static must be a list"),
            },
            preserve_file_mode: spec["preserveFileMode"].as_bool().unwrap_or(false),
        })
    }
}

fn command_at(spec: &Value, pointer: &str) -> Result<Option<PluginCommand>, String> {
    let Some(block) = spec.pointer(pointer).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let list = |key: &str| match &block[key] {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("spec{pointer}.{key} must be a list of strings")),
        _ => Err(format!("spec{pointer}.{key} must be a list of strings")),
    };
    Ok(Some(PluginCommand {
        command: list("command")?,
        args: list("args")?,
    }))
}
