//! The network policy (监管政策参数) as data: grade ratio and scale, fine and damages ranges
//! per article of the Regulation, suspension months, privacy limits. It becomes part of
//! the signed network manifest, so it has a JSON and a canonical CBOR form and no floats.
//!
//! This module only holds and sanity-checks the numbers. It deliberately does not apply
//! them: `rules` and `state` do.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::{Fen, Multiple};

/// An inclusive range of multiples, e.g. 1×–2×.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipleRange {
    /// The least multiple allowed.
    pub min: Multiple,
    /// The greatest multiple allowed.
    pub max: Multiple,
}

impl MultipleRange {
    /// Whether `m` lies within the range.
    pub fn contains(&self, m: Multiple) -> bool {
        self.min <= m && m <= self.max
    }
}

impl fmt::Display for MultipleRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×–{}×", self.min, self.max)
    }
}

/// An inclusive range of amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenRange {
    /// The least amount allowed.
    pub min: Fen,
    /// The greatest amount allowed.
    pub max: Fen,
}

impl FenRange {
    /// Whether `amount` lies within the range.
    pub fn contains(&self, amount: Fen) -> bool {
        self.min <= amount && amount <= self.max
    }
}

impl fmt::Display for FenRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} – {}", self.min, self.max)
    }
}

/// How the administrative fine (罚款) for an article is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FineRule {
    /// A multiple of the basis amount (the loss or the amount defrauded), within the range.
    Multiple(MultipleRange),
    /// A flat amount within the range, with no multiple.
    Flat(FenRange),
}

/// What the policy says about one article of the Regulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticlePolicy {
    /// The article number, e.g. 38.
    pub article: u8,
    /// How many items (项) the article has; a finding's item must be 1..=items.
    pub items: u8,
    /// The fine rule.
    pub fine: FineRule,
}

/// An inclusive range of months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthsRange {
    /// The least number of months.
    pub min: u8,
    /// The greatest number of months.
    pub max: u8,
}

/// The policy of one supervision network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The A:B:C:D ratio every grade set must follow.
    ///
    /// Default 3:4:2:1, Heze's fixed ratio (*seed* 004: “按照3:4:2:1比例划分为A、B、C、D
    /// 四个等级”).
    pub grade_ratio: [u32; 4],
    /// The highest score a grade may carry.
    ///
    /// Default 1,000 points, the Shandong base (domain.md “Credit grades”).
    pub max_grade_score: u32,
    /// Per-article rules: the items an article has and its fine.
    ///
    /// Defaults, from the Regulation (State Council Order 735) as summarised in domain.md
    /// “Money”: Art. 38 (7 items) 1×–2× the loss; Art. 39 (7 items) a flat ¥10,000–50,000;
    /// Art. 40 (4 items) 2×–5× the amount defrauded; Art. 41 (individuals; 4 items allowed,
    /// the article lists 3 plus the fraud paragraph) 2×–5×.
    pub articles: Vec<ArticlePolicy>,
    /// The range of liquidated-damages (违约金) multiples under the service agreement.
    ///
    /// Default 1×–5×: agreements differ per network (brief; *seed* 000 applies 2×).
    pub damages: MultipleRange,
    /// The range of months for a suspension.
    ///
    /// Default 6–12 months (Regulation Arts. 38 and 40: 暂停…6个月以上1年以下).
    pub suspension_months: MonthsRange,
    /// The most points for responsible staff in one decision.
    ///
    /// Default 12, the points at which payment qualification ends (domain.md “Money”).
    pub max_staff_points: u8,
    /// Whether every decision must be followed by at least one rectification item for its
    /// case. Checked by the city audit, not on append (a decision comes first).
    ///
    /// Default true (*seed* 004: every problem goes into the rectification ledger and is
    /// closed out, “闭环式、销号化管理”).
    pub decision_requires_rectification: bool,
    /// The most persons an exposure notice may mention (by surname).
    ///
    /// Default 10: notices name the responsible people (景某, 钱某某), not lists.
    pub max_exposure_persons: u32,
    /// The largest single amount a record may carry.
    ///
    /// Default ¥10,000,000,000 (10^12 fen): far above any case (Heze found > ¥1亿 over three
    /// years, *seed* 004) and far below `u64` overflow when summed.
    pub max_amount: Fen,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            grade_ratio: [3, 4, 2, 1],
            max_grade_score: 1000,
            articles: vec![
                ArticlePolicy {
                    article: 38,
                    items: 7,
                    fine: FineRule::Multiple(MultipleRange {
                        min: Multiple::whole(1),
                        max: Multiple::whole(2),
                    }),
                },
                ArticlePolicy {
                    article: 39,
                    items: 7,
                    fine: FineRule::Flat(FenRange {
                        min: Fen::new(1_000_000),
                        max: Fen::new(5_000_000),
                    }),
                },
                ArticlePolicy {
                    article: 40,
                    items: 4,
                    fine: FineRule::Multiple(MultipleRange {
                        min: Multiple::whole(2),
                        max: Multiple::whole(5),
                    }),
                },
                ArticlePolicy {
                    article: 41,
                    items: 4,
                    fine: FineRule::Multiple(MultipleRange {
                        min: Multiple::whole(2),
                        max: Multiple::whole(5),
                    }),
                },
            ],
            damages: MultipleRange {
                min: Multiple::whole(1),
                max: Multiple::whole(5),
            },
            suspension_months: MonthsRange { min: 6, max: 12 },
            max_staff_points: 12,
            decision_requires_rectification: true,
            max_exposure_persons: 10,
            max_amount: Fen::new(1_000_000_000_000),
        }
    }
}

/// Why a policy is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The grade ratio weights sum to zero.
    #[error("grade_ratio: the weights must not all be zero")]
    EmptyGradeRatio,
    /// A range has min above max.
    #[error("{field}: min is above max")]
    InvertedRange {
        /// The field.
        field: String,
    },
    /// An article appears twice.
    #[error("articles: Art. {0} appears more than once")]
    DuplicateArticle(u8),
    /// A maximum too large to keep sums exact in `u64`.
    #[error("max_amount: {0} is above the ceiling of 10^15 fen")]
    AmountCeiling(Fen),
}

/// The ceiling on `Policy::max_amount`: 10^15 fen, so that even 10^3 amounts sum in `u64`.
pub const AMOUNT_CEILING: Fen = Fen::new(1_000_000_000_000_000);

impl Policy {
    /// The rule for `article`, if the policy knows the article.
    pub fn article(&self, article: u8) -> Option<&ArticlePolicy> {
        self.articles.iter().find(|a| a.article == article)
    }

    /// The articles the policy knows, in order, e.g. "38, 39, 40, 41".
    pub fn article_list(&self) -> String {
        let numbers: Vec<String> = self
            .articles
            .iter()
            .map(|a| a.article.to_string())
            .collect();
        numbers.join(", ")
    }

    /// The grade ratio as text, e.g. "3:4:2:1".
    pub fn grade_ratio_text(&self) -> String {
        let parts: Vec<String> = self.grade_ratio.iter().map(u32::to_string).collect();
        parts.join(":")
    }

    /// Checks that the policy is usable: non-zero ratio, ordered ranges, unique articles.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.grade_ratio.iter().all(|&w| w == 0) {
            return Err(PolicyError::EmptyGradeRatio);
        }
        let inverted = |field: String| Err(PolicyError::InvertedRange { field });
        for (i, article) in self.articles.iter().enumerate() {
            let earlier = self.articles.get(..i).unwrap_or(&[]);
            if earlier.iter().any(|a| a.article == article.article) {
                return Err(PolicyError::DuplicateArticle(article.article));
            }
            let ordered = match article.fine {
                FineRule::Multiple(r) => r.min <= r.max,
                FineRule::Flat(r) => r.min <= r.max,
            };
            if !ordered {
                return inverted(format!("articles[{i}].fine"));
            }
        }
        if self.damages.min > self.damages.max {
            return inverted("damages".into());
        }
        if self.suspension_months.min > self.suspension_months.max {
            return inverted("suspension_months".into());
        }
        if self.max_amount > AMOUNT_CEILING {
            return Err(PolicyError::AmountCeiling(self.max_amount));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_matches_the_domain() {
        let p = Policy::default();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.grade_ratio_text(), "3:4:2:1");
        assert_eq!(
            p.article(40).map(|a| a.fine),
            Some(FineRule::Multiple(MultipleRange {
                min: Multiple::whole(2),
                max: Multiple::whole(5)
            }))
        );
        assert_eq!(
            p.article(39).map(|a| a.fine),
            Some(FineRule::Flat(FenRange {
                min: Fen::from_yuan(10_000).unwrap(),
                max: Fen::from_yuan(50_000).unwrap()
            }))
        );
        assert!(p.article(42).is_none());
    }

    #[test]
    fn broken_policies_are_refused() {
        let p = Policy {
            grade_ratio: [0; 4],
            ..Policy::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::EmptyGradeRatio));
        let mut p = Policy::default();
        p.damages.min = Multiple::whole(6);
        assert!(matches!(
            p.validate(),
            Err(PolicyError::InvertedRange { .. })
        ));
        let mut p = Policy::default();
        let first = p.articles[0];
        p.articles.push(first);
        assert_eq!(p.validate(), Err(PolicyError::DuplicateArticle(38)));
    }

    #[test]
    fn policy_cbor_round_trip_is_canonical() {
        let p = Policy::default();
        let bytes = crate::cbor::to_vec(&p).unwrap();
        let back: Policy = crate::cbor::from_slice_canonical(&bytes).unwrap();
        assert_eq!(back, p);
        // Multiples are integers of thousandths in CBOR: 5× is 5000 (0x19 0x13 0x88).
        assert!(bytes.windows(3).any(|w| w == [0x19, 0x13, 0x88]));
    }

    #[test]
    fn policy_json_round_trip() {
        let p = Policy::default();
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains("\"min\":\"1\""), "{text}");
        let back: Policy = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}
