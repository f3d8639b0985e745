//! The side files a Kyverno test names: a `Values` file (namespace labels, the request
//! operation) and a `UserInfo` file (who sends the requests).

use crate::matching::{UserInfo, labels_of};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The YAML documents of a file the test names, or an error that names the file.
pub(super) fn read_documents(path: &Path) -> Result<Vec<crate::yaml::Document>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    crate::yaml::parse_documents(&text).map_err(|error| {
        format!(
            "{}:{}: invalid YAML: {}",
            path.display(),
            error.location,
            error.message
        )
    })
}

/// A `cli.kyverno.io/v1alpha1` `UserInfo` file: who sends the requests of a test.
pub(super) fn load_user_info(path: &Path) -> Result<UserInfo, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct UserInfoFile {
        api_version: Option<String>,
        kind: Option<String>,
        metadata: Option<Value>,
        #[serde(default)]
        roles: Vec<String>,
        #[serde(default)]
        cluster_roles: Vec<String>,
        #[serde(default)]
        user_info: RequestUser,
    }
    #[derive(Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RequestUser {
        #[serde(default)]
        username: String,
        #[serde(default)]
        groups: Vec<String>,
    }
    let document = read_documents(path)?
        .into_iter()
        .find(|document| !document.value.is_null())
        .ok_or_else(|| format!("{}: no UserInfo document", path.display()))?;
    let file: UserInfoFile =
        serde_path_to_error::deserialize(&document.value).map_err(|error| {
            format!(
                "{}: not a UserInfo: {} at {}",
                path.display(),
                error.inner(),
                error.path()
            )
        })?;
    let _ = (&file.api_version, &file.kind, &file.metadata);
    Ok(UserInfo {
        username: file.user_info.username,
        groups: file.user_info.groups,
        roles: file.roles,
        cluster_roles: file.cluster_roles,
    })
}

/// The parts of a `Values` file Portcullis evaluates; anything else is reported unsupported.
#[derive(Debug, Default)]
pub(crate) struct Values {
    pub(crate) namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    pub(super) no_labels: BTreeMap<String, String>,
    pub(crate) operation: Option<String>,
    pub(crate) unsupported: Vec<String>,
}

impl Values {
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let mut values = Values::default();
        for document in read_documents(path)? {
            let Value::Object(map) = document.value else {
                continue;
            };
            for (key, value) in map {
                match key.as_str() {
                    "apiVersion" | "kind" | "metadata" => {}
                    "namespaceSelector" => {
                        for entry in value.as_array().into_iter().flatten() {
                            let name = entry
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned();
                            values
                                .namespace_labels
                                .insert(name, labels_of(entry.get("labels")));
                        }
                    }
                    "namespaces" => {
                        for namespace in value.as_array().into_iter().flatten() {
                            let name = namespace
                                .pointer("/metadata/name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned();
                            values
                                .namespace_labels
                                .insert(name, labels_of(namespace.pointer("/metadata/labels")));
                        }
                    }
                    "globalValues" => {
                        for (name, global) in value.as_object().into_iter().flatten() {
                            if name == "request.operation" {
                                values.operation = global.as_str().map(str::to_owned);
                            } else {
                                values.unsupported.push("variables".to_owned());
                            }
                        }
                    }
                    "policies" | "subresources" => {
                        values.unsupported.push(format!("values file {key}"))
                    }
                    other => values.unsupported.push(format!("values file {other}")),
                }
            }
        }
        Ok(values)
    }
}
