//! Metric handles for one active policy set, resolved on first use and kept beside the set, so
//! a review pays no label hashing per policy or per rule result: with `with_label_values` on
//! every call, the per-policy timer and the result counters cost about 85 ns per policy and
//! more per result, a noticeable share of a 10-policy review. A handle is created only when its
//! series is first observed, so `/metrics` shows no zero series for combinations never seen.

use crate::eval::{RuleResult, Status};
use crate::metrics::{Metrics, ShardedCounter, ShardedHistogram};
use crate::policy::{FailureAction, Policy, PolicySet};
use std::sync::OnceLock;

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
}

impl PolicyMetrics {
    pub fn new(set: &PolicySet) -> Self {
        let policies = set
            .policies
            .iter()
            .map(|policy| PolicyHandles {
                execution_time: OnceLock::new(),
                results: (0..policy.rules.len() + policy.autogen_rules.len())
                    .map(|_| Default::default())
                    .collect(),
            })
            .collect();
        Self { policies }
    }

    /// Records the time the policy at `index` of the set took.
    pub fn observe_execution(
        &self,
        metrics: &Metrics,
        index: usize,
        policy: &Policy,
        seconds: f64,
    ) {
        let Some(handles) = self.policies.get(index) else {
            return;
        };
        handles
            .execution_time
            .get_or_init(|| {
                metrics
                    .policy_execution_duration
                    .with_label_values(&[&policy.name])
            })
            .observe(seconds);
    }

    /// Counts the results the policy at `index` of the set produced.
    pub fn count_results(&self, metrics: &Metrics, index: usize, results: &[RuleResult<'_>]) {
        let Some(handles) = self.policies.get(index) else {
            return;
        };
        for result in results {
            let policy = result.policy;
            let rule_index = policy
                .rules
                .iter()
                .chain(&policy.autogen_rules)
                .position(|rule| std::ptr::eq(rule, result.rule));
            let status = result.outcome.status();
            let status_index = STATUSES.iter().position(|s| *s == status);
            let action_index = ACTIONS.iter().position(|a| *a == result.action);
            let (Some(rule_index), Some(status_index), Some(action_index)) =
                (rule_index, status_index, action_index)
            else {
                continue;
            };
            handles.results[rule_index][status_index][action_index]
                .get_or_init(|| {
                    metrics.policy_results.with_label_values(&[
                        &policy.name,
                        &result.rule.name,
                        status.as_str(),
                        result.action.as_str(),
                    ])
                })
                .inc();
        }
    }
}
