//! Latency histograms and how they are reported: in microseconds inside,
//! as milliseconds with two decimals in the result.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A histogram of microseconds, 1 µs to 10 minutes, three significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// The percentiles of the result (`null` when nothing was recorded).
pub(crate) fn percentiles(histogram: &Histogram<u64>) -> Value {
    if histogram.is_empty() {
        return json!(null);
    }
    let ms = |quantile: f64| (histogram.value_at_quantile(quantile) as f64 / 1000.0 * 100.0).round() / 100.0;
    json!({"count": histogram.len(), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
           "max_ms": (histogram.max() as f64 / 10.0).round() / 100.0})
}

/// [`percentiles`] as one cell of the printed table.
pub(crate) fn format_percentiles(percentiles: &Value) -> String {
    if percentiles.is_null() {
        return "-".into();
    }
    let p = percentiles;
    format!("p50 {} / p99 {} / p99.9 {} ms (n={})", p["p50_ms"], p["p99_ms"], p["p999_ms"], p["count"])
}
