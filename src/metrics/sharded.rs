//! Histograms, counters and gauges that threads update without sharing cache lines.
//!
//! Every review observes its own duration and one per policy, counts one result per rule, and
//! is counted in flight while it is judged. The `prometheus` crate's metrics keep one set of
//! atomics that every worker thread writes, so under load each update waits for the line to
//! come over from the other core: about 100 ns, ten times an uncontended one. With a hundred
//! policies on two threads that was a quarter of a review's time, and it grows with the cores.
//! Here each thread writes to a shard of its own (threads are spread over the shards in turn),
//! and a scrape adds the shards up. The exposition is the same as `prometheus::Histogram`'s,
//! `IntCounter`'s and `IntGauge`'s, and a histogram sample's count is the sum of its bucket
//! counts, so `_count` always equals the `+Inf` bucket.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// More shards than worker threads on the machines we run on; more only cost memory.
const SHARDS: usize = 8;

/// This thread's shard, assigned on first use.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// Two cache lines of counters (adjacent-line prefetching moves lines in pairs).
#[repr(align(128))]
#[derive(Default)]
struct Lines([AtomicU64; COUNTERS_PER_LINES]);

const COUNTERS_PER_LINES: usize = 16;

/// One thread's counters, in an allocation of whole aligned line pairs, so no two shards share
/// a cache line: the buckets, one per upper bound and one for values above the last (`+Inf`),
/// then the bits of the `f64` sum. Only its own thread usually writes a shard, so the sum's
/// update loop rarely repeats.
struct Shard(Box<[Lines]>);

impl Shard {
    fn new(counters: usize) -> Self {
        Self(
            (0..counters.div_ceil(COUNTERS_PER_LINES))
                .map(|_| Lines::default())
                .collect(),
        )
    }

    fn counter(&self, index: usize) -> Option<&AtomicU64> {
        self.0
            .get(index / COUNTERS_PER_LINES)?
            .0
            .get(index % COUNTERS_PER_LINES)
    }
}

/// One histogram series: fixed label values, shared by every clone.
#[derive(Clone)]
pub struct ShardedHistogram(Arc<HistogramSeries>);

struct HistogramSeries {
    upper_bounds: &'static [f64],
    label_pairs: Vec<LabelPair>,
    shards: Box<[Shard]>,
}

impl HistogramSeries {
    /// After the buckets and the `+Inf` bucket.
    fn sum_index(&self) -> usize {
        self.upper_bounds.len() + 1
    }
}

impl ShardedHistogram {
    pub fn observe(&self, value: f64) {
        let series = &self.0;
        let Some(shard) = series.shards.get(shard_index()) else {
            return;
        };
        let bucket = series
            .upper_bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(series.upper_bounds.len());
        if let Some(count) = shard.counter(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(sum) = shard.counter(series.sum_index()) {
            let _ = sum.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
        }
    }
}

impl Series for ShardedHistogram {
    type Shape = &'static [f64];
    const TYPE: MetricType = MetricType::HISTOGRAM;

    fn new(upper_bounds: &'static [f64], label_pairs: Vec<LabelPair>) -> Self {
        // The buckets and the sum; a zeroed counter is also the sum 0.0.
        let shards = (0..SHARDS)
            .map(|_| Shard::new(upper_bounds.len() + 2))
            .collect();
        Self(Arc::new(HistogramSeries {
            upper_bounds,
            label_pairs,
            shards,
        }))
    }

    fn metric(&self) -> proto::Metric {
        let series = &self.0;
        let mut per_bucket = vec![0u64; series.upper_bounds.len() + 1];
        let mut sum = 0.0;
        for shard in &series.shards {
            for (index, total) in per_bucket.iter_mut().enumerate() {
                *total += shard
                    .counter(index)
                    .map_or(0, |count| count.load(Ordering::Relaxed));
            }
            sum += shard
                .counter(series.sum_index())
                .map_or(0.0, |bits| f64::from_bits(bits.load(Ordering::Relaxed)));
        }
        let mut histogram = proto::Histogram::default();
        let mut cumulative = 0;
        let buckets = series
            .upper_bounds
            .iter()
            .zip(&per_bucket)
            .map(|(bound, count)| {
                cumulative += count;
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(cumulative);
                bucket
            })
            .collect();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(per_bucket.iter().sum());
        histogram.set_sample_sum(sum);
        let mut metric = proto::Metric::default();
        metric.set_label(series.label_pairs.clone());
        metric.set_histogram(histogram);
        metric
    }
}

/// One count per shard, for a counter or a gauge: fixed label values, shared by every clone.
/// Shards are added in wrapping arithmetic, so a gauge's shard may go below zero (a thing
/// counted in progress can end on another thread than it started on) and the sum is still
/// right.
struct CountSeries {
    label_pairs: Vec<LabelPair>,
    /// A whole line pair per shard for one count: the space buys the absence of sharing.
    shards: Box<[Lines]>,
}

impl CountSeries {
    fn new(label_pairs: Vec<LabelPair>) -> Arc<Self> {
        Arc::new(Self {
            label_pairs,
            shards: (0..SHARDS).map(|_| Lines::default()).collect(),
        })
    }

    /// Adds `delta`, wrapping: `u64::MAX` takes one away.
    fn add(&self, delta: u64) {
        if let Some(lines) = self.shards.get(shard_index()) {
            lines.0[0].fetch_add(delta, Ordering::Relaxed);
        }
    }

    fn total(&self) -> u64 {
        self.shards.iter().fold(0u64, |total, lines| {
            total.wrapping_add(lines.0[0].load(Ordering::Relaxed))
        })
    }

    fn metric(&self, set_value: impl FnOnce(&mut proto::Metric)) -> proto::Metric {
        let mut metric = proto::Metric::default();
        metric.set_label(self.label_pairs.clone());
        set_value(&mut metric);
        metric
    }
}

/// One counter series.
#[derive(Clone)]
pub struct ShardedCounter(Arc<CountSeries>);

impl ShardedCounter {
    pub fn inc(&self) {
        self.0.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.total()
    }
}

impl Series for ShardedCounter {
    type Shape = ();
    const TYPE: MetricType = MetricType::COUNTER;

    fn new((): (), label_pairs: Vec<LabelPair>) -> Self {
        Self(CountSeries::new(label_pairs))
    }

    fn metric(&self) -> proto::Metric {
        self.0.metric(|metric| {
            let mut counter = proto::Counter::default();
            // As `IntCounter` exposes its count.
            counter.set_value(self.get() as f64);
            metric.set_counter(counter);
        })
    }
}

/// One gauge series that goes up and down by one, as a count of things in progress.
#[derive(Clone)]
pub struct ShardedGauge(Arc<CountSeries>);

impl ShardedGauge {
    pub fn inc(&self) {
        self.0.add(1);
    }

    pub fn dec(&self) {
        self.0.add(u64::MAX);
    }

    pub fn get(&self) -> i64 {
        i64::from_ne_bytes(self.0.total().to_ne_bytes())
    }
}

impl Series for ShardedGauge {
    type Shape = ();
    const TYPE: MetricType = MetricType::GAUGE;

    fn new((): (), label_pairs: Vec<LabelPair>) -> Self {
        Self(CountSeries::new(label_pairs))
    }

    fn metric(&self) -> proto::Metric {
        self.0.metric(|metric| {
            let mut gauge = proto::Gauge::default();
            // As `IntGauge` exposes its value.
            gauge.set_value(self.get() as f64);
            metric.set_gauge(gauge);
        })
    }
}

/// What a family holds: one kind of sharded series.
pub trait Series: Clone + Send + Sync + 'static {
    /// What every series of a family shares: a histogram's bucket bounds.
    type Shape: Copy + Send + Sync + 'static;
    const TYPE: MetricType;
    fn new(shape: Self::Shape, label_pairs: Vec<LabelPair>) -> Self;
    fn metric(&self) -> proto::Metric;
}

/// A family with variable labels, like `prometheus::HistogramVec` or `IntCounterVec`.
#[derive(Clone)]
pub struct ShardedVec<S: Series>(Arc<Family<S>>);

pub type ShardedHistogramVec = ShardedVec<ShardedHistogram>;
pub type ShardedCounterVec = ShardedVec<ShardedCounter>;
pub type ShardedGaugeVec = ShardedVec<ShardedGauge>;

struct Family<S: Series> {
    desc: Desc,
    shape: S::Shape,
    series: RwLock<BTreeMap<Vec<String>, S>>,
}

impl ShardedHistogramVec {
    pub fn new(
        name: &str,
        help: &str,
        label_names: &[&str],
        upper_bounds: &'static [f64],
    ) -> Result<Self, prometheus::Error> {
        Self::with_shape(name, help, label_names, upper_bounds)
    }
}

impl<S: Series<Shape = ()>> ShardedVec<S> {
    pub fn new(name: &str, help: &str, label_names: &[&str]) -> Result<Self, prometheus::Error> {
        Self::with_shape(name, help, label_names, ())
    }
}

impl<S: Series> ShardedVec<S> {
    fn with_shape(
        name: &str,
        help: &str,
        label_names: &[&str],
        shape: S::Shape,
    ) -> Result<Self, prometheus::Error> {
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            label_names
                .iter()
                .map(|label| (*label).to_owned())
                .collect(),
            HashMap::new(),
        )?;
        Ok(Self(Arc::new(Family {
            desc,
            shape,
            series: RwLock::new(BTreeMap::new()),
        })))
    }

    /// The series for these label values, created on first use. Callers on a hot path keep
    /// the handle: this takes a lock.
    pub fn with_label_values(&self, values: &[&str]) -> S {
        let family = &self.0;
        let key: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
        if let Some(series) = read(&family.series).get(&key) {
            return series.clone();
        }
        let mut all = family
            .series
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry(key)
            .or_insert_with(|| {
                let mut label_pairs: Vec<LabelPair> = family
                    .desc
                    .variable_labels
                    .iter()
                    .zip(values)
                    .map(|(name, value)| {
                        let mut pair = LabelPair::default();
                        pair.set_name(name.clone());
                        pair.set_value((*value).to_owned());
                        pair
                    })
                    .collect();
                // The prometheus crate's vectors expose labels in name order.
                label_pairs.sort_by(|a, b| a.name().cmp(b.name()));
                S::new(family.shape, label_pairs)
            })
            .clone()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: Series> Collector for ShardedVec<S> {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let family = &self.0;
        let mut out = MetricFamily::default();
        out.set_name(family.desc.fq_name.clone());
        out.set_help(family.desc.help.clone());
        out.set_field_type(S::TYPE);
        out.set_metric(read(&family.series).values().map(S::metric).collect());
        vec![out]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{
        Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
    };

    const BOUNDS: [f64; 4] = [0.001, 0.01, 0.1, 1.0];

    fn encode(collector: impl Collector + 'static) -> String {
        let registry = Registry::new();
        registry
            .register(Box::new(collector))
            .expect("registers once");
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .expect("encodes");
        String::from_utf8(text).expect("text format is UTF-8")
    }

    #[test]
    fn exposes_what_the_prometheus_histogram_exposes() {
        let ours = ShardedHistogramVec::new("latency_seconds", "How long.", &["policy"], &BOUNDS)
            .expect("valid metric");
        let reference = HistogramVec::new(
            HistogramOpts::new("latency_seconds", "How long.").buckets(BOUNDS.to_vec()),
            &["policy"],
        )
        .expect("valid metric");
        // Values on a bound, between bounds, above the last, from several threads.
        let observations = [
            ("b", 0.001),
            ("a", 0.0005),
            ("a", 0.05),
            ("b", 2.0),
            ("a", 1.0),
            ("a", 0.25),
        ];
        std::thread::scope(|scope| {
            for (policy, value) in observations {
                let ours = ours.clone();
                let reference = reference.clone();
                scope.spawn(move || {
                    ours.with_label_values(&[policy]).observe(value);
                    reference.with_label_values(&[policy]).observe(value);
                });
            }
        });
        let expected = encode(reference);
        assert!(expected.contains(r#"latency_seconds_bucket{policy="a",le="0.1"} 2"#));
        assert_eq!(encode(ours), expected);
    }

    #[test]
    fn exposes_what_the_prometheus_counter_exposes() {
        // Declared out of name order, as the result counters' labels are.
        let labels = ["policy", "rule", "result", "mode"];
        let ours =
            ShardedCounterVec::new("results_total", "Results.", &labels).expect("valid metric");
        let reference = IntCounterVec::new(Opts::new("results_total", "Results."), &labels)
            .expect("valid metric");
        let increments = [
            ["b", "r", "pass", "enforce"],
            ["a", "r", "fail", "audit"],
            ["a", "r", "pass", "enforce"],
            ["b", "r", "pass", "enforce"],
        ];
        std::thread::scope(|scope| {
            for values in increments {
                let ours = ours.clone();
                let reference = reference.clone();
                scope.spawn(move || {
                    for _ in 0..1_000 {
                        ours.with_label_values(&values).inc();
                        reference.with_label_values(&values).inc();
                    }
                });
            }
        });
        let expected = encode(reference);
        assert!(
            expected.contains(
                r#"results_total{mode="enforce",policy="b",result="pass",rule="r"} 2000"#
            )
        );
        assert_eq!(encode(ours), expected);
    }

    #[test]
    fn a_gauge_sums_its_shards_even_when_one_goes_below_zero() {
        let family = ShardedGaugeVec::new("in_flight", "In flight.", &[]).expect("valid metric");
        let gauge = family.with_label_values(&[]);
        // Three started here and ended on other threads, one still running there.
        for _ in 0..3 {
            gauge.inc();
        }
        std::thread::scope(|scope| {
            for _ in 0..3 {
                let gauge = gauge.clone();
                scope.spawn(move || gauge.dec());
            }
        });
        gauge.inc();
        assert_eq!(gauge.get(), 1);
        let reference = prometheus::IntGauge::new("in_flight", "In flight.").expect("valid metric");
        reference.set(1);
        assert_eq!(encode(family), encode(reference));
    }

    #[test]
    fn threads_spread_over_shards_and_every_observation_counts() {
        let histogram = ShardedHistogramVec::new("seconds", "How long.", &[], &BOUNDS)
            .expect("valid metric")
            .with_label_values(&[]);
        let used: std::collections::HashSet<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let histogram = histogram.clone();
                    scope.spawn(move || {
                        for _ in 0..10_000 {
                            histogram.observe(0.002);
                        }
                        shard_index()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("observing thread"))
                .collect()
        });
        assert!(used.len() > 1, "threads share one shard: {used:?}");
        let metric = histogram.metric();
        assert_eq!(metric.get_histogram().get_sample_count(), 40_000);
        let buckets = metric.get_histogram().get_bucket();
        assert_eq!(buckets[0].cumulative_count(), 0);
        assert_eq!(buckets[1].cumulative_count(), 40_000);
        assert!((metric.get_histogram().get_sample_sum() - 80.0).abs() < 1e-6);
    }
}
