//! Request-latency histograms for `/metrics`, in the Prometheus text format: one histogram
//! per matched route and status class (`yibao_http_request_duration_seconds`). The route
//! label is the router's pattern (`/v1/logs/{log}/entries`), never the raw path, so the
//! number of series stays bounded; unmatched paths share the label `unmatched`.
//! Not here: what the counters mean for the network (sync lag, peers: `network.rs`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Bucket upper bounds, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// One histogram: a count per bucket (not cumulative), the total and the sum.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            if let Some(bucket) = self.buckets.get(i) {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// Histograms by (route, status class).
#[derive(Debug, Default)]
pub struct LatencyHistograms {
    by_route: RwLock<BTreeMap<(String, &'static str), Arc<Histogram>>>,
}

/// `2xx`, `3xx`, `4xx` or `5xx` (anything else counts as `5xx`).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl LatencyHistograms {
    /// Records one request.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let class = status_class(status);
        let found = self
            .by_route
            .read()
            .ok()
            .and_then(|map| map.get(&(route.to_string(), class)).cloned());
        let histogram = match found {
            Some(h) => h,
            None => match self.by_route.write() {
                Ok(mut map) => map
                    .entry((route.to_string(), class))
                    .or_insert_with(|| Arc::new(Histogram::default()))
                    .clone(),
                Err(_) => return,
            },
        };
        histogram.observe(elapsed);
    }

    /// The histograms in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        const NAME: &str = "yibao_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {NAME} Time to answer an HTTP request, by matched route and status class."
        );
        let _ = writeln!(out, "# TYPE {NAME} histogram");
        let Ok(map) = self.by_route.read() else {
            return;
        };
        for ((route, class), h) in map.iter() {
            let labels = format!("route=\"{}\",status=\"{class}\"", escape_label(route));
            let mut cumulative = 0u64;
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{NAME}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{NAME}_count{{{labels}}} {count}");
        }
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_everything() {
        let h = LatencyHistograms::default();
        h.observe("/v1/logs", 200, Duration::from_micros(50));
        h.observe("/v1/logs", 200, Duration::from_millis(3));
        h.observe("/v1/logs", 404, Duration::from_secs(30));
        let mut out = String::new();
        h.render(&mut out);
        assert!(out.contains(
            "yibao_http_request_duration_seconds_bucket{route=\"/v1/logs\",status=\"2xx\",le=\"0.0001\"} 1\n"
        ), "{out}");
        assert!(out.contains(
            "yibao_http_request_duration_seconds_bucket{route=\"/v1/logs\",status=\"2xx\",le=\"0.005\"} 2\n"
        ), "{out}");
        assert!(out.contains(
            "yibao_http_request_duration_seconds_bucket{route=\"/v1/logs\",status=\"4xx\",le=\"5\"} 0\n"
        ), "{out}");
        assert!(
            out.contains(
                "yibao_http_request_duration_seconds_count{route=\"/v1/logs\",status=\"4xx\"} 1\n"
            ),
            "{out}"
        );
    }
}
