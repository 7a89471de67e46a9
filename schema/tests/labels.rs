//! The Chinese that the workbook, the demo and the import print for articles, patterns,
//! handling and rules.

use std::collections::HashSet;

use yibao_schema::record::{
    chinese_number, Handling, LegalBasis, Pattern, ReferralTarget, SuspensionScope,
};
use yibao_schema::rules::Rule;

#[test]
fn articles_and_items_in_chinese_numerals() {
    let cases = [
        (1, "一"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (38, "三十八"),
        (40, "四十"),
        (99, "九十九"),
        (100, "一百"),
        (105, "一百零五"),
        (110, "一百一十"),
        (255, "二百五十五"),
        (0, "零"),
    ];
    for (n, text) in cases {
        assert_eq!(chinese_number(n), text, "{n}");
    }
    let basis = |article, item| LegalBasis { article, item };
    assert_eq!(basis(38, Some(1)).chinese(), "第三十八条第一项");
    assert_eq!(basis(40, None).chinese(), "第四十条");
    assert_eq!(basis(39, Some(7)).chinese(), "第三十九条第七项");
}

#[test]
fn patterns_and_handling_as_bureaus_write_them() {
    assert_eq!(Pattern::SplitHospitalisation.chinese(), "分解住院");
    assert_eq!(Pattern::Other("超量开药".into()).chinese(), "超量开药");
    assert_eq!(Handling::OrderToCorrect.chinese(), "责令改正");
    assert_eq!(
        Handling::Suspension {
            scope: SuspensionScope::NetworkedSettlement,
            months: 6
        }
        .chinese(),
        "暂停医保联网结算6个月"
    );
    assert_eq!(
        Handling::Referral {
            to: ReferralTarget::Police
        }
        .chinese(),
        "移交公安机关"
    );
    assert_eq!(
        Handling::StaffPoints { points: 3 }.chinese(),
        "相关人员记3分"
    );
}

#[test]
fn every_rule_has_its_own_chinese_sentence() {
    let mut seen = HashSet::new();
    for rule in Rule::ALL {
        let text = rule.chinese();
        assert!(
            text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{rule}: {text}"
        );
        assert!(seen.insert(text), "{rule} shares its sentence: {text}");
    }
    assert_eq!(Rule::PenaltyRange.chinese(), "罚款或违约金超出政策范围");
}
