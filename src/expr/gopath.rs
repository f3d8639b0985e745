//! Go's `path.Clean` and `path.Join` (slash-separated, also `filepath` on Linux), which Kyverno
//! applies to `$(...)` references and JMESPath's `path_canonicalize`.

/// `path.Clean`: the shortest path naming the same file by lexical processing alone.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// `path.Join`: the non-empty elements joined with `/` and cleaned; empty when all are empty.
pub fn join(elements: &[&str]) -> String {
    let present: Vec<&str> = elements
        .iter()
        .copied()
        .filter(|element| !element.is_empty())
        .collect();
    if present.is_empty() {
        return String::new();
    }
    clean(&present.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_go() {
        // Go's own path.Clean table.
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("//abc//", "/abc"),
            ("abc//", "abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("///", "/"),
            ("/var/run///containerd////", "/var/run/containerd"),
            ("/run/../etc", "/etc"),
            ("/../../", "/"),
            ("a/../..", ".."),
            ("a/..", "."),
            ("./a/./b/", "a/b"),
            ("../../a", "../../a"),
        ];
        for (path, want) in cases {
            assert_eq!(clean(path), want, "{path:?}");
        }
    }

    #[test]
    fn joins_as_go() {
        assert_eq!(join(&[]), "");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(join(&["a", "b"]), "a/b");
        assert_eq!(join(&["a", ""]), "a");
        assert_eq!(join(&["", "b"]), "b");
        assert_eq!(join(&["/", "a"]), "/a");
        assert_eq!(
            join(&["/spec/containers/0/name", "./../image"]),
            "/spec/containers/0/image"
        );
        assert_eq!(join(&["/a", "../../x"]), "/x");
    }
}
