//! Container image references as Kyverno reads them (`pkg/utils/image`): the grammar of
//! distribution/reference, a default registry put in front of names without one, and `latest`
//! when there is neither tag nor digest.
//!
//! Kyverno does not add `library/` (`nginx` is `docker.io/nginx:latest`), keeps a registry port
//! (`localhost:5000/app`), and treats a first path component containing `_` as a registry only
//! after it has written the reference.

use regex::Regex;
use std::sync::OnceLock;

/// The parts of one image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub registry: String,
    pub name: String,
    pub path: String,
    pub tag: String,
    pub digest: String,
    pub reference: String,
    pub reference_with_tag: String,
}

/// Where a reference without a registry is assumed to live, and whether to write it out.
#[derive(Debug, Clone)]
pub struct RegistryDefaults {
    pub registry: String,
    /// Kyverno's `enableDefaultRegistryMutation`: when false, a registry that was only assumed
    /// is left out of the result.
    pub mutate: bool,
}

impl Default for RegistryDefaults {
    fn default() -> Self {
        Self {
            registry: "docker.io".to_owned(),
            mutate: true,
        }
    }
}

struct Grammar {
    reference: Regex,
    name: Regex,
}

fn grammar() -> &'static Grammar {
    static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        let alphanumeric = "[a-z0-9]+";
        let separator = "(?:[._]|__|[-]+)";
        let component = format!("{alphanumeric}(?:{separator}{alphanumeric})*");
        let domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let host =
            format!(r"(?:{domain_component}(?:\.{domain_component})*|\[(?:[a-fA-F0-9:]+)\])");
        let domain = format!("{host}(?::[0-9]+)?");
        let path = format!("{component}(?:/{component})*");
        let name = format!("(?:{domain}/)?{path}");
        let tag = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
        let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
        // Both patterns are fixed strings known to compile.
        let compile = |pattern: String| Regex::new(&pattern).unwrap_or_else(|e| panic!("{e}"));
        Grammar {
            reference: compile(format!("^({name})(?::({tag}))?(?:@({digest}))?$")),
            name: compile(format!("^(?:({domain})/)?({path})$")),
        }
    })
}

/// distribution/reference's `Parse`: (domain, path, tag, digest).
fn parse_reference(text: &str) -> Result<(String, String, String, String), String> {
    let grammar = grammar();
    let Some(captures) = grammar.reference.captures(text) else {
        if text.is_empty() {
            return Err("repository name must have at least one component".to_owned());
        }
        if grammar.reference.is_match(&text.to_lowercase()) {
            return Err("repository name must be lowercase".to_owned());
        }
        return Err("invalid reference format".to_owned());
    };
    let group = |i: usize| captures.get(i).map_or("", |m| m.as_str()).to_owned();
    let name = group(1);
    if name.len() > 255 {
        return Err("repository name must not be more than 255 characters".to_owned());
    }
    let digest = group(3);
    if !digest.is_empty() {
        validate_digest(&digest)?;
    }
    let parts = grammar
        .name
        .captures(&name)
        .ok_or_else(|| "invalid reference format".to_owned())?;
    let domain = parts.get(1).map_or("", |m| m.as_str()).to_owned();
    let path = parts.get(2).map_or("", |m| m.as_str()).to_owned();
    Ok((domain, path, group(2), digest))
}

/// go-digest's validation: a known algorithm with a hex encoding of its length.
fn validate_digest(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".to_owned()),
    };
    if hex.len() != length {
        return Err("invalid checksum digest length".to_owned());
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("invalid checksum digest format".to_owned());
    }
    Ok(())
}

impl ImageInfo {
    /// Kyverno's `GetImageInfo`.
    pub fn parse(image: &str, defaults: &RegistryDefaults) -> Result<Self, String> {
        let full = with_default_registry(image, &defaults.registry);
        let (mut registry, path, mut tag, digest) = parse_reference(&full).map_err(|reason| {
            format!(
                "bad image: {full}, defaultRegistry: {}, enableDefaultRegistryMutation: {}: {reason}",
                defaults.registry, defaults.mutate
            )
        })?;
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        if digest.is_empty() && tag.is_empty() {
            tag = "latest".to_owned();
        }
        if full != image && !defaults.mutate {
            registry = String::new();
        }
        let reference_with_tag = if registry.is_empty() {
            format!("{path}:{tag}")
        } else {
            format!("{registry}/{path}:{tag}")
        };
        let mut info = ImageInfo {
            registry,
            name,
            path,
            tag,
            digest,
            reference: String::new(),
            reference_with_tag,
        };
        info.reference = info.to_string();
        let mut parts = info.path.splitn(2, '/');
        if let (Some(first), Some(rest)) = (parts.next(), parts.next()) {
            if info.registry.is_empty() && first.contains('_') {
                let (first, rest) = (first.to_owned(), rest.to_owned());
                info.registry = first;
                info.path = rest;
            }
        }
        Ok(info)
    }
}

impl std::fmt::Display for ImageInfo {
    /// `registry/path:tag`, or `@digest` in place of the tag when there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.registry.is_empty() {
            write!(f, "{}/", self.registry)?;
        }
        f.write_str(&self.path)?;
        if self.digest.is_empty() {
            write!(f, ":{}", self.tag)
        } else {
            write!(f, "@{}", self.digest)
        }
    }
}

/// Kyverno's `addDefaultRegistry`: a first component without `.` or `:`, other than
/// `localhost` and in lower case, is a path, not a registry.
fn with_default_registry(name: &str, registry: &str) -> String {
    match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            let is_registry =
                first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first;
            if is_registry {
                name.to_owned()
            } else {
                format!("{registry}/{name}")
            }
        }
        None => format!("{registry}/{name}"),
    }
}

/// Kyverno's `images` variable: for a Pod or a pod controller, every container, init container
/// and ephemeral container image by container name, under `containers`, `initContainers` and
/// `ephemeralContainers`, each with its parts and the JSON pointer of its `image` field.
/// `Ok(None)` for other kinds and for objects without images. An error, worded as Kyverno's
/// extractor words it, for a container without a name, an entry that is not a container, or
/// an image that does not parse: Kyverno builds the variable when a query first names it, so
/// the error fails only the rules that read `images`.
pub fn images_of(object: &serde_json::Value) -> Result<Option<serde_json::Value>, String> {
    use serde_json::{Map, Value};
    let Some(kind) = object.get("kind").and_then(Value::as_str) else {
        return Ok(None);
    };
    let spec_path: &[&str] = match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "DaemonSet"
        | "Job"
        | "StatefulSet"
        | "ReplicaSet"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return Ok(None),
    };
    let Some(spec) = spec_path
        .iter()
        .try_fold(object, |value, key| value.get(key))
    else {
        return Ok(None);
    };
    let defaults = RegistryDefaults::default();
    let mut images = Map::new();
    // Kyverno's extractors, in its order; `*` over a map walks its values.
    for group in ["initContainers", "containers", "ephemeralContainers"] {
        let containers: Vec<(String, &Value)> = match spec.get(group) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| (index.to_string(), item))
                .collect(),
            Some(Value::Object(map)) => map.iter().map(|(key, item)| (key.clone(), item)).collect(),
            Some(_) => return Err("invalid type".to_owned()),
        };
        let mut by_name = Map::new();
        for (at, container) in containers {
            if container.is_null() {
                continue;
            }
            let Value::Object(container) = container else {
                return Err("invalid image config".to_owned());
            };
            let Some(name) = container.get("name").and_then(Value::as_str) else {
                return Err("invalid key".to_owned());
            };
            let image = match container.get("image").and_then(Value::as_str) {
                Some(image) if !image.trim().is_empty() => image,
                _ => continue,
            };
            let info = ImageInfo::parse(image, &defaults)
                .map_err(|reason| format!("invalid image '{image}' ({reason})"))?;
            let mut fields = Map::new();
            let mut put = |key: &str, value: &str, always: bool| {
                if always || !value.is_empty() {
                    fields.insert(key.to_owned(), Value::String(value.to_owned()));
                }
            };
            put("registry", &info.registry, false);
            put("name", &info.name, true);
            put("path", &info.path, true);
            put("tag", &info.tag, false);
            put("digest", &info.digest, false);
            put("reference", &info.reference, false);
            put("referenceWithTag", &info.reference_with_tag, false);
            let pointer = format!("/{}/{group}/{at}/image", spec_path.join("/"));
            fields.insert("jsonPointer".to_owned(), Value::String(pointer));
            by_name.insert(name.to_owned(), Value::Object(fields));
        }
        if !by_name.is_empty() {
            images.insert(group.to_owned(), Value::Object(by_name));
        }
    }
    Ok((!images.is_empty()).then_some(Value::Object(images)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let defaults = RegistryDefaults::default();
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            // image, registry, path, tag, reference
            (
                "nginx",
                "docker.io",
                "nginx",
                "latest",
                "docker.io/nginx:latest",
            ),
            (
                "docker.io/nginx",
                "docker.io",
                "nginx",
                "latest",
                "docker.io/nginx:latest",
            ),
            (
                "docker.io/library/nginx",
                "docker.io",
                "library/nginx",
                "latest",
                "docker.io/library/nginx:latest",
            ),
            (
                "ghcr.io/nginx:1.2",
                "ghcr.io",
                "nginx",
                "1.2",
                "ghcr.io/nginx:1.2",
            ),
            (
                "localhost:5000/app:v1",
                "localhost:5000",
                "app",
                "v1",
                "localhost:5000/app:v1",
            ),
            (
                "localhost/app",
                "localhost",
                "app",
                "latest",
                "localhost/app:latest",
            ),
            (
                "org/app",
                "docker.io",
                "org/app",
                "latest",
                "docker.io/org/app:latest",
            ),
        ];
        for (image, registry, path, tag, reference) in cases {
            let info =
                ImageInfo::parse(image, &defaults).unwrap_or_else(|e| panic!("{image}: {e}"));
            assert_eq!(
                (
                    info.registry.as_str(),
                    info.path.as_str(),
                    info.tag.as_str(),
                    info.reference.as_str()
                ),
                (*registry, *path, *tag, *reference),
                "{image}"
            );
        }
        let digest = "sha256:".to_owned() + &"a".repeat(64);
        let info = ImageInfo::parse(&format!("nginx@{digest}"), &defaults)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.reference, format!("docker.io/nginx@{digest}"));
        assert_eq!(info.reference_with_tag, "docker.io/nginx:");
        let no_mutation = RegistryDefaults {
            registry: "docker.io".to_owned(),
            mutate: false,
        };
        let info = ImageInfo::parse("nginx", &no_mutation).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.reference, "nginx:latest");
        let errors: &[(&str, &str)] = &[
            (
                "",
                "bad image: docker.io/, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: invalid reference format",
            ),
            (
                "ghcr.io/Nginx",
                "bad image: ghcr.io/Nginx, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: repository name must be lowercase",
            ),
            (
                "nginx@sha256:abc",
                "bad image: docker.io/nginx@sha256:abc, defaultRegistry: docker.io, enableDefaultRegistryMutation: true: invalid reference format",
            ),
        ];
        for (image, want) in errors {
            assert_eq!(
                ImageInfo::parse(image, &defaults).err().as_deref(),
                Some(*want),
                "{image}"
            );
        }
    }

    #[test]
    fn images_of_pods_and_controllers_by_container_name() {
        use serde_json::json;
        let pod = json!({
            "kind": "Pod",
            "spec": {
                "initContainers": [{"name": "setup", "image": "localhost:5000/tools/setup"}],
                "containers": [
                    {"name": "web", "image": "nginx"},
                    {"name": "no-image"},
                    {"name": "pinned", "image": "ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
                ],
                "ephemeralContainers": [{"name": "debug", "image": "busybox:1.36"}]
            }
        });
        let images = images_of(&pod).expect("images").expect("some images");
        assert_eq!(
            images["containers"]["web"],
            json!({
                "registry": "docker.io", "name": "nginx", "path": "nginx", "tag": "latest",
                "reference": "docker.io/nginx:latest", "referenceWithTag": "docker.io/nginx:latest",
                "jsonPointer": "/spec/containers/0/image"
            })
        );
        assert_eq!(
            images["containers"]["pinned"]["digest"],
            json!("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            images["containers"]["pinned"]["jsonPointer"],
            json!("/spec/containers/2/image")
        );
        assert!(images["containers"].get("no-image").is_none());
        assert_eq!(
            images["initContainers"]["setup"]["registry"],
            json!("localhost:5000")
        );
        assert_eq!(
            images["initContainers"]["setup"]["path"],
            json!("tools/setup")
        );
        assert_eq!(images["ephemeralContainers"]["debug"]["tag"], json!("1.36"));

        let cronjob = json!({
            "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "job", "image": "alpine:3.20"}]
            }}}}}
        });
        let images = images_of(&cronjob).expect("images").expect("some images");
        assert_eq!(
            images["containers"]["job"]["jsonPointer"],
            json!("/spec/jobTemplate/spec/template/spec/containers/0/image")
        );
        assert_eq!(
            images_of(&json!({"kind": "ConfigMap", "data": {"image": "x"}})),
            Ok(None)
        );
        assert_eq!(
            images_of(&json!({"kind": "Pod", "spec": {"containers": []}})),
            Ok(None)
        );
        let pod = |containers: serde_json::Value| json!({"kind": "Pod", "spec": {"containers": containers}});
        assert_eq!(
            images_of(&pod(json!([{"image": "nginx"}]))),
            Err("invalid key".to_owned())
        );
        assert_eq!(images_of(&pod(json!([{}]))), Err("invalid key".to_owned()));
        assert_eq!(
            images_of(&pod(json!(["nginx"]))),
            Err("invalid image config".to_owned())
        );
        assert_eq!(images_of(&pod(json!([{"name": "app"}]))), Ok(None));
        assert!(
            images_of(&pod(json!([{"name": "app", "image": "Nginx:latest"}])))
                .is_err_and(|error| error.starts_with("invalid image 'Nginx:latest' ("))
        );
    }
}
