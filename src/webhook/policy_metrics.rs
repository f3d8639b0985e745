//! Metric handles for one active policy set, resolved on first use and kept beside the set, so
//! a review pays no label hashing per policy or per rule result: with `with_label_values` on
//! every call, the per-policy timer and the result counters cost about 85 ns per policy and
//! more per result, a noticeable share of a 10-policy review. A handle is created only when its
//! series is first observed, so `/metrics` shows no zero series for combinations never seen;
//! the exception counters are the exception: each rule a loaded PolicyException names has its
//! series from the first scrape, so an alert on its increase sees the first skip.

use crate::eval::{Observer, RuleResult, Status};
use crate::metrics::{Metrics, ShardedCounter, ShardedHistogram};
use crate::policy::{FailureAction, Policy, PolicySet};
use std::sync::OnceLock;
use std::time::Instant;

const STATUSES: [Status; 5] = [
    Status::Pass,
    Status::Fail,
    Status::Warn,
    Status::Error,
    Status::Skip,
];
const ACTIONS: [FailureAction; 2] = [FailureAction::Audit, FailureAction::Enforce];

type ResultCounters = [[OnceLock<ShardedCounter>; ACTIONS.len()]; STATUSES.len()];

pub struct PolicyMetrics {
    policies: Vec<PolicyHandles>,
}

struct PolicyHandles {
    execution_time: OnceLock<ShardedHistogram>,
    /// One entry per rule of `rules` followed by `autogen_rules`.
    results: Vec<ResultCounters>,
    /// One entry per rule as `results`: the keys of the exceptions naming it (unique in a
    /// set), each with its skip counter.
    exception_skips: Vec<Vec<(String, ShardedCounter)>>,
}

impl PolicyMetrics {
    /// Handles for `set`, with the skip series of every rule its exceptions name created in
    /// `metrics` at zero.
    pub fn new(set: &PolicySet, metrics: &Metrics) -> Self {
        let policies = set
            .policies
            .iter()
            .map(|policy| {
                let rules = policy.rules.iter().chain(&policy.autogen_rules);
                PolicyHandles {
                    execution_time: OnceLock::new(),
                    results: rules.clone().map(|_| Default::default()).collect(),
                    exception_skips: rules
                        .map(|rule| exception_counters(set, policy, &rule.name, metrics))
                        .collect(),
                }
            })
            .collect();
        Self { policies }
    }

    /// The evaluation loop's observer for one review: it times each policy and counts each
    /// rule result into these handles, starting the first policy's clock now.
    pub fn observer<'a>(&'a self, metrics: &'a Metrics) -> Observing<'a> {
        Observing {
            handles: self,
            metrics,
            clock: Instant::now(),
        }
    }
}

fn exception_counters(
    set: &PolicySet,
    policy: &Policy,
    rule: &str,
    metrics: &Metrics,
) -> Vec<(String, ShardedCounter)> {
    set.exceptions
        .iter()
        .filter(|exception| exception.names_rule(policy, rule))
        .map(|exception| {
            let counter = metrics.policy_exception_skips.with_label_values(&[
                &policy.name,
                rule,
                &exception.key,
            ]);
            (exception.key.clone(), counter)
        })
        .collect()
}

/// Times policies and counts results as the loop judges them.
pub struct Observing<'a> {
    handles: &'a PolicyMetrics,
    metrics: &'a Metrics,
    /// When the policy being judged started: one clock read per policy, as its end is the next
    /// one's start.
    clock: Instant,
}

impl Observing<'_> {
    fn count_exceptions(&self, policy: usize, rule: usize, result: &RuleResult<'_>) {
        let counters = self
            .handles
            .policies
            .get(policy)
            .and_then(|handles| handles.exception_skips.get(rule));
        for exception in &result.exceptions {
            let known = counters.and_then(|counters| {
                counters
                    .iter()
                    .find(|(key, _)| *key == exception.key)
                    .map(|(_, counter)| counter)
            });
            match known {
                Some(counter) => counter.inc(),
                None => self
                    .metrics
                    .policy_exception_skips
                    .with_label_values(&[&result.policy.name, &result.rule.name, &exception.key])
                    .inc(),
            }
        }
    }
}

impl<'p> Observer<'p> for Observing<'_> {
    fn rule_judged(&mut self, policy: usize, rule: usize, result: &RuleResult<'p>) {
        if !result.exceptions.is_empty() {
            self.count_exceptions(policy, rule, result);
        }
        let status = result.outcome.status();
        let status_index = STATUSES.iter().position(|s| *s == status);
        let action_index = ACTIONS.iter().position(|a| *a == result.action);
        let (Some(status_index), Some(action_index)) = (status_index, action_index) else {
            return;
        };
        let Some(counter) = self
            .handles
            .policies
            .get(policy)
            .and_then(|handles| handles.results.get(rule))
            .map(|counters| &counters[status_index][action_index])
        else {
            return;
        };
        counter
            .get_or_init(|| {
                self.metrics.policy_results.with_label_values(&[
                    &result.policy.name,
                    &result.rule.name,
                    status.as_str(),
                    result.action.as_str(),
                ])
            })
            .inc();
    }

    fn policy_judged(&mut self, index: usize, policy: &'p Policy) {
        let finished = Instant::now();
        let seconds = finished.duration_since(self.clock).as_secs_f64();
        self.clock = finished;
        let Some(handles) = self.handles.policies.get(index) else {
            return;
        };
        handles
            .execution_time
            .get_or_init(|| {
                self.metrics
                    .policy_execution_duration
                    .with_label_values(&[&policy.name])
            })
            .observe(seconds);
    }
}
