//! The engine: `evaluate(&PolicySet, &Request) -> Report`. Pure and synchronous; the webhook,
//! `check` and `test` are thin adapters over its one loop, so the cluster and CI never disagree
//! about a verdict. What only one adapter needs (the webhook's deadline and metrics) goes in
//! through [`Budget`] and [`Observer`], not through a copy of the loop.

pub mod admission;
pub mod context;
mod exceptions;
mod expressions;
pub mod outcome;

pub use context::{Environment, Offline};
pub use outcome::{Report, RuleOutcome, RuleResult, Status};

use crate::autogen;
use crate::matching::{Gvk, MatchError, MatchTarget, Operation, UserInfo};
use crate::policy::{
    ActionOverride, ExceptionSet, FailureAction, Policy, PolicyException, PolicySet, Rule,
};
use context::ReviewVariables;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

/// One resource to judge, with the request facts rules can match on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub operation: Operation,
    pub gvk: &'a Gvk,
    pub subresource: &'a str,
    /// `Value::Null` when there is none (DELETE).
    pub object: &'a Value,
    /// `Value::Null` unless the request is an UPDATE or DELETE.
    pub old_object: &'a Value,
    /// `""` for cluster-scoped resources.
    pub namespace: &'a str,
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// Why `namespace_labels` can be `None` and how to supply them, for the error that
    /// `namespaceSelector` rules then answer.
    pub unknown_namespace_hint: &'a str,
    pub user: Option<&'a UserInfo>,
    /// True at admission: policies with `admission: false` sit out.
    pub admission: bool,
    /// The admission request as the apiserver sent it, which `{{ request.* }}` variables
    /// read; offline callers have none, and the variables then hold what the request knows.
    pub admission_request: Option<&'a Value>,
    /// What variables may look up beyond the request.
    pub environment: &'a dyn Environment,
}

impl<'a> Request<'a> {
    fn target(&self, object: &'a Value) -> MatchTarget<'a> {
        MatchTarget {
            operation: self.operation,
            gvk: self.gvk,
            subresource: self.subresource,
            object,
            namespace: self.namespace,
            namespace_labels: self.namespace_labels,
            unknown_namespace_hint: self.unknown_namespace_hint,
            user: self.user,
        }
    }

    fn object_namespace(object: &Value) -> Option<&str> {
        object.get("metadata")?.get("namespace")?.as_str()
    }
}

/// How long evaluation may run. It is checked before each rule that applies, so one slow
/// policy stops between its rules rather than at its end; a rule language that loops over its
/// input checks it inside the loop as well.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    deadline: Option<Instant>,
}

impl Budget {
    /// No limit: `check` and `test` judge every rule.
    pub const UNLIMITED: Self = Self { deadline: None };

    /// Until `deadline`, or without limit when there is none.
    pub fn until(deadline: Option<Instant>) -> Self {
        Self { deadline }
    }

    /// Whether the deadline has passed; reads the clock only when there is one.
    pub fn is_spent(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// What the loop reports as it goes, for an adapter that counts or times it (the webhook's
/// metrics). Every hook does nothing unless implemented, so a caller that only wants the
/// [`Report`] passes [`Unobserved`] and pays nothing.
pub trait Observer<'p> {
    /// After a rule gave `result`. `policy` is the policy's place in the set, `rule` the rule's
    /// place among the policy's rules followed by its generated rules.
    fn rule_judged(&mut self, _policy: usize, _rule: usize, _result: &RuleResult<'p>) {}

    /// After the loop has finished with the policy at `index` of the set, whether or not any
    /// of its rules applied, and also when the budget ran out inside it.
    fn policy_judged(&mut self, _index: usize, _policy: &'p Policy) {}
}

/// The observer of callers that want only the report.
pub struct Unobserved;

impl Observer<'_> for Unobserved {}

/// Every policy of `set`, with no limit and nobody watching: what `check` and `test` ask.
pub fn evaluate<'p>(set: &'p PolicySet, request: &Request<'_>) -> Report<'p> {
    evaluate_observed(set, request, &Budget::UNLIMITED, &mut Unobserved)
}

/// The one evaluation loop: every policy of `set` in order, every rule of each, until `budget`
/// is spent (then [`Report::unfinished`] is set and the results are those found before).
pub fn evaluate_observed<'p>(
    set: &'p PolicySet,
    request: &Request<'_>,
    budget: &Budget,
    observer: &mut impl Observer<'p>,
) -> Report<'p> {
    let mut report = Report::with_room_for(set);
    let variables = ReviewVariables::new(*request);
    for (index, policy) in set.policies.iter().enumerate() {
        let next = evaluate_policy(
            index,
            policy,
            &set.exceptions,
            &variables,
            budget,
            &mut report,
            observer,
        );
        observer.policy_judged(index, policy);
        if next == Next::OutOfTime {
            report.unfinished = true;
            break;
        }
    }
    report
}

fn evaluate_policy<'p>(
    index: usize,
    policy: &'p Policy,
    exceptions: &'p ExceptionSet,
    variables: &ReviewVariables<'_>,
    budget: &Budget,
    report: &mut Report<'p>,
    observer: &mut impl Observer<'p>,
) -> Next {
    let request = variables.request();
    if request.admission && !policy.admission {
        return Next::Continue;
    }
    if let Some(namespace) = &policy.namespace {
        let in_namespace = |object: &Value| {
            object.is_null()
                || Request::object_namespace(object).unwrap_or(request.namespace) == namespace
        };
        if request.namespace != namespace
            || !in_namespace(request.object)
            || !in_namespace(request.old_object)
        {
            return Next::Continue;
        }
    }
    // Those naming the policy, once per policy; no allocation when none does.
    let exceptions: Vec<&'p PolicyException> = exceptions.naming(policy).collect();
    let place = Place {
        policy: index,
        rule: 0,
    };
    let mut judge_rule = |place, rule| {
        judge(
            place,
            policy,
            rule,
            &exceptions,
            variables,
            budget,
            report,
            observer,
        )
    };
    // Generated rules are only for controller kinds; for those they replace any rule of the
    // policy written under a generated name. Two plain loops, not a filtered chain: every
    // policy of every review takes this path.
    let controller = autogen::is_controller_kind(&request.gvk.kind);
    for (rule_index, rule) in policy.rules.iter().enumerate() {
        if controller && rule.name.starts_with("autogen-") {
            continue;
        }
        let place = Place {
            rule: rule_index,
            ..place
        };
        match judge_rule(place, rule) {
            Next::Continue => {}
            stop => return stop,
        }
    }
    if controller {
        let first = policy.rules.len();
        for (rule_index, rule) in policy.autogen_rules.iter().enumerate() {
            let place = Place {
                rule: first + rule_index,
                ..place
            };
            match judge_rule(place, rule) {
                Next::Continue => {}
                stop => return stop,
            }
        }
    }
    Next::Continue
}

/// Where a rule is: its policy's place in the set, and its own among the policy's rules
/// followed by its generated rules.
#[derive(Clone, Copy)]
struct Place {
    policy: usize,
    rule: usize,
}

/// One rule into the report, if it applies.
#[allow(clippy::too_many_arguments)]
fn judge<'p>(
    place: Place,
    policy: &'p Policy,
    rule: &'p Rule,
    exceptions: &[&'p PolicyException],
    variables: &ReviewVariables<'_>,
    budget: &Budget,
    report: &mut Report<'p>,
    observer: &mut impl Observer<'p>,
) -> Next {
    let request = variables.request();
    let (outcome, exceptions) = match evaluate_rule(policy, rule, exceptions, variables, budget) {
        Judged::NotApplicable => return Next::Continue,
        Judged::OutOfTime => return Next::OutOfTime,
        Judged::Outcome(outcome) => (outcome, Vec::new()),
        Judged::Excepted(applied) => (
            RuleOutcome::Skip {
                message: Cow::Owned(exceptions::skip_message(&applied)),
            },
            applied,
        ),
    };
    let decisive = matches!(outcome, RuleOutcome::Pass { .. } | RuleOutcome::Fail { .. });
    report.results.push(RuleResult {
        policy,
        rule,
        action: effective_action(policy, rule, request),
        outcome,
        exceptions,
    });
    if let Some(result) = report.results.last() {
        observer.rule_judged(place.policy, place.rule, result);
    }
    if policy.apply_one && decisive {
        Next::Stop
    } else {
        Next::Continue
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    /// `applyRules: One` and the rule passed or failed.
    Stop,
    /// The budget ran out before a rule that applies.
    OutOfTime,
}

enum Judged<'p> {
    /// No response at all, not even a skip.
    NotApplicable,
    /// The budget ran out before the rule could be judged.
    OutOfTime,
    Outcome(RuleOutcome<'p>),
    /// These PolicyExceptions apply: the rule is skipped.
    Excepted(Vec<&'p PolicyException>),
}

/// The budget is checked once the rule is known to apply, before the work of judging it.
fn evaluate_rule<'p>(
    policy: &Policy,
    rule: &'p Rule,
    exceptions: &[&'p PolicyException],
    variables: &ReviewVariables<'_>,
    budget: &Budget,
) -> Judged<'p> {
    let request = variables.request();
    match rule_applies(rule, request) {
        Ok(false) => return Judged::NotApplicable,
        Ok(true) => {}
        // Not Kyverno's pattern error: the rule could not even be matched, so its violation
        // message would mislead.
        Err(MatchError(message)) => {
            return Judged::Outcome(RuleOutcome::Error {
                message: format!("rule {} could not be evaluated: {message}", rule.name),
            });
        }
    }
    if budget.is_spent() {
        return Judged::OutOfTime;
    }
    let outcome = match expressions::judge(policy, rule, exceptions, variables, budget) {
        Judged::Outcome(outcome) => outcome,
        other => return other,
    };
    let enforced = rule.failure_action.unwrap_or(policy.action) == FailureAction::Enforce;
    // Kyverno's check of the old object hands its precondition evaluator the rule's raw
    // preconditions wrapper, which it cannot read: for a rule with preconditions (even `{}`)
    // the old object never matches, and the new failure stands.
    if enforced
        && request.operation == Operation::Update
        && rule.allow_existing_violations
        && rule.preconditions.is_none()
        && matches!(outcome, RuleOutcome::Fail { .. })
        && !request.old_object.is_null()
    {
        // Kyverno matches the old object as a made-up user that no filter names, since whoever
        // created it need not be who updates it: a rule that picks requests by user does not
        // call the old object's violation its own.
        let nobody = UserInfo {
            username: "kyverno:kyverno-invalid-controller".to_owned(),
            groups: vec!["kyverno:invalidgroup".to_owned()],
            roles: vec!["kyverno:invalidrole".to_owned()],
            cluster_roles: vec!["kyverno:invalidrole".to_owned()],
        };
        let old_request = Request {
            operation: Operation::Create,
            object: request.old_object,
            old_object: &Value::Null,
            user: Some(&nobody),
            admission_request: None,
            ..*request
        };
        if rule_applies(rule, &old_request).unwrap_or(false) {
            // The old object is judged as if it were being created, by the real requester.
            let old_judged = Request {
                user: request.user,
                ..old_request
            };
            let old_variables = ReviewVariables::new(old_judged);
            // Exceptions were judged on the request: the rule is not excepted.
            if matches!(
                expressions::judge(policy, rule, &[], &old_variables, budget),
                Judged::Outcome(RuleOutcome::Fail { .. })
            ) {
                return Judged::Outcome(RuleOutcome::Skip {
                    message: Cow::Borrowed(
                        "skipping the rule evaluation as pre-existing violations are allowed",
                    ),
                });
            }
        }
    }
    Judged::Outcome(outcome)
}

/// Kyverno matches the new object, and the old one when there is no new one (a DELETE): an
/// absent object matches nothing, even filters that an object without labels would pass.
fn rule_applies(rule: &Rule, request: &Request<'_>) -> Result<bool, MatchError> {
    let mut object = request.object;
    let mut matched = !object.is_null() && rule.match_block.matches(&request.target(object))?;
    if !matched && object.is_null() && !request.old_object.is_null() {
        object = request.old_object;
        matched = rule.match_block.matches(&request.target(object))?;
    }
    if !matched {
        return Ok(false);
    }
    match &rule.exclude {
        Some(exclude) => Ok(!exclude.excludes(&request.target(object))?),
        None => Ok(true),
    }
}

/// The first that applies: rule overrides, the rule's action, policy overrides, the policy's.
pub fn effective_action(policy: &Policy, rule: &Rule, request: &Request<'_>) -> FailureAction {
    matching_override(&rule.action_overrides, request)
        .or(rule.failure_action)
        .or_else(|| matching_override(&policy.action_overrides, request))
        .unwrap_or(policy.action)
}

/// The action of the first override that applies. A plain loop: most rules and policies have
/// no overrides, and every result of every review asks.
fn matching_override(overrides: &[ActionOverride], request: &Request<'_>) -> Option<FailureAction> {
    for candidate in overrides {
        if override_matches(candidate, request) {
            return Some(candidate.action);
        }
    }
    None
}

fn override_matches(candidate: &ActionOverride, request: &Request<'_>) -> bool {
    let namespaces = candidate.namespaces.is_empty()
        || candidate
            .namespaces
            .iter()
            .any(|pattern| pattern.matches(request.namespace));
    let selector = match &candidate.namespace_selector {
        None => true,
        Some(selector) => request
            .namespace_labels
            .is_some_and(|labels| selector.matches_labels(labels)),
    };
    namespaces && selector
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load_str;
    use serde_json::json;
    use std::path::Path;
    use std::time::Duration;

    fn set(text: &str) -> PolicySet {
        let policies =
            load_str(text, Path::new("inline.yaml")).unwrap_or_else(|errors| panic!("{errors:#?}"));
        PolicySet::from(policies)
    }

    fn policy(name: &str, rules: &[&str]) -> String {
        let rules: String = rules
            .iter()
            .map(|rule| {
                format!(
                    "  - name: {rule}\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern:\n        spec:\n          containers:\n          - image: \"!*:latest\"\n"
                )
            })
            .collect();
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\nspec:\n  validationFailureAction: Enforce\n  rules:\n{rules}"
        )
    }

    fn judge<'p>(
        set: &'p PolicySet,
        object: &Value,
        kind: &str,
        budget: &Budget,
        observer: &mut impl Observer<'p>,
    ) -> Report<'p> {
        let gvk = Gvk {
            group: if kind == "Pod" { "" } else { "apps" }.to_owned(),
            version: "v1".to_owned(),
            kind: kind.to_owned(),
        };
        let request = Request {
            operation: Operation::Create,
            gvk: &gvk,
            subresource: "",
            object,
            old_object: &Value::Null,
            namespace: "shop",
            namespace_labels: None,
            unknown_namespace_hint: "",
            user: None,
            admission: true,
            admission_request: None,
            environment: crate::eval::Offline::system(),
        };
        evaluate_observed(set, &request, budget, observer)
    }

    /// Records what the loop reports, and spends the budget after the first rule.
    #[derive(Default)]
    struct Recorder {
        rules: Vec<(usize, usize, String)>,
        policies: Vec<(usize, String)>,
        sleep_until: Option<Instant>,
    }

    impl<'p> Observer<'p> for Recorder {
        fn rule_judged(&mut self, policy: usize, rule: usize, result: &RuleResult<'p>) {
            self.rules.push((policy, rule, result.rule.name.clone()));
            if let Some(deadline) = self.sleep_until.take() {
                while Instant::now() < deadline {
                    std::thread::sleep(deadline - Instant::now());
                }
            }
        }

        fn policy_judged(&mut self, index: usize, policy: &'p Policy) {
            self.policies.push((index, policy.name.clone()));
        }
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
    }

    #[test]
    fn the_deadline_stops_a_policy_between_its_rules() {
        let set = set(&policy("slow", &["first", "second", "third"]));
        let object = pod();
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut recorder = Recorder {
            sleep_until: Some(deadline),
            ..Recorder::default()
        };
        let report = judge(
            &set,
            &object,
            "Pod",
            &Budget::until(Some(deadline)),
            &mut recorder,
        );
        assert!(report.unfinished);
        let judged: Vec<&str> = report
            .results
            .iter()
            .map(|r| r.rule.name.as_str())
            .collect();
        assert_eq!(judged, ["first"]);
        assert_eq!(recorder.policies, [(0, "slow".to_owned())]);

        // A spent budget stops nothing where no rule applies.
        let deployment =
            json!({"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "web"}});
        let spent = Budget::until(Some(Instant::now()));
        let report = judge(&set, &deployment, "Service", &spent, &mut Unobserved);
        assert!(!report.unfinished && report.results.is_empty());
        // And stops before the first rule that does.
        let report = judge(&set, &object, "Pod", &spent, &mut Unobserved);
        assert!(report.unfinished && report.results.is_empty());
        // Without a limit every rule is judged.
        let report = judge(&set, &object, "Pod", &Budget::UNLIMITED, &mut Unobserved);
        assert!(!report.unfinished);
        assert_eq!(report.results.len(), 3);
    }

    #[test]
    fn the_observer_sees_each_result_at_its_place_and_each_policy_once() {
        let text = format!(
            "{}---\n{}",
            policy("one", &["a", "b"]),
            policy("two", &["c"])
        );
        let set = set(&text);
        let mut recorder = Recorder::default();
        judge(&set, &pod(), "Pod", &Budget::UNLIMITED, &mut recorder);
        let places: Vec<(usize, usize, &str)> = recorder
            .rules
            .iter()
            .map(|(policy, rule, name)| (*policy, *rule, name.as_str()))
            .collect();
        assert_eq!(places, [(0, 0, "a"), (0, 1, "b"), (1, 0, "c")]);
        assert_eq!(
            recorder.policies,
            [(0, "one".to_owned()), (1, "two".to_owned())]
        );

        // Generated rules come after the policy's own in the numbering, each rule's CronJob
        // variant after its other one.
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}});
        let mut recorder = Recorder::default();
        judge(
            &set,
            &deployment,
            "Deployment",
            &Budget::UNLIMITED,
            &mut recorder,
        );
        let places: Vec<(usize, usize, &str)> = recorder
            .rules
            .iter()
            .map(|(policy, rule, name)| (*policy, *rule, name.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                (0, 2, "autogen-a"),
                (0, 4, "autogen-b"),
                (1, 1, "autogen-c")
            ]
        );
    }
}
