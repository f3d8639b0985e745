//! Minimises a disagreeing case: repeatedly deletes one resource, rule, key or list element
//! while both tools still give exactly what they gave before for the disagreeing expectation.
//!
//! Each round writes every one-step reduction as its own case under one folder and runs each
//! tool once over all of them, since starting `kubectl-kyverno` costs far more than a case.

use crate::generate::Case;
use crate::tools::{self, Key, Observations};
use serde_json::Value;
use std::path::Path;

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path to an object member or list element, shallow ones first; `keep` says which may
/// not be deleted.
fn paths(value: &Value, keep: &dyn Fn(&[Step]) -> bool) -> Vec<Vec<Step>> {
    let mut found = Vec::new();
    let mut stack = vec![(Vec::new(), value)];
    while let Some((path, node)) = stack.pop() {
        let children: Vec<(Step, &Value)> = match node {
            Value::Object(map) => map
                .iter()
                .map(|(key, child)| (Step::Key(key.clone()), child))
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, child)| (Step::Index(index), child))
                .collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            let mut child_path: Vec<Step> = path.clone();
            child_path.push(step);
            if !keep(&child_path) {
                found.push(child_path.clone());
            }
            stack.push((child_path, child));
        }
    }
    found.sort_by_key(Vec::len);
    found
}

fn delete(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = value;
    for step in parents {
        node = match (step, node) {
            (Step::Key(key), Value::Object(map)) => match map.get_mut(key) {
                Some(child) => child,
                None => return,
            },
            (Step::Index(index), Value::Array(items)) => match items.get_mut(*index) {
                Some(child) => child,
                None => return,
            },
            _ => return,
        };
    }
    match (last, node) {
        (Step::Key(key), Value::Object(map)) => {
            map.remove(key);
        }
        (Step::Index(index), Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

fn is_key(step: Option<&Step>, name: &str) -> bool {
    matches!(step, Some(Step::Key(key)) if key == name)
}

/// The one-step reductions of a case that keep the expectation's rule and resource.
fn reductions(case: &Case, rule: &str, resource: &str) -> Vec<Case> {
    let mut candidates = Vec::new();
    for (index, candidate) in case.resources.iter().enumerate() {
        if candidate["metadata"]["name"] != resource {
            let mut smaller = case.clone();
            smaller.resources.remove(index);
            candidates.push(smaller);
        }
    }
    // Identity fields stay: the name ties the policy to its case, the rule name and the
    // resource's name and kind tie responses to the expectation.
    let keep_in_policy = |path: &[Step]| {
        matches!(path.first(), Some(Step::Key(key)) if key == "apiVersion" || key == "kind")
            || (is_key(path.first(), "metadata")
                && (path.len() == 1 || is_key(path.get(1), "name")))
            || (path.len() == 1 && is_key(path.first(), "spec"))
            || (path.len() == 2 && is_key(path.get(1), "rules"))
            || (path.len() == 4 && is_key(path.get(3), "name"))
            || (path.len() == 3
                && is_key(path.get(1), "rules")
                && case.policy["spec"]["rules"]
                    .as_array()
                    .and_then(|rules| match path.get(2) {
                        Some(Step::Index(index)) => rules.get(*index),
                        _ => None,
                    })
                    .is_some_and(|kept| kept["name"] == rule))
    };
    for path in paths(&case.policy, &keep_in_policy) {
        let mut smaller = case.clone();
        delete(&mut smaller.policy, &path);
        candidates.push(smaller);
    }
    let keep_in_resource = |path: &[Step]| {
        (path.len() == 1
            && (is_key(path.first(), "apiVersion")
                || is_key(path.first(), "kind")
                || is_key(path.first(), "metadata")))
            || (path.len() == 2 && is_key(path.first(), "metadata") && is_key(path.get(1), "name"))
    };
    for (index, resource_value) in case.resources.iter().enumerate() {
        for path in paths(resource_value, &keep_in_resource) {
            let mut smaller = case.clone();
            delete(&mut smaller.resources[index], &path);
            candidates.push(smaller);
        }
    }
    candidates
}

/// Renames a case (and its policy, whose name identifies the case in both tools' output).
fn renamed(mut case: Case, name: String) -> Case {
    case.policy["metadata"]["name"] = Value::String(name.clone());
    case.name = name;
    case
}

/// The smallest case found, within `rounds` rounds, on which the two tools still give `wanted`
/// (Kyverno's and Portcullis's observations) for the expectation `key`.
pub fn minimise(
    case: &Case,
    key: &Key,
    wanted: &(Observations, Observations),
    kyverno: &Path,
    portcullis: &Path,
    work: &Path,
    rounds: usize,
) -> Case {
    let (_, rule, resource) = key;
    let mut best = case.clone();
    for round in 0..rounds {
        let candidates: Vec<Case> = reductions(&best, rule, resource)
            .into_iter()
            .enumerate()
            .map(|(index, candidate)| {
                renamed(candidate, format!("{}-r{round}c{index:04}", case.name))
            })
            .collect();
        if candidates.is_empty() {
            break;
        }
        let root = work.join(format!("{}-round{round}", case.name));
        for candidate in &candidates {
            tools::write_case(&root, candidate).expect("write a candidate case");
        }
        let from_kyverno = tools::kyverno(kyverno, &root);
        let from_portcullis = tools::portcullis(portcullis, &root);
        let kept = candidates.into_iter().find(|candidate| {
            let candidate_key = (candidate.name.clone(), rule.clone(), resource.clone());
            from_kyverno.observations(&candidate_key) == wanted.0
                && from_portcullis.observations(&candidate_key) == wanted.1
        });
        let _ = std::fs::remove_dir_all(&root);
        match kept {
            Some(smaller) => best = renamed(smaller, case.name.clone()),
            None => break,
        }
    }
    best
}
