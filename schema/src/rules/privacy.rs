//! Personal-data checks for public text (exposure notices): masked person names (景某,
//! 钱某某), resident ID numbers, mobile numbers, and full names after role words.
//!
//! The name check is a heuristic and is documented as one: it looks for a role word (患者,
//! 参保人, 医生, 院长, 负责人, 法定代表人, 药师, 护士), an optional separator (：, :, 为, 是,
//! a space), then a common surname followed by one or two Han characters that do not start
//! with 某. It misses names with rare surnames and can refuse an innocent phrase whose first
//! character after the role word is a surname (the officer then rewrites it). Surnames that
//! are also everyday function characters after a role word (于, 向, 和, 对, 将, 在, 曾,
//! 尚, 申, 付, 费, 余, 康, …) are left out on purpose. This module is deliberately not a
//! general PII detector.

/// Whether `c` is a Han (CJK ideograph) character.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

const MASK: char = '某';

/// Whether `s` is a surname alone: one or two Han characters, none of them 某.
pub fn is_surname(s: &str) -> bool {
    let mut count = 0;
    for c in s.chars() {
        if !is_han(c) || c == MASK {
            return false;
        }
        count += 1;
    }
    (1..=2).contains(&count)
}

/// Whether `s` is a masked person: a surname followed by 某 or 某某, and nothing else —
/// 景某, 钱某某, 欧阳某. The surname is one Han character, or a known compound surname
/// (`COMPOUND_SURNAMES`), so that 张三某 is refused.
pub fn is_masked_person(s: &str) -> bool {
    let trimmed = s.trim_end_matches(MASK);
    let masks = s.chars().count() - trimmed.chars().count();
    let surname_ok = match trimmed.chars().count() {
        1 => is_surname(trimmed),
        2 => COMPOUND_SURNAMES.contains(&trimmed),
        _ => false,
    };
    (1..=2).contains(&masks) && surname_ok
}

/// Role words after which a full name would identify a private person.
const ROLE_WORDS: [&str; 8] = [
    "患者",
    "参保人",
    "医生",
    "院长",
    "负责人",
    "法定代表人",
    "药师",
    "护士",
];

/// Common single-character surnames, without those that are everyday words after a role
/// word (see the module documentation).
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱覃武戴莫孔汤温景霍牛樊葛邢齐乔伍庞颜倪庄聂章鲁岳翟殷詹耿兰焦俞左柳甘祝宁符舒阮柯纪梅童凌毕季裴涂苗谷盛翁冉骆蓝游辛靳柴蒙鲍华喻祁蒲房滕饶牟艾尤穆卓缪褚娄窦戚岑党宫卜晏席卫米柏宗瞿佟臧闵苟邬边卞姬栾隋刁荣巫寇桑郎甄丛仲虞敖巩佘池麻苑迟";

/// Two-character (compound) surnames. In a masked person a two-character surname must be
/// one of these, so that 张三某 (a given name leaking before 某) is refused.
const COMPOUND_SURNAMES: [&str; 40] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "端木", "百里", "东郭", "南宫", "西门", "独孤", "呼延", "闻人", "澹台", "公冶",
    "宗政", "濮阳", "太叔", "申屠", "钟离", "仲孙", "拓跋", "万俟", "司空", "左丘", "乐正", "第五",
    "赫连", "淳于", "单于", "轩辕",
];

/// Characters after 周 that make it a weekday (周一 … 周日, 周末), not a surname.
const WEEKDAY_AFTER_ZHOU: &str = "一二三四五六日天末";

fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        // Full-width digits, as typed with a Chinese input method.
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
        _ => None,
    }
}

fn is_ascii_letter_or_digit(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Looks for a resident ID number or a mobile number; returns a reason if one is found.
fn find_number(chars: &[char]) -> Option<String> {
    let n = chars.len();
    let mut i = 0;
    while i < n {
        if chars.get(i).copied().and_then(ascii_digit).is_none() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        while let Some(d) = chars.get(i).copied().and_then(ascii_digit) {
            digits.push(d);
            i += 1;
        }
        // A run glued to a letter (an institution code such as H14112500001) is not a
        // personal number.
        let preceded_by_letter = start > 0 && is_ascii_letter_or_digit(chars.get(start - 1));
        if preceded_by_letter {
            continue;
        }
        let next = chars.get(i);
        let len = digits.len();
        if len == 18 && !is_ascii_letter_or_digit(next) {
            return Some(format!(
                "contains what looks like a resident ID number ({}…); remove it",
                digits.get(..6).unwrap_or("")
            ));
        }
        if len == 17
            && matches!(next, Some('X' | 'x'))
            && !is_ascii_letter_or_digit(chars.get(i + 1))
        {
            return Some(format!(
                "contains what looks like a resident ID number ({}…); remove it",
                digits.get(..6).unwrap_or("")
            ));
        }
        let mobile_prefix =
            |d: &str| d.starts_with('1') && matches!(d.as_bytes().get(1), Some(b'3'..=b'9'));
        if len == 11 && mobile_prefix(&digits) && !is_ascii_letter_or_digit(next) {
            return Some(format!(
                "contains what looks like a mobile number ({}…); remove it",
                digits.get(..3).unwrap_or("")
            ));
        }
        // A mobile number written in groups: 138-1234-5678 or 138 1234 5678.
        if len == 3 && mobile_prefix(&digits) {
            if let Some(end) = grouped_tail(chars, i) {
                if !is_ascii_letter_or_digit(chars.get(end)) {
                    return Some(format!(
                        "contains what looks like a mobile number ({digits}…); remove it"
                    ));
                }
            }
        }
    }
    None
}

/// After the first group of a grouped mobile number at `i`, matches `-dddd-dddd` (or with
/// spaces) and returns the index after it.
fn grouped_tail(chars: &[char], mut i: usize) -> Option<usize> {
    for _ in 0..2 {
        if !matches!(chars.get(i), Some('-' | ' ')) {
            return None;
        }
        i += 1;
        for _ in 0..4 {
            chars.get(i).copied().and_then(ascii_digit)?;
            i += 1;
        }
    }
    if chars.get(i).copied().and_then(ascii_digit).is_some() {
        return None;
    }
    Some(i)
}

/// Looks for a role word followed by a full name; returns a reason if one is found.
fn find_named_role(text: &str) -> Option<String> {
    for role in ROLE_WORDS {
        for (at, _) in text.match_indices(role) {
            let after = text.get(at + role.len()..).unwrap_or("");
            let mut rest = after;
            if let Some(c) = rest.chars().next() {
                if matches!(c, '：' | ':' | '为' | '是' | ' ') {
                    rest = rest.get(c.len_utf8()..).unwrap_or("");
                }
            }
            let surname =
                if let Some(compound) = COMPOUND_SURNAMES.iter().find(|s| rest.starts_with(**s)) {
                    *compound
                } else {
                    match rest.chars().next() {
                        Some(c) if SURNAMES.contains(c) => rest.get(..c.len_utf8()).unwrap_or(""),
                        _ => continue,
                    }
                };
            let given = rest.get(surname.len()..).unwrap_or("");
            let mut given_chars = given.chars();
            let Some(first) = given_chars.next() else {
                continue;
            };
            if first == MASK || !is_han(first) {
                continue;
            }
            if surname == "周" && WEEKDAY_AFTER_ZHOU.contains(first) {
                continue;
            }
            let name: String = surname
                .chars()
                .chain(
                    given
                        .chars()
                        .take_while(|c| is_han(*c) && *c != MASK)
                        .take(2),
                )
                .collect();
            return Some(format!(
                "“{role}{name}” looks like a full personal name after a role word; write the surname followed by 某 ({surname}某) (heuristic check)"
            ));
        }
    }
    None
}

/// Looks for personal data in public text: a resident ID number, a mobile number, or a
/// full name after a role word. Returns the reason if something is found.
pub fn find_personal_data(text: &str) -> Option<String> {
    if text.chars().any(|c| ascii_digit(c).is_some()) {
        let chars: Vec<char> = text.chars().collect();
        if let Some(reason) = find_number(&chars) {
            return Some(reason);
        }
    }
    find_named_role(text)
}

/// Role words of the node's submission screen ([`screen_personal_data`]): those of the
/// validity rule and other staff titles a notice may name.
const SCREEN_ROLE_WORDS: [&str; 13] = [
    "患者",
    "参保人",
    "医生",
    "医师",
    "院长",
    "主任",
    "负责人",
    "法定代表人",
    "药师",
    "护士",
    "会计",
    "收费员",
    "经理",
];

/// Words after which a number identifies a patient or a person: a hospitalisation, visit,
/// case-record or card number, an ID number. (Not 电话: a notice may give the bureau's
/// hotline; a mobile number is refused by the validity rule already.)
const RECORD_NUMBER_WORDS: [&str; 11] = [
    "住院号",
    "门诊号",
    "病历号",
    "病案号",
    "就诊号",
    "就诊卡号",
    "医保卡号",
    "社保卡号",
    "卡号",
    "身份证号",
    "身份证",
];

/// A full name (surname and one or two given characters, not 某) that ends right before
/// byte `at` of `text` and is not itself the end of a longer run of Han characters.
fn name_before(text: &str, at: usize) -> Option<String> {
    let before: Vec<char> = text.get(..at)?.chars().rev().take(5).collect();
    for len in [2usize, 3, 4] {
        // `window` is the candidate name, in reading order; the character before it must
        // not be Han, so that 金华医院院长 is not read as 华医院 + 院长.
        let window: String = before.iter().take(len).rev().collect();
        if window.chars().count() < len || before.get(len).is_some_and(|c| is_han(*c)) {
            continue;
        }
        let surname_len = COMPOUND_SURNAMES
            .iter()
            .find(|s| window.starts_with(**s))
            .map(|s| s.chars().count())
            .or_else(|| {
                window
                    .chars()
                    .next()
                    .filter(|c| SURNAMES.contains(*c))
                    .map(|_| 1)
            });
        let Some(surname_len) = surname_len else {
            continue;
        };
        let given: Vec<char> = window.chars().skip(surname_len).collect();
        if (1..=2).contains(&given.len()) && given.iter().all(|c| is_han(*c) && *c != MASK) {
            return Some(window);
        }
    }
    None
}

/// The node's stricter screen of an exposure notice's text, for text that the validity
/// rule of [`find_personal_data`] (which every verifier applies exactly) has passed; this
/// one is not part of validity: a full name *before* a role word (刘德华医生), and a
/// number after a word that makes it a patient's or a person's (住院号2021000123).
/// Returns the reason.
pub fn screen_personal_data(text: &str) -> Option<String> {
    for role in SCREEN_ROLE_WORDS {
        for (at, _) in text.match_indices(role) {
            if let Some(name) = name_before(text, at) {
                return Some(format!(
                    "“{name}{role}” looks like a full personal name before a role word; write the surname followed by 某 (heuristic screen)"
                ));
            }
        }
    }
    for word in RECORD_NUMBER_WORDS {
        for (at, _) in text.match_indices(word) {
            let rest = text.get(at + word.len()..).unwrap_or("");
            let rest = rest.trim_start_matches(['：', ':', '为', '是', ' ', '（', '(']);
            let digits = rest
                .chars()
                .take_while(|c| ascii_digit(*c).is_some() || matches!(c, '-' | ' '))
                .filter(|c| ascii_digit(*c).is_some())
                .count();
            if digits >= 4 {
                return Some(format!(
                    "a number after “{word}” identifies a patient or a person; no patient data is ever published (heuristic screen)"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_finds_names_before_role_words_and_record_numbers() {
        for bad in [
            "经查，刘德华医生开具虚假处方。",
            "王强医生",
            "，欧阳明华院长签字",
            "(李明护士)",
            "经查，患者张某某（住院号2021000123）被分解住院。",
            "门诊号：３３４４５５",
        ] {
            assert!(screen_personal_data(bad).is_some(), "{bad}");
        }
        for good in [
            "金华医院院长景某",
            "该院医生王某开具处方",
            "经查，该院院长对此负有责任。",
            "患者张某某被分解住院。",
            "内科主任钱某",
            "住院号已核对",
            "举报电话：0358-1234567",
            "共计335529元",
            "机构编码H14112500001",
        ] {
            assert!(
                screen_personal_data(good).is_none(),
                "{good}: {:?}",
                screen_personal_data(good)
            );
        }
    }

    #[test]
    fn masked_persons() {
        for good in ["景某", "钱某某", "欧阳某", "欧阳某某"] {
            assert!(is_masked_person(good), "{good}");
        }
        for bad in [
            "景",
            "景某某某",
            "张三",
            "某某",
            "景某a",
            "John某",
            "某景某",
            "欧阳三某",
            "张三某",
        ] {
            assert!(!is_masked_person(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_are_found() {
        assert!(find_personal_data("身份证号141125199001011234").is_some());
        assert!(find_personal_data("身份证号14112519900101123X。").is_some());
        assert!(find_personal_data("电话13812345678").is_some());
        assert!(find_personal_data("电话 138-1234-5678 联系").is_some());
        assert!(find_personal_data("电话１３８１２３４５６７８").is_some());
        // Institution codes, amounts and dates are not personal data.
        assert!(find_personal_data("机构编码H14112500001，金额11184300分，2021-06-30").is_none());
        assert!(find_personal_data("共计335529元").is_none());
        // A 12-digit number starting 13 is not a mobile number.
        assert!(find_personal_data("编号138123456789").is_none());
    }

    #[test]
    fn names_after_role_words_are_found() {
        assert!(find_personal_data("患者张三住院").is_some());
        assert!(find_personal_data("负责人：王小明").is_some());
        assert!(find_personal_data("法定代表人欧阳明").is_some());
        assert!(find_personal_data("院长景某、负责人钱某某").is_none());
        assert!(find_personal_data("参保人员住院费用").is_none());
        assert!(find_personal_data("患者住院治疗").is_none());
        assert!(find_personal_data("医生开具处方").is_none());
        assert!(find_personal_data("该医院长期存在问题").is_none());
        assert!(find_personal_data("患者周一入院").is_none());
    }
}
