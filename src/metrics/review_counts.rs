//! `portcullis_admission_requests_total`, whose `kind` label comes from the request.
//!
//! The apiserver sends only the kinds the webhook configuration registers, but a client that
//! reaches the port directly could send a new kind with every request, and every new label value
//! is a series the registry keeps for good. So the first [`MAX_KIND_LABELS`] kinds are named and
//! any later one, or any text that cannot be a kind, is counted as [`OTHER_KIND`]. The handles of each kind are kept, so a review pays
//! one map lookup instead of hashing three label values. The map is read without a lock, as the
//! counters are written without one: a new kind (at most [`MAX_KIND_LABELS`] of them) copies
//! it and swaps the copy in, so reviews never write a line the other workers read.

use super::{ShardedCounter, ShardedCounterVec};
use crate::matching::Operation;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Far more kinds than a webhook configuration registers (pods, the pod controllers, the odd
/// custom resource), few enough that the series stay cheap.
pub const MAX_KIND_LABELS: usize = 64;

/// The `kind` label of reviews of kinds beyond the first [`MAX_KIND_LABELS`]; parentheses cannot
/// occur in a Kubernetes kind, so it names no real one.
pub const OTHER_KIND: &str = "(other)";

const OPERATIONS: [Operation; 4] = [
    Operation::Create,
    Operation::Update,
    Operation::Delete,
    Operation::Connect,
];

#[derive(Clone)]
pub struct ReviewCounts {
    family: ShardedCounterVec,
    by_kind: Arc<ArcSwap<HashMap<String, Arc<KindCounts>>>>,
    /// Held while a kind is added, so two new kinds do not each swap in a copy without the other.
    adding: Arc<Mutex<()>>,
}

/// One kind's counters by operation and decision, each created when first counted, so the
/// exposition shows no zero series for combinations never seen. Shared by every copy of the map.
type KindCounts = [[OnceLock<ShardedCounter>; 2]; OPERATIONS.len()];

/// Counts one review of the kind labelled `kind` in its counters.
fn count_in(
    counts: &KindCounts,
    family: &ShardedCounterVec,
    kind: &str,
    operation: Operation,
    allowed: bool,
) {
    let Some(by_decision) = OPERATIONS
        .iter()
        .position(|known| *known == operation)
        .and_then(|index| counts.get(index))
    else {
        return;
    };
    by_decision[usize::from(allowed)]
        .get_or_init(|| {
            family.with_label_values(&[
                operation.as_str(),
                kind,
                if allowed { "true" } else { "false" },
            ])
        })
        .inc();
}

impl ReviewCounts {
    pub fn new(family: ShardedCounterVec) -> Self {
        Self {
            family,
            by_kind: Arc::default(),
            adding: Arc::default(),
        }
    }

    /// The family, for registration.
    pub fn family(&self) -> &ShardedCounterVec {
        &self.family
    }

    pub fn count(&self, operation: Operation, kind: &str, allowed: bool) {
        // A label value lives as long as the registry: only what can be a Kubernetes kind
        // (a DNS-1035 label once lower-cased) is kept as one.
        let kind = if is_kind(kind) { kind } else { OTHER_KIND };
        if let Some(counts) = self.by_kind.load().get(kind) {
            count_in(counts, &self.family, kind, operation, allowed);
            return;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.by_kind.load_full();
        // Another review may have added the kind, or filled the last place, since the read.
        let label = if current.contains_key(kind) || current.len() < MAX_KIND_LABELS {
            kind
        } else {
            OTHER_KIND
        };
        let counts = match current.get(label) {
            Some(counts) => counts.clone(),
            None => {
                let counts = Arc::new(KindCounts::default());
                let mut grown = HashMap::clone(&current);
                grown.insert(label.to_owned(), counts.clone());
                self.by_kind.store(Arc::new(grown));
                counts
            }
        };
        count_in(&counts, &self.family, label, operation, allowed);
    }
}

fn is_kind(text: &str) -> bool {
    let bytes = text.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> ReviewCounts {
        ReviewCounts::new(
            ShardedCounterVec::new(
                "reviews_total",
                "Reviews.",
                &["operation", "kind", "allowed"],
            )
            .expect("valid metric"),
        )
    }

    fn value(counts: &ReviewCounts, labels: [&str; 3]) -> u64 {
        counts.family().with_label_values(&labels).get()
    }

    #[test]
    fn kinds_beyond_the_limit_are_counted_as_other() {
        let counts = counts();
        counts.count(Operation::Create, "Pod", true);
        for index in 0..MAX_KIND_LABELS + 10 {
            counts.count(Operation::Create, &format!("Kind{index}"), false);
        }
        // A kind named while there was room keeps its name after the limit is reached.
        counts.count(Operation::Create, "Pod", true);
        counts.count(Operation::Update, "Pod", false);

        assert_eq!(value(&counts, ["CREATE", "Pod", "true"]), 2);
        assert_eq!(value(&counts, ["UPDATE", "Pod", "false"]), 1);
        assert_eq!(value(&counts, ["CREATE", "Kind0", "false"]), 1);
        let named = MAX_KIND_LABELS - 1;
        assert_eq!(
            value(&counts, ["CREATE", &format!("Kind{}", named - 1), "false"]),
            1
        );
        assert_eq!(value(&counts, ["CREATE", OTHER_KIND, "false"]), 11);

        let families = prometheus::core::Collector::collect(counts.family());
        let series = families[0].get_metric();
        let kinds: std::collections::BTreeSet<&str> = series
            .iter()
            .flat_map(|metric| metric.get_label())
            .filter(|label| label.name() == "kind")
            .map(|label| label.value())
            .collect();
        assert_eq!(kinds.len(), MAX_KIND_LABELS + 1, "{kinds:?}");
        assert_eq!(series.len(), MAX_KIND_LABELS + 2);
    }

    #[test]
    fn what_cannot_be_a_kind_is_counted_as_other() {
        let counts = counts();
        let long = "K".repeat(64);
        for kind in [
            "",
            "pod\nFORGED",
            "Pod Sandbox",
            "-Pod",
            "Pod-",
            "9Pod",
            long.as_str(),
        ] {
            counts.count(Operation::Create, kind, true);
        }
        counts.count(Operation::Create, &"K".repeat(63), true);
        counts.count(Operation::Create, "Custom-Resource2", true);
        assert_eq!(value(&counts, ["CREATE", OTHER_KIND, "true"]), 7);
        assert_eq!(value(&counts, ["CREATE", &"K".repeat(63), "true"]), 1);
        assert_eq!(value(&counts, ["CREATE", "Custom-Resource2", "true"]), 1);
    }

    #[test]
    fn a_known_kind_is_counted_while_a_new_one_is_being_added() {
        let counts = counts();
        counts.count(Operation::Create, "Pod", true);
        let adding = counts.adding.lock().expect("not poisoned");
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let counting = counts.clone();
        let reviewer = std::thread::spawn(move || {
            counting.count(Operation::Create, "Pod", true);
            let _ = done_tx.send(());
        });
        let counted = done_rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(adding);
        assert!(
            counted.is_ok(),
            "counting a known kind waited for a new one"
        );
        reviewer.join().expect("the reviewer");
        assert_eq!(value(&counts, ["CREATE", "Pod", "true"]), 2);
    }

    #[test]
    fn counts_from_many_threads_all_arrive() {
        let counts = counts();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let counts = counts.clone();
                scope.spawn(move || {
                    for index in 0..1_000 {
                        let kind = format!("Kind{}", (thread * 1_000 + index) % 100);
                        counts.count(Operation::Delete, &kind, true);
                    }
                });
            }
        });
        let families = prometheus::core::Collector::collect(counts.family());
        let total: f64 = families[0]
            .get_metric()
            .iter()
            .map(|metric| metric.get_counter().get_value())
            .sum();
        assert_eq!(total, 4_000.0);
        assert_eq!(
            value(&counts, ["DELETE", OTHER_KIND, "true"]),
            4_000 - MAX_KIND_LABELS as u64 * 40
        );
    }
}
