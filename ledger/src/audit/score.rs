//! The ranking score (赋分): a weighted sum of five measures, each scaled by the best
//! county's value so that a county that leads on every measure scores the sum of the
//! positive weights (100 with the defaults). Configurable: `yibao audit --weights FILE`
//! reads a JSON object of these fields.
//!
//! | measure | meaning | default weight |
//! |---|---|---|
//! | `close_out` | closed-out items / items (1 with no items) | 30 |
//! | `coverage` | inspections in the period / institutions registered | 25 |
//! | `recovery` | amount recovered + damages + fines per institution | 25 |
//! | `exposure` | notices published in the period | 20 |
//! | `overdue` | overdue items / items (0 with no items) | −30 |
//! | `breaches` | breaches / entries of the log | −20 |
//!
//! score = Σ weight × value / max(value over counties) (a term is 0 when the max is 0);
//! counties rank by score, ties by division code.

use serde::{Deserialize, Serialize};

use super::CountyTable;

/// The weights of the ranking score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreWeights {
    /// Weight of the close-out rate.
    pub close_out: f64,
    /// Weight of inspections per institution.
    pub coverage: f64,
    /// Weight of money recovered, damages and fines per institution.
    pub recovery: f64,
    /// Weight of notices published.
    pub exposure: f64,
    /// Weight of the overdue rate (negative: overdue items cost points).
    pub overdue: f64,
    /// Weight of breaches per entry (negative).
    pub breaches: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            close_out: 30.0,
            coverage: 25.0,
            recovery: 25.0,
            exposure: 20.0,
            overdue: -30.0,
            breaches: -20.0,
        }
    }
}

impl ScoreWeights {
    /// Checks that every weight is a finite number.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("close_out", self.close_out),
            ("coverage", self.coverage),
            ("recovery", self.recovery),
            ("exposure", self.exposure),
            ("overdue", self.overdue),
            ("breaches", self.breaches),
        ];
        for (name, w) in all {
            if !w.is_finite() {
                return Err(format!("weight `{name}` is not a finite number"));
            }
        }
        Ok(())
    }
}

fn ratio(numerator: u64, denominator: u64, empty: f64) -> f64 {
    if denominator == 0 {
        empty
    } else {
        numerator as f64 / denominator as f64
    }
}

/// The scaled measures of a county, in weight order.
fn measures(t: &CountyTable) -> [f64; 6] {
    [
        ratio(t.items.closed_out, t.items.total, 1.0),
        ratio(t.inspections, t.institutions, 0.0),
        ratio(t.amounts.total, t.institutions, 0.0),
        t.notices as f64,
        ratio(t.items.overdue, t.items.total, 0.0),
        ratio(t.breaches, t.entries, 0.0),
    ]
}

/// Whether a log is a city's (prefecture-level division code, `141100`: ends in `00`)
/// rather than a county's: the city office's own log is not ranked among its counties.
pub fn is_city_level(code: &str) -> bool {
    code.len() == 6 && code.ends_with("00")
}

/// Scores and ranks the counties; returns them best first, then any city-level log
/// ([`is_city_level`]) unranked: rank 0, score 0, and left out of the measures' maxima.
pub fn rank(counties: Vec<CountyTable>, w: &ScoreWeights) -> Vec<CountyTable> {
    let (ranked, mut unranked): (Vec<CountyTable>, Vec<CountyTable>) = counties
        .into_iter()
        .partition(|c| !is_city_level(&c.county));
    let mut out = rank_counties(ranked, w);
    unranked.sort_by(|a, b| a.county.cmp(&b.county));
    for log in &mut unranked {
        log.close_out_rate = round4(measures(log)[0]);
        log.score = 0.0;
        log.rank = 0;
    }
    out.extend(unranked);
    out
}

fn rank_counties(mut counties: Vec<CountyTable>, w: &ScoreWeights) -> Vec<CountyTable> {
    let values: Vec<[f64; 6]> = counties.iter().map(measures).collect();
    let mut max = [0f64; 6];
    for v in &values {
        for (m, x) in max.iter_mut().zip(v) {
            *m = m.max(*x);
        }
    }
    let weights = [
        w.close_out,
        w.coverage,
        w.recovery,
        w.exposure,
        w.overdue,
        w.breaches,
    ];
    for (county, v) in counties.iter_mut().zip(&values) {
        let mut score = 0.0;
        for ((weight, value), max) in weights.iter().zip(v).zip(&max) {
            if *max > 0.0 {
                score += weight * value / max;
            }
        }
        county.close_out_rate = round4(v[0]);
        county.score = round4(score);
    }
    counties.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.county.cmp(&b.county))
    });
    for (i, county) in counties.iter_mut().enumerate() {
        county.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    counties
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Amounts, ItemCounts};

    fn county(code: &str, closed: u64, items: u64, inspections: u64, overdue: u64) -> CountyTable {
        CountyTable {
            county: code.into(),
            institutions: 10,
            inspections,
            items: ItemCounts {
                total: items,
                closed_out: closed,
                overdue,
                ..ItemCounts::default()
            },
            amounts: Amounts {
                total: 1000,
                ..Amounts::default()
            },
            notices: 1,
            ..CountyTable::default()
        }
    }

    #[test]
    fn the_leader_on_every_measure_scores_the_positive_weights() {
        let ranked = rank(
            vec![county("141126", 1, 4, 5, 2), county("141125", 4, 4, 10, 0)],
            &ScoreWeights::default(),
        );
        assert_eq!(ranked[0].county, "141125");
        assert_eq!(ranked[0].rank, 1);
        assert_eq!(ranked[0].score, 100.0);
        assert_eq!(ranked[0].close_out_rate, 1.0);
        // 30 × 0.25 + 25 × 0.5 + 25 + 20 − 30 × 1.
        assert_eq!(ranked[1].score, 35.0);
        assert_eq!(ranked[1].rank, 2);
    }

    #[test]
    fn breaches_cost_points_and_ties_go_by_code() {
        let mut a = county("141127", 4, 4, 10, 0);
        a.breaches = 3;
        a.entries = 100;
        let b = county("141125", 4, 4, 10, 0);
        let c = county("141126", 4, 4, 10, 0);
        let ranked = rank(vec![a, c, b], &ScoreWeights::default());
        let order: Vec<&str> = ranked.iter().map(|c| c.county.as_str()).collect();
        assert_eq!(order, ["141125", "141126", "141127"]);
        assert_eq!(ranked[2].score, 80.0);
    }

    #[test]
    fn the_city_offices_own_log_is_listed_unranked_after_the_counties() {
        // The city log leads on every measure, yet sets no maxima and takes no place.
        let ranked = rank(
            vec![
                county("141100", 9, 9, 90, 0),
                county("141126", 1, 4, 5, 2),
                county("141125", 4, 4, 10, 0),
            ],
            &ScoreWeights::default(),
        );
        let order: Vec<(&str, u32)> = ranked.iter().map(|c| (c.county.as_str(), c.rank)).collect();
        assert_eq!(order, [("141125", 1), ("141126", 2), ("141100", 0)]);
        assert_eq!(ranked[0].score, 100.0);
        assert_eq!(ranked[2].score, 0.0);
        assert_eq!(ranked[2].close_out_rate, 1.0);
        assert!(is_city_level("141100") && !is_city_level("141125"));
    }

    #[test]
    fn weights_must_be_finite() {
        let w = ScoreWeights {
            coverage: f64::NAN,
            ..ScoreWeights::default()
        };
        assert!(w.validate().unwrap_err().contains("coverage"));
        let parsed: ScoreWeights = serde_json::from_str(r#"{"exposure": 0}"#).unwrap();
        assert_eq!(parsed.exposure, 0.0);
        assert_eq!(parsed.close_out, 30.0);
        assert!(serde_json::from_str::<ScoreWeights>(r#"{"bogus": 1}"#).is_err());
    }
}
