//! Typed paths into JSON documents.
//!
//! One value serves three audiences: RFC 6901 pointers for machine-readable reports, Kyverno's
//! `/spec/containers/0/image/` form for messages that must read like Kyverno's, and the key of the
//! YAML source map that turns a path back into `file:line:column`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath(Vec<Segment>);

impl JsonPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push_key(&mut self, key: impl Into<String>) {
        self.0.push(Segment::Key(key.into()));
    }

    pub fn push_index(&mut self, index: usize) {
        self.0.push(Segment::Index(index));
    }

    pub fn pop(&mut self) -> Option<Segment> {
        self.0.pop()
    }

    pub fn child_key(&self, key: impl Into<String>) -> Self {
        let mut path = self.clone();
        path.push_key(key);
        path
    }

    pub fn child_index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.push_index(index);
        path
    }

    /// The path minus its last segment; the root is its own parent.
    pub fn parent(&self) -> Self {
        let mut path = self.clone();
        path.pop();
        path
    }

    pub fn starts_with(&self, prefix: &JsonPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// RFC 6901 pointer: `/spec/containers/0/image`, with `~` and `/` escaped inside keys.
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            out.push('/');
            match segment {
                Segment::Key(key) => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
                Segment::Index(index) => out.push_str(&index.to_string()),
            }
        }
        out
    }

    /// Kyverno's path text: every step followed by `/`, keys unescaped, the root being `/`.
    pub fn kyverno(&self) -> String {
        let mut out = String::from("/");
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => out.push_str(key),
                Segment::Index(index) => out.push_str(&index.to_string()),
            }
            out.push('/');
        }
        out
    }

    /// The path as a person writes a field: `spec.rules[0].validate.pattern`.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Parses the dotted form produced by [`JsonPath::dotted`] (keys must not contain `.`, `[`).
    pub fn parse_dotted(text: &str) -> Self {
        let mut path = Self::root();
        for part in text.split('.').filter(|part| !part.is_empty()) {
            let (key, indices) = part
                .split_once('[')
                .map_or((part, ""), |(key, rest)| (key, rest));
            if !key.is_empty() {
                path.push_key(key);
            }
            for index in indices.split('[') {
                if let Ok(index) = index.trim_end_matches(']').parse() {
                    path.push_index(index);
                }
            }
        }
        path
    }

    /// Appends every segment of `other`.
    pub fn join(&self, other: &JsonPath) -> Self {
        let mut path = self.clone();
        path.0.extend(other.0.iter().cloned());
        path
    }

    /// Parses an RFC 6901 pointer; numeric tokens become indices.
    pub fn parse_pointer(pointer: &str) -> Option<Self> {
        if pointer.is_empty() {
            return Some(Self::root());
        }
        let rest = pointer.strip_prefix('/')?;
        let segments = rest
            .split('/')
            .map(|token| match token.parse::<usize>() {
                Ok(index)
                    if !token.starts_with('+') && (token == "0" || !token.starts_with('0')) =>
                {
                    Segment::Index(index)
                }
                _ => Segment::Key(token.replace("~1", "/").replace("~0", "~")),
            })
            .collect();
        Some(Self(segments))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pointer())
    }
}

impl FromIterator<Segment> for JsonPath {
    fn from_iter<I: IntoIterator<Item = Segment>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_and_kyverno_forms() {
        let mut path = JsonPath::root();
        assert_eq!(path.pointer(), "");
        assert_eq!(path.kyverno(), "/");
        path.push_key("metadata");
        path.push_key("labels");
        path.push_key("app.kubernetes.io/name");
        assert_eq!(path.pointer(), "/metadata/labels/app.kubernetes.io~1name");
        assert_eq!(path.kyverno(), "/metadata/labels/app.kubernetes.io/name/");
        let containers = JsonPath::root()
            .child_key("spec")
            .child_key("containers")
            .child_index(0);
        assert_eq!(
            containers.child_key("image").kyverno(),
            "/spec/containers/0/image/"
        );
        assert_eq!(
            containers.child_key("image").dotted(),
            "spec.containers[0].image"
        );
        assert_eq!(
            JsonPath::parse_dotted("spec.containers[0].image"),
            containers.child_key("image")
        );
        assert_eq!(
            JsonPath::parse_dotted("any[0].resources.kinds[1]").pointer(),
            "/any/0/resources/kinds/1"
        );
    }

    #[test]
    fn parse_pointer_round_trips() {
        for pointer in [
            "",
            "/spec/containers/0/image",
            "/metadata/labels/a~1b",
            "/x/~0y",
            "/a/01",
        ] {
            let parsed = JsonPath::parse_pointer(pointer).expect("valid pointer");
            assert_eq!(parsed.pointer(), pointer);
        }
        assert_eq!(JsonPath::parse_pointer("spec"), None);
    }
}
