//! Kind entries of `match` / `exclude`: Kyverno's `group/version/Kind/subresource` grammar and
//! how an entry matches a request's kind and subresource.

use super::Gvk;
use crate::pattern::wildcard::{self, Wildcard};

/// The texts are read-only, so the compiled wildcards always say what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSelector {
    group: String,
    version: String,
    kind: String,
    subresource: String,
    /// Kind, group and version compiled when the selector is made, as match filters' names
    /// are: every rule tests them against every review.
    compiled: Compiled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Compiled {
    kind: Wildcard,
    group: Wildcard,
    version: Wildcard,
}

impl KindSelector {
    pub fn new(group: &str, version: &str, kind: &str, subresource: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            subresource: subresource.to_owned(),
            compiled: Compiled {
                kind: Wildcard::new(kind),
                group: Wildcard::new(group),
                version: Wildcard::new(version),
            },
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Empty when the entry names none.
    pub fn subresource(&self) -> &str {
        &self.subresource
    }

    /// Kyverno's kind grammar; `None` for more than four `/`-separated parts.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let (group, version, kind_part, subresource) = match parts.as_slice() {
            [kind] => ("*", "*", *kind, None),
            ["*", "*"] => ("*", "*", "*", Some("*")),
            ["*", subresource] if subresource.starts_with(|c: char| c.is_ascii_lowercase()) => {
                ("*", "*", "*", Some(*subresource))
            }
            [first, second] if is_version(first) => ("*", *first, *second, None),
            [kind, subresource] => ("*", "*", *kind, Some(*subresource)),
            [first, kind, subresource] if is_version(first) => {
                ("*", *first, *kind, Some(*subresource))
            }
            [group, version, kind] => (*group, *version, *kind, None),
            [group, version, kind, subresource] => (*group, *version, *kind, Some(*subresource)),
            _ => return None,
        };
        let (kind, subresource) = match subresource {
            Some(subresource) => (kind_part, subresource),
            None => kind_part.split_once('.').unwrap_or((kind_part, "")),
        };
        if kind.is_empty() {
            return None;
        }
        Some(Self::new(group, version, kind, subresource))
    }

    pub fn matches(&self, gvk: &Gvk, subresource: &str) -> bool {
        let subresource_matches = if self.subresource.is_empty() {
            // Kyverno keeps matching ephemeral-container updates with plain `Pod` for
            // backwards compatibility; every other subresource needs to be named.
            subresource.is_empty() || (gvk.kind == "Pod" && subresource == "ephemeralcontainers")
        } else {
            wildcard::matches(&self.subresource, subresource)
        };
        // The kind first: it is what tells most entries apart.
        subresource_matches
            && self.compiled.kind.matches(&gvk.kind)
            && self.compiled.group.matches(&gvk.group)
            && self.compiled.version.matches(&gvk.version)
    }
}

/// `v1`, `v2beta3`, `*`: a version where Kyverno's grammar allows one in first position.
fn is_version(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Some(rest) = text.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let Some(level) = rest
        .strip_prefix("alpha")
        .or_else(|| rest.strip_prefix("beta"))
    else {
        return false;
    };
    !level.is_empty() && level.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(text: &str) -> KindSelector {
        KindSelector::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn kind_grammar() {
        let table = [
            ("Pod", ("*", "*", "Pod", "")),
            ("*", ("*", "*", "*", "")),
            ("*/*", ("*", "*", "*", "*")),
            ("*/status", ("*", "*", "*", "status")),
            ("v1/Pod", ("*", "v1", "Pod", "")),
            ("Pod/exec", ("*", "*", "Pod", "exec")),
            ("Pod.exec", ("*", "*", "Pod", "exec")),
            ("v1/Pod/eviction", ("*", "v1", "Pod", "eviction")),
            ("apps/v1/Deployment", ("apps", "v1", "Deployment", "")),
            (
                "networking.k8s.io/v1/NetworkPolicy/status",
                ("networking.k8s.io", "v1", "NetworkPolicy", "status"),
            ),
            ("tekton.dev/*/TaskRun", ("tekton.dev", "*", "TaskRun", "")),
            (
                "v2beta1/HorizontalPodAutoscaler",
                ("*", "v2beta1", "HorizontalPodAutoscaler", ""),
            ),
        ];
        for (text, (group, version, kind, subresource)) in table {
            let parsed = selector(text);
            assert_eq!(
                (
                    parsed.group(),
                    parsed.version(),
                    parsed.kind(),
                    parsed.subresource()
                ),
                (group, version, kind, subresource),
                "{text}"
            );
        }
        assert_eq!(KindSelector::parse("a/b/c/d/e"), None);
    }

    #[test]
    fn kind_matching() {
        let pod = Gvk::from_api_version("v1", "Pod");
        let deployment = Gvk::from_api_version("apps/v1", "Deployment");
        let cronjob_beta = Gvk::from_api_version("batch/v1beta1", "CronJob");
        let table = [
            ("Pod", &pod, "", true),
            ("Pod", &pod, "exec", false),
            ("Pod", &pod, "ephemeralcontainers", true),
            ("Pod/exec", &pod, "exec", true),
            ("v1/Pod", &pod, "", true),
            ("v2/Pod", &pod, "", false),
            ("apps/v1/Deployment", &deployment, "", true),
            ("Deployment", &deployment, "", true),
            ("batch/v1/CronJob", &cronjob_beta, "", false),
            ("*", &deployment, "", true),
            ("*/*", &pod, "status", true),
            ("pod", &pod, "", false),
        ];
        for (text, gvk, subresource, expected) in table {
            assert_eq!(
                selector(text).matches(gvk, subresource),
                expected,
                "{text} vs {gvk:?}/{subresource}"
            );
        }
    }
}
