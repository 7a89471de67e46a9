//! The viewer through its router (`oneshot`), reading an in-process node API over a
//! generated ledger: two counties, the second frozen. Sources that tamper with what the
//! node answers check that nothing unverified is shown as verified.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use yibao_ledger::keys::LogCode;
use yibao_node::api::{self, ApiState};
use yibao_web_viewer::{router, Source, SourceFuture};

mod common;
use common::{fixture, Fixture, COUNTY, FROZEN, NOTICES};

/// What a test source does to the node's answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tamper {
    None,
    /// Replaces 景某 by 王某 inside the signed entry bytes.
    EntryBytes,
    /// Changes the first hash of every inclusion proof.
    Proof,
    /// Changes the root in the checkpoint text.
    Checkpoint,
    /// Breaks the signature of the known witness's cosignature line.
    Cosignature,
    /// Rewrites the node's JSON `record` of an entry (the bytes stay).
    JsonRecord,
    /// Puts markup into the titles of the notice list.
    Markup,
    /// Answers every entry read with this other (valid, signed) entry.
    Substitute(u64),
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Fails every request (node down).
    Down,
    /// Answers 500.
    ServerError,
}

struct NodeSource {
    state: ApiState,
    tamper: Tamper,
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = haystack.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
    out
}

impl Source for NodeSource {
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a> {
        Box::pin(async move {
            match self.tamper {
                Tamper::Down => anyhow::bail!("connection refused"),
                Tamper::Garbage => return Ok((200, b"<html>not json".to_vec())),
                Tamper::ServerError => return Ok((500, b"{}".to_vec())),
                _ => {}
            }
            let path = match self.tamper {
                Tamper::Substitute(other) if path.contains("/entries/") => {
                    format!("/v1/logs/{COUNTY}/entries/{other}")
                }
                _ => path.to_string(),
            };
            let path = path.as_str();
            let response = api::router(self.state.clone())
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let mut body = response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            let b64 = base64::engine::general_purpose::STANDARD;
            match self.tamper {
                Tamper::EntryBytes if path.contains("/entries/") => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap();
                    if let Some(e) = v["entry"].as_str() {
                        let bytes = b64.decode(e).unwrap();
                        let altered = replace(&bytes, "景某".as_bytes(), "王某".as_bytes());
                        assert_ne!(bytes, altered, "the notice names 景某");
                        v["entry"] = Value::String(b64.encode(altered));
                    }
                    body = serde_json::to_vec(&v).unwrap();
                }
                Tamper::Proof if path.contains("/proofs/inclusion") => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap();
                    let first = v["proof"][0].as_str().unwrap().to_string();
                    let flipped = if first.starts_with('0') { "1" } else { "0" };
                    v["proof"][0] = Value::String(format!("{flipped}{}", &first[1..]));
                    body = serde_json::to_vec(&v).unwrap();
                }
                Tamper::Checkpoint if path.ends_with("/checkpoint") => {
                    let text = String::from_utf8(body).unwrap();
                    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                    // Line 3 is the root hash (base64): swap two characters.
                    let root: Vec<char> = lines[2].chars().collect();
                    let mut swapped = root.clone();
                    swapped.swap(0, 1);
                    if swapped == root {
                        swapped[0] = if root[0] == 'A' { 'B' } else { 'A' };
                    }
                    lines[2] = swapped.into_iter().collect();
                    body = (lines.join("\n") + "\n").into_bytes();
                }
                Tamper::Cosignature if path.ends_with("/checkpoint") => {
                    let text = String::from_utf8(body).unwrap();
                    body = common::break_cosignature(&text).into_bytes();
                }
                Tamper::JsonRecord if path.contains("/entries/") => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap();
                    v["record"]["title"] = Value::String("FAKE TITLE".into());
                    v["record"]["amount_involved"] = Value::from(1u64);
                    body = serde_json::to_vec(&v).unwrap();
                }
                Tamper::Markup if path.starts_with("/v1/notices") => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap();
                    for n in v["notices"].as_array_mut().unwrap() {
                        n["record"]["title"] = Value::String("<script>alert(1)</script>".into());
                    }
                    body = serde_json::to_vec(&v).unwrap();
                }
                _ => {}
            }
            Ok((status, body))
        })
    }
}

fn viewer(f: &Fixture, tamper: Tamper) -> axum::Router {
    router(Arc::new(NodeSource {
        state: f.state.clone(),
        tamper,
    }))
}

async fn call(app: axum::Router, method: &str, uri: &str) -> (StatusCode, String) {
    let response = app
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{method} {uri}: {status} {content_type}"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn get(f: &Fixture, uri: &str) -> (StatusCode, String) {
    call(viewer(f, Tamper::None), "GET", uri).await
}

/// The node's own view of the notices (newest first).
async fn node_notices(f: &Fixture) -> Vec<Value> {
    let response = api::router(f.state.clone())
        .oneshot(
            Request::get("/v1/notices?per_page=100")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["notices"].as_array().unwrap().clone()
}

/// The notice links of a page, in order, as (log, seq).
fn notice_links(html: &str) -> Vec<(String, u64)> {
    html.match_indices("href=\"/notices/")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            let end = rest.find('"').unwrap();
            let link = rest[..end].split('?').next().unwrap();
            let (log, seq) = link.split_once('/').unwrap();
            (log.to_string(), seq.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn notice_list_is_newest_first_and_paginated() {
    let f = fixture();
    let total = NOTICES + 2;
    let (status, first) = get(&f, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("<html lang=\"zh-CN\">"));
    assert!(first.contains("name=\"viewport\""));
    assert!(first.contains(&format!("共 {total} 条")), "{first}");
    let links = notice_links(&first);
    assert_eq!(links.len(), 20);
    let (_, second) = get(&f, "/?page=2").await;
    let more = notice_links(&second);
    assert_eq!(more.len() as u64, total - 20);
    // Newest first, as the node lists them: latest publication day, then entry time.
    let node_list = node_notices(&f).await;
    let days: Vec<(&str, u64)> = node_list
        .iter()
        .map(|n| {
            (
                n["record"]["published_on"].as_str().unwrap(),
                n["timestamp_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    assert!(days.first() > days.last(), "{days:?}");
    let expected: Vec<(String, u64)> = node_list
        .iter()
        .map(|n| {
            (
                n["log"].as_str().unwrap().to_string(),
                n["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let shown: Vec<(String, u64)> = links.iter().chain(more.iter()).cloned().collect();
    assert_eq!(shown, expected);
    assert!(first.contains("rel=\"next\" href=\"/?page=2\""));
    assert!(!first.contains("rel=\"prev\""));
    assert!(second.contains("rel=\"prev\" href=\"/?page=1\""));
    assert!(!second.contains("rel=\"next\""));

    let (status, page) = get(&f, "/?page=3").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    for bad in ["/?page=0", "/?page=abc", "/?page=-1"] {
        let (status, page) = get(&f, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.contains("页码须为"), "{bad}: {page}");
    }
    let (status, page) = get(&f, "/?page=99999999999999999999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("页码过大"), "{page}");
}

/// The row of log `log` in the home page's list of counties.
fn county_row<'a>(html: &'a str, log: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-log=\"{log}\">"))
        .unwrap_or_else(|| panic!("no row of {log} in {html}"));
    let end = start + html[start..].find("</tr>").unwrap();
    &html[start..end]
}

#[tokio::test]
async fn the_home_page_lists_the_counties_with_notices_and_checkpoints() {
    let f = fixture();
    let (status, page) = get(&f, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("各县（区）与市医保局账本"), "{page}");
    for (log, name, notices) in [
        (COUNTY, "柳林县医疗保障局", NOTICES),
        (FROZEN, "临县医疗保障局", 2),
    ] {
        let code = LogCode::parse(log).unwrap();
        let size = f.state.ledger.size(&code).unwrap();
        let (_, last) =
            common::api_get(&f.state, &format!("/v1/logs/{log}/entries/{}", size - 1)).await;
        let last: Value = serde_json::from_slice(&last).unwrap();
        let row = county_row(&page, log);
        assert!(
            row.contains(&format!("<a href=\"/counties/{log}\">{name}</a>")),
            "{row}"
        );
        assert!(
            row.contains(&format!(
                "<a href=\"/counties/{log}#notices\" data-notices=\"{notices}\">{notices} 条</a>"
            )),
            "{row}"
        );
        assert!(
            row.contains(&format!("data-checkpoint-size=\"{size}\">{size} 条")),
            "{row}"
        );
        assert!(row.contains("✔ 签名有效"), "{row}");
        assert!(
            row.contains(&shanghai(last["timestamp_ms"].as_u64().unwrap())),
            "{row}"
        );
        assert!(row.contains(&format!("{log} · 县级")), "{row}");
    }
    // The county page it links to lists that many notices, under the anchor.
    let (_, county) = get(&f, &format!("/counties/{COUNTY}")).await;
    assert!(county.contains(&format!("<h2 id=\"notices\">曝光通报 ({NOTICES})</h2>")));
    // Only the first page of notices carries the list; English says it in English.
    let (_, second) = get(&f, "/?page=2").await;
    assert!(!second.contains("id=\"counties\""));
    let (_, english) = get(&f, "/?lang=en").await;
    assert!(
        english.contains("Logs of the county and city bureaus"),
        "{english}"
    );
    assert!(county_row(&english, COUNTY).contains(&format!("href=\"/counties/{COUNTY}?lang=en\"")));
    // A checkpoint that does not verify is flagged in its row.
    let (_, tampered) = call(viewer(&f, Tamper::Checkpoint), "GET", "/").await;
    assert!(county_row(&tampered, COUNTY).contains("✘ 未通过核验"));
}

/// The first notice of the first county, as the node has it (record JSON and time).
async fn a_notice(f: &Fixture) -> Value {
    node_notices(f)
        .await
        .into_iter()
        .find(|n| n["log"] == COUNTY)
        .unwrap()
}

fn shanghai(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap()
        .to_offset(time::macros::offset!(+8));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +08:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[tokio::test]
async fn a_notice_page_is_verified_and_shaped_like_a_notice() {
    let f = fixture();
    let n = a_notice(&f).await;
    let r = &n["record"];
    let seq = n["seq"].as_u64().unwrap();
    let (status, page) = get(&f, &format!("/notices/{COUNTY}/{seq}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for field in [
        "title",
        "inspecting_body",
        "facts",
        "legal_basis",
        "handling",
        "location",
    ] {
        assert!(page.contains(r[field].as_str().unwrap()), "{field}: {page}");
    }
    assert!(page.contains(r["institution"]["name"].as_str().unwrap()));
    assert!(page.contains(r["institution"]["code"].as_str().unwrap()));
    assert!(page.contains(r["published_on"].as_str().unwrap()));
    assert!(page.contains("已全部追回"));
    // Yuan with two decimals and thousands separators, from integer fen.
    let fen = r["amount_involved"].as_u64().unwrap();
    let marker = "data-field=\"amount_involved\">¥";
    let start = page.find(marker).unwrap() + marker.len();
    let shown = &page[start..start + page[start..].find('<').unwrap()];
    assert_eq!(
        shown.replace(',', ""),
        format!("{}.{:02}", fen / 100, fen % 100)
    );
    if fen >= 100_000 {
        assert!(shown.contains(','), "{shown}");
    }
    // The officer's time in Asia/Shanghai.
    let ms = n["timestamp_ms"].as_u64().unwrap();
    assert!(page.contains(&shanghai(ms)), "{page}");
    // The badge and the verification facts.
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    assert!(!page.contains("NOT VERIFIED"));
    let size = f
        .state
        .ledger
        .size(&LogCode::parse(COUNTY).unwrap())
        .unwrap();
    assert!(page.contains(&format!("<dd>{COUNTY} #{seq}</dd>")));
    assert!(
        page.contains(&format!("<dd>{size}</dd>")),
        "checkpoint size {size}"
    );
    assert!(page.contains("检查点签名有效"));
    assert!(page.contains("见证联署（已在服务器端核验）</dt><dd>暂无见证联署</dd>"));
    assert!(!page.contains("日志已冻结"), "this log is not frozen");
    // Surnames only: the notice's person appears as 景某.
    assert!(page.contains("景某"));
}

#[tokio::test]
async fn tampered_bytes_proofs_or_checkpoints_are_not_verified() {
    let f = fixture();
    let seq = a_notice(&f).await["seq"].as_u64().unwrap();
    let uri = format!("/notices/{COUNTY}/{seq}");
    for (tamper, reason) in [
        (Tamper::EntryBytes, "do not decode"),
        (Tamper::Proof, "inclusion proof"),
        (Tamper::Checkpoint, "checkpoint signature"),
    ] {
        let (status, page) = call(viewer(&f, tamper), "GET", &uri).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("NOT VERIFIED"), "{page}");
        assert!(page.contains(reason), "{reason}: {page}");
        assert!(!page.contains("badge ok\" id=\"verification"), "{page}");
        if tamper == Tamper::EntryBytes {
            // The altered bytes hash to another leaf, so the proof fails too; the altered
            // payload no longer matches its signed hash, so no content is shown at all.
            assert!(page.contains("inclusion proof"), "{page}");
            assert!(!page.contains("王某") && !page.contains("景某"));
        }
    }
}

#[tokio::test]
async fn another_valid_notice_served_in_place_of_the_one_asked_is_not_verified() {
    let f = fixture();
    let notices = node_notices(&f).await;
    let ours: Vec<&Value> = notices.iter().filter(|n| n["log"] == COUNTY).collect();
    let (asked, served) = (ours[0], ours[1]);
    let seq = asked["seq"].as_u64().unwrap();
    let other = served["seq"].as_u64().unwrap();
    let (status, page) = call(
        viewer(&f, Tamper::Substitute(other)),
        "GET",
        &format!("/notices/{COUNTY}/{seq}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("NOT VERIFIED"), "{page}");
    assert!(page.contains(&format!("the entry says it is seq {other}, not {seq}")));
    assert!(page.contains("inclusion proof"));
    assert!(!page.contains("badge ok\" id=\"verification"));
    assert!(page.contains("未通过核验，可能已被篡改"));
}

#[tokio::test]
async fn the_record_shown_comes_from_the_verified_bytes_not_the_json() {
    let f = fixture();
    let n = a_notice(&f).await;
    let seq = n["seq"].as_u64().unwrap();
    let (status, page) = call(
        viewer(&f, Tamper::JsonRecord),
        "GET",
        &format!("/notices/{COUNTY}/{seq}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("FAKE TITLE"));
    assert!(page.contains(n["record"]["title"].as_str().unwrap()));
    assert!(page.contains("class=\"badge ok\" id=\"verification\""));
}

#[tokio::test]
async fn english_switch_keeps_the_language_in_links() {
    let f = fixture();
    let (status, page) = get(&f, "/?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("Exposure notices"));
    assert!(!page.contains("曝光通报列表"));
    let link = page.find("href=\"/notices/").unwrap();
    let href = &page[link..link + page[link..].find("\">").unwrap()];
    assert!(href.ends_with("?lang=en"), "{href}");
    assert!(page.contains("href=\"/?page=2&amp;lang=en\""));
    assert!(
        page.contains("name=\"lang\" value=\"en\""),
        "search keeps English"
    );
    assert!(page.contains("hreflang=\"zh-CN\""));

    let (_, zh) = get(&f, "/").await;
    assert!(zh.contains("href=\"/?lang=en\" hreflang=\"en\""));

    let seq = a_notice(&f).await["seq"].as_u64().unwrap();
    let (_, notice) = get(&f, &format!("/notices/{COUNTY}/{seq}?lang=en")).await;
    assert!(notice.contains("Amount involved") && notice.contains("fully recovered"));
    assert!(notice.contains(">✔ verified by the server<"));
    assert!(notice.contains("Recorded (Asia/Shanghai)"));
    let (status, err) = get(&f, "/notices/abc/1?lang=en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err.contains("not a 6-digit administrative division code"));
}

#[tokio::test]
async fn institution_page_has_grades_cases_and_notices() {
    let f = fixture();
    let n = a_notice(&f).await;
    let code = n["record"]["institution"]["code"].as_str().unwrap();
    let name = n["record"]["institution"]["name"].as_str().unwrap();
    let (status, page) = get(&f, &format!("/institutions/{code}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("<h1>{name}</h1>")));
    for period in ["2021", "2022", "2023", "2024"] {
        assert!(
            page.contains(&format!(
                "<td><span data-field=\"period\">{period}</span></td>"
            )),
            "{period}"
        );
    }
    // Inspections and rectification items name the institution (decisions do not).
    assert!(
        page.contains("立案检查") && page.contains("整改事项"),
        "{page}"
    );
    assert!(notice_links(&page).contains(&(COUNTY.to_string(), n["seq"].as_u64().unwrap())));

    // A credit repair stands under its period, with its kind and reason.
    let repaired = &yibao_node::workload::institutions(COUNTY, 12)[common::REPAIRED];
    let (status, page) = get(&f, &format!("/institutions/{}", repaired.code)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {page}"))
    };
    let set_2023 = at("<td><span data-field=\"period\">2023</span></td>");
    let revision = at("<td><span data-field=\"period\">2023</span> (信用修复)");
    let set_2024 = at("<td><span data-field=\"period\">2024</span></td>");
    assert!(set_2023 < revision && revision < set_2024, "{page}");
    assert!(page.contains(common::REPAIR_REASON), "{page}");

    let (status, page) = get(&f, "/institutions/X1234").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("不是机构编码"));
    let (status, page) = get(&f, "/institutions/H14112599999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("H14112599999"));
}

/// The records of a case, as the node lists them: (kind, seq).
async fn case_records(f: &Fixture, log: &str, case_id: &str) -> Vec<(String, u64)> {
    let (status, body) =
        common::api_get(&f.state, &format!("/v1/logs/{log}/cases/{case_id}")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_institution_page_links_every_record_of_its_cases() {
    let f = fixture();
    let n = a_notice(&f).await;
    let code = n["record"]["institution"]["code"].as_str().unwrap();
    let case_id = n["record"]["case_id"].as_str().unwrap();
    let records = case_records(&f, COUNTY, case_id).await;
    let kinds: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds.contains(&"finding") && kinds.contains(&"decision"),
        "{kinds:?}"
    );
    let (status, page) = get(&f, &format!("/institutions/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    let start = page
        .find(&format!("data-case=\"{case_id}\""))
        .unwrap_or_else(|| panic!("no section of case {case_id}: {page}"));
    let section = &page[start..start + page[start..].find("</section>").unwrap()];
    // Every record of the case, in order, linking to its verified page: findings and the
    // decision (which do not name the institution) as well as the notice.
    let mut at = 0;
    for (kind, seq) in &records {
        let href = if kind == "exposure_notice" {
            format!("href=\"/notices/{COUNTY}/{seq}\"")
        } else {
            format!("href=\"/entries/{COUNTY}/{seq}\"")
        };
        let found = section[at..]
            .find(&href)
            .unwrap_or_else(|| panic!("{kind} {href} not in order in {section}"));
        at += found;
    }
    assert!(section.contains("检查发现") && section.contains("处理决定"));

    // A finding's page: verified, the facts, the article, the amount in yuan.
    let (_, finding_seq) = records.iter().find(|(k, _)| k == "finding").unwrap();
    let (_, entry) = common::api_get(
        &f.state,
        &format!("/v1/logs/{COUNTY}/entries/{finding_seq}"),
    )
    .await;
    let entry: Value = serde_json::from_slice(&entry).unwrap();
    let record = &entry["record"];
    let (status, page) = get(&f, &format!("/entries/{COUNTY}/{finding_seq}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    assert!(page.contains("data-kind=\"finding\""));
    assert!(page.contains(&format!(
        "<span data-field=\"facts\">{}</span>",
        record["facts"].as_str().unwrap()
    )));
    assert!(
        page.contains("《医疗保障基金使用监督管理条例》第"),
        "{page}"
    );
    let fen = record["amount_involved"].as_u64().unwrap();
    assert!(
        page.contains(&format!(
            "data-field=\"amount_involved\">¥{}</span>",
            yibao_web_viewer::display::yuan(fen)
        )),
        "{page}"
    );
    assert!(page.contains("检查点签名有效"));

    // The decision's page: per finding, and the totals in yuan.
    let (_, decision_seq) = records.iter().find(|(k, _)| k == "decision").unwrap();
    let (_, entry) = common::api_get(
        &f.state,
        &format!("/v1/logs/{COUNTY}/entries/{decision_seq}"),
    )
    .await;
    let entry: Value = serde_json::from_slice(&entry).unwrap();
    let totals = &entry["record"]["totals"];
    let (status, page) = get(&f, &format!("/entries/{COUNTY}/{decision_seq}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("class=\"badge ok\" id=\"verification\""));
    assert!(page.contains(&format!(
        "data-money data-field=\"totals.total\">¥{}</span>",
        yibao_web_viewer::display::yuan(totals["total"].as_u64().unwrap())
    )));
    assert!(page.contains(entry["record"]["items"][0]["finding_id"].as_str().unwrap()));

    // What does not verify is not shown as verified on an entry page either.
    let (_, page) = call(
        viewer(&f, Tamper::Proof),
        "GET",
        &format!("/entries/{COUNTY}/{finding_seq}"),
    )
    .await;
    assert!(page.contains("NOT VERIFIED") && !page.contains("badge ok\" id=\"verification"));
    // A notice by the entry route is shown as the notice; a key event is not public.
    let seq = n["seq"].as_u64().unwrap();
    let (status, page) = get(&f, &format!("/entries/{COUNTY}/{seq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1 data-field=\"title\">"));
    let (status, page) = get(&f, &format!("/entries/{COUNTY}/0")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("不公开"), "{page}");
    let (status, page) = get(&f, &format!("/notices/{COUNTY}/{finding_seq}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains(&format!("/entries/{COUNTY}/{finding_seq}")),
        "{page}"
    );
    for (uri, status) in [
        ("/entries/141125/x", StatusCode::BAD_REQUEST),
        ("/entries/1411/1", StatusCode::BAD_REQUEST),
        ("/entries/999999/1", StatusCode::NOT_FOUND),
        ("/entries/141125/99999999", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(get(&f, uri).await.0, status, "{uri}");
    }
}

#[tokio::test]
async fn search_by_name_code_and_county() {
    let f = fixture();
    let n = a_notice(&f).await;
    let code = n["record"]["institution"]["code"].as_str().unwrap();
    let name = n["record"]["institution"]["name"].as_str().unwrap();

    let q: String = name.chars().take(3).collect();
    let (status, page) = get(&f, &format!("/search?q={}", encode(&q))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("href=\"/institutions/{code}\"")),
        "{page}"
    );

    let (_, page) = get(&f, &format!("/search?q={}", code.to_lowercase())).await;
    assert!(page.contains(&format!("href=\"/institutions/{code}\"")));

    let (_, page) = get(&f, &format!("/search?q={COUNTY}")).await;
    assert!(page.contains(&format!("href=\"/counties/{COUNTY}\"")));
    assert!(!page.contains(&format!("href=\"/counties/{FROZEN}\"")));
    assert!(!notice_links(&page).is_empty());
    assert!(notice_links(&page).iter().all(|(l, _)| l == COUNTY));

    // An institution named in no notice is found by its name too (the node's registrations).
    let noticed: std::collections::HashSet<String> = node_notices(&f)
        .await
        .iter()
        .map(|n| {
            n["record"]["institution"]["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let response = api::router(f.state.clone())
        .oneshot(
            Request::get(format!("/v1/institutions?q={COUNTY_PREFIX}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let listed: Value = serde_json::from_slice(&body).unwrap();
    let quiet = listed["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| !noticed.contains(i["code"].as_str().unwrap()))
        .expect("an institution without a notice");
    let (code, name) = (
        quiet["code"].as_str().unwrap(),
        quiet["name"].as_str().unwrap(),
    );
    let (_, page) = get(&f, &format!("/search?q={}", encode(name))).await;
    assert!(
        page.contains(&format!("href=\"/institutions/{code}\"")),
        "{name}: {page}"
    );

    let (_, page) = get(&f, "/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8").await; // 不存在
    assert!(page.contains("id=\"no-results\""));
    let (_, page) = get(&f, "/search").await;
    assert!(page.contains("<form"));
    let long = "x".repeat(65);
    let (status, _) = get(&f, &format!("/search?q={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The search text is escaped when echoed.
    let (_, page) = get(&f, "/search?q=%3Cb%3Ex").await;
    assert!(page.contains("&lt;b&gt;x") && !page.contains("<b>x"));
}

/// The start of every institution code of [`COUNTY`].
const COUNTY_PREFIX: &str = "H141125";

fn encode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn county_page_shows_checkpoint_and_notices() {
    let f = fixture();
    let size = f
        .state
        .ledger
        .size(&LogCode::parse(COUNTY).unwrap())
        .unwrap();
    let (status, page) = get(&f, &format!("/counties/{COUNTY}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("柳林县医疗保障局"));
    assert!(page.contains(&format!("日志条目数 {size}")));
    assert!(page.contains(&format!("<dd>{size}</dd>")));
    assert!(page.contains("检查点签名有效"));
    assert!(page.contains(&format!("曝光通报 ({NOTICES})")));
    let links = notice_links(&page);
    assert_eq!(links.len() as u64, NOTICES);
    assert!(links.iter().all(|(l, _)| l == COUNTY));
    assert!(!page.contains("日志已冻结"));

    let (status, _) = get(&f, "/counties/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&f, "/counties/14112").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A tampered checkpoint is flagged on the county page too.
    let (_, page) = call(
        viewer(&f, Tamper::Checkpoint),
        "GET",
        &format!("/counties/{COUNTY}"),
    )
    .await;
    assert!(page.contains("检查点未通过核验") && !page.contains("检查点签名有效"));
}

#[tokio::test]
async fn a_frozen_log_is_flagged_wherever_its_data_is_shown() {
    let f = fixture();
    let frozen = node_notices(&f)
        .await
        .into_iter()
        .find(|n| n["log"] == FROZEN)
        .unwrap();
    let seq = frozen["seq"].as_u64().unwrap();
    let (status, page) = get(&f, &format!("/notices/{FROZEN}/{seq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("class=\"frozen\""), "{page}");
    assert!(page.contains(&format!("日志 {FROZEN} 已被证实存在分叉")));
    let (_, page) = get(&f, &format!("/counties/{FROZEN}?lang=en")).await;
    assert!(page.contains("Frozen log"));
    let code = frozen["record"]["institution"]["code"].as_str().unwrap();
    let (_, page) = get(&f, &format!("/institutions/{code}")).await;
    assert!(page.contains("class=\"frozen\""));
    // In the list, only the frozen log's rows carry the flag.
    let (_, list) = get(&f, "/?page=1").await;
    let (_, list2) = get(&f, "/?page=2").await;
    let flagged = list.matches("badge bad\">日志已冻结").count()
        + list2.matches("badge bad\">日志已冻结").count();
    // Its two notices, and its row in the list of counties.
    assert_eq!(flagged, 3);
    assert!(county_row(&list, FROZEN).contains("badge bad\">日志已冻结"));
    assert!(!county_row(&list, COUNTY).contains("日志已冻结"));
    // And in a static publication of the same ledger.
    let root = tempfile::tempdir().unwrap();
    let site = root.path().join("site");
    yibao_node::publish::publish(&f.state.ledger, &site).unwrap();
    let page = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(page.contains(&format!("日志 {FROZEN} 已被证实存在分叉")));
    assert_eq!(page.matches("badge bad\">日志已冻结").count(), 2);
}

#[tokio::test]
async fn bad_requests_are_4xx_pages_saying_what_is_wrong() {
    let f = fixture();
    let size = f
        .state
        .ledger
        .size(&LogCode::parse(COUNTY).unwrap())
        .unwrap();
    let cases = [
        ("/no/such/page", StatusCode::NOT_FOUND, "没有这个页面"),
        ("/notices/141125/abc", StatusCode::BAD_REQUEST, "序号"),
        ("/notices/141125/-1", StatusCode::BAD_REQUEST, "序号"),
        (
            "/notices/141125/99999999999999999999999",
            StatusCode::BAD_REQUEST,
            "序号过大",
        ),
        ("/notices/14112x/1", StatusCode::BAD_REQUEST, "行政区划代码"),
        ("/notices/999999/1", StatusCode::NOT_FOUND, "999999"),
        // The node's English reason comes quoted after the viewer's Chinese.
        (
            &*format!("/notices/141125/{size}"),
            StatusCode::NOT_FOUND,
            "账本节点上没有所查的记录（账本节点答复：",
        ),
        (
            &*format!("/notices/141125/{size}"),
            StatusCode::NOT_FOUND,
            "entries",
        ),
        // Entry 0 is a key event: withheld by the API, not a notice.
        ("/notices/141125/0", StatusCode::NOT_FOUND, "不公开"),
        // Entry 10 is an institution registration.
        ("/notices/141125/10", StatusCode::NOT_FOUND, "不是曝光通报"),
    ];
    for (uri, status, text) in cases {
        let (got, page) = get(&f, uri).await;
        assert_eq!(got, status, "{uri}: {page}");
        assert!(page.contains(text), "{uri}: {page}");
        assert!(page.contains("<!DOCTYPE html>"));
    }
    // Registration at 10 really is one (the case above tests what it claims).
    let bytes = f
        .state
        .ledger
        .entry(&LogCode::parse(COUNTY).unwrap(), 10)
        .unwrap();
    let entry = yibao_schema::entry::EntryRef::decode(&bytes).unwrap();
    assert_eq!(entry.submission.statement.kind, "institution_registered");
}

#[tokio::test]
async fn nothing_but_get_is_routed() {
    let f = fixture();
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for uri in [
            "/",
            "/notices/141125/30",
            "/search?q=x",
            "/counties/141125",
            "/v1/logs/141125/entries",
        ] {
            let response = viewer(&f, Tamper::None)
                .oneshot(
                    Request::builder()
                        .method(method)
                        .uri(uri)
                        .body(Body::from("x"))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            assert_eq!(response.headers()["allow"], "GET, HEAD");
        }
    }
    let (status, page) = call(viewer(&f, Tamper::None), "POST", "/?lang=en").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.contains("read-only"));
}

#[tokio::test]
async fn a_node_that_is_down_or_answers_garbage_is_a_502() {
    let f = fixture();
    for tamper in [Tamper::Down, Tamper::Garbage, Tamper::ServerError] {
        for uri in [
            "/",
            "/notices/141125/40",
            "/institutions/H14112500001",
            "/counties/141125",
            "/search?q=x",
        ] {
            let (status, page) = call(viewer(&f, tamper), "GET", uri).await;
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{uri}");
            assert!(page.contains("账本节点不可用"), "{uri}: {page}");
        }
    }
}

#[tokio::test]
async fn ledger_text_is_escaped() {
    let f = fixture();
    let (status, page) = call(viewer(&f, Tamper::Markup), "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn over_http_to_a_served_node_api() {
    // The node's API on a loopback port, read through HttpSource and the HTTP/1.1 client.
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api::router(f.state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let source = yibao_web_viewer::HttpSource::new(format!("http://{addr}")).unwrap();
    let app = router(Arc::new(source));
    let seq = a_notice(&f).await["seq"].as_u64().unwrap();
    let (status, page) = call(app.clone(), "GET", &format!("/notices/{COUNTY}/{seq}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    let (status, list) = call(app, "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notice_links(&list).len(), 20);
    server.abort();
    assert!(yibao_web_viewer::HttpSource::new("https://x".into()).is_err());
}

/// Status, headers and body of a GET through the viewer.
async fn raw_get(app: axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn pages_load_hashed_assets_under_a_strict_content_security_policy() {
    let f = fixture();
    let app = viewer(&f, Tamper::None);
    let (status, headers, body) = raw_get(app.clone(), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-security-policy"],
        yibao_web_viewer::CONTENT_SECURITY_POLICY
    );
    assert!(yibao_web_viewer::CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    assert!(!yibao_web_viewer::CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let page = String::from_utf8(body).unwrap();
    // No inline script or style: the policy would block them.
    assert!(
        !page.contains("<script>") && !page.contains("<style"),
        "{page}"
    );
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    let js = yibao_web_viewer::assets::verify_js_path();
    let css = yibao_web_viewer::assets::style_css_path();
    assert!(page.contains(&format!("<script src=\"{js}\" defer></script>")));
    assert!(page.contains(&format!("href=\"{css}\"")));
    for (path, content_type, content) in [
        (
            &js,
            "text/javascript; charset=utf-8",
            yibao_web_viewer::assets::VERIFY_JS,
        ),
        (
            &css,
            "text/css; charset=utf-8",
            yibao_web_viewer::assets::STYLE_CSS,
        ),
    ] {
        let (status, headers, body) = raw_get(app.clone(), path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["content-type"], content_type);
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(body, content.as_bytes());
        // The name carries the content's hash: a new build is a new name.
        let hash = blake3::hash(content.as_bytes()).to_hex();
        assert!(path.contains(&hash.as_str()[..16]), "{path}");
    }
    let (status, _, _) = raw_get(app.clone(), "/assets/verify.0000000000000000.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Writes are refused for assets and data too.
    let (status, _) = call(app, "POST", &js).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_relay_passes_the_sources_answers_through_for_the_browser() {
    let f = fixture();
    let app = viewer(&f, Tamper::None);
    let n = a_notice(&f).await;
    let seq = n["seq"].as_u64().unwrap();
    let (status, headers, body) =
        raw_get(app.clone(), &format!("/data/entry/{COUNTY}/{seq}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let (_, checkpoint) = common::api_get(&f.state, &format!("/v1/logs/{COUNTY}/checkpoint")).await;
    let checkpoint = String::from_utf8(checkpoint).unwrap();
    assert_eq!(v["checkpoint"], checkpoint.as_str());
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let (_, entry) = common::api_get(&f.state, &format!("/v1/logs/{COUNTY}/entries/{seq}")).await;
    assert_eq!(v["entry"], serde_json::from_slice::<Value>(&entry).unwrap());
    let (_, proof) = common::api_get(
        &f.state,
        &format!("/v1/logs/{COUNTY}/proofs/inclusion?seq={seq}&size={size}"),
    )
    .await;
    assert_eq!(
        v["inclusion"],
        serde_json::from_slice::<Value>(&proof).unwrap()
    );
    assert_eq!(v["log"]["log"], COUNTY);
    assert!(v["log"]["vkey"]
        .as_str()
        .unwrap()
        .starts_with("yibao.ledger/v1/blake3/141125+"));
    assert_eq!(
        v["logs"].as_array().unwrap().len(),
        2,
        "every log, for witnesses"
    );

    // Key events stay withheld; errors are JSON with a reason.
    let (status, _, body) = raw_get(app.clone(), &format!("/data/entry/{COUNTY}/0")).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["entry"]["entry"].is_null() && v["entry"]["withheld"].is_string());
    for (uri, expected) in [
        ("/data/entry/14112/1".to_string(), StatusCode::BAD_REQUEST),
        (format!("/data/entry/{COUNTY}/x"), StatusCode::BAD_REQUEST),
        ("/data/entry/110101/1".to_string(), StatusCode::NOT_FOUND),
        (
            format!("/data/entry/{COUNTY}/999999"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, _, body) = raw_get(app.clone(), &uri).await;
        assert_eq!(status, expected, "{uri}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["reason"].is_string(), "{uri}: {v}");
    }
    let (status, _, _) = raw_get(
        viewer(&f, Tamper::Down),
        &format!("/data/entry/{COUNTY}/{seq}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn cosignatures_are_checked_on_the_server() {
    let f = fixture();
    common::cosign(&f);
    let n = a_notice(&f).await;
    let (status, page) = get(&f, &format!("/notices/{COUNTY}/{}", n["seq"])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "✔ {} (yibao.ledger/v1/witness/{FROZEN}) 联署于 2025-06-15 23:06:40 +08:00",
            common::WITNESS_BUREAU
        )),
        "{page}"
    );
    assert!(
        page.contains("? yibao.ledger/v1/witness/150102 （未知见证方，未核验）"),
        "{page}"
    );
    // A known witness's cosignature that does not verify fails the checkpoint.
    let (status, page) = call(
        viewer(&f, Tamper::Cosignature),
        "GET",
        &format!("/notices/{COUNTY}/{}", n["seq"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("class=\"badge bad\" id=\"verification\""),
        "{page}"
    );
    assert!(
        page.contains(&format!("cosignature of yibao.ledger/v1/witness/{FROZEN}")),
        "{page}"
    );
}
