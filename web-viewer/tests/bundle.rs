//! The viewer over an export bundle (`yibao viewer --bundle`): the bundle source answers
//! the node API's read paths exactly as a node holding the same logs does, the pages over
//! it are verified, and a bundle that does not verify is refused.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use yibao_web_viewer::bundle::BundleSource;
use yibao_web_viewer::{router, Source};

mod common;
use common::{api_get, fixture, Fixture, COUNTY, FROZEN, NOTICES, RENAMED, RENAMED_TO};
use yibao_web_viewer::html::query_value;

fn export(f: &Fixture) -> Vec<u8> {
    let mut out = Vec::new();
    yibao_ledger::bundle::export(&f.state.ledger, &[], &mut out).unwrap();
    out
}

/// The node's JSON with the fields a bundle cannot know (the frozen flag, whether the
/// node owns the log) removed.
fn comparable(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            map.remove("frozen");
            map.remove("own");
            for value in map.values_mut() {
                *value = comparable(value.take());
            }
        }
        Value::Array(list) => {
            for value in list.iter_mut() {
                *value = comparable(value.take());
            }
        }
        _ => {}
    }
    v
}

#[tokio::test]
async fn a_bundle_answers_as_the_node_does() {
    let f = fixture();
    let source = BundleSource::from_bytes(&export(&f)).unwrap();
    assert_eq!(source.counts().0, 2);
    let (_, notices) = api_get(&f.state, "/v1/notices?per_page=100").await;
    let notices: Value = serde_json::from_slice(&notices).unwrap();
    let first = &notices["notices"][0];
    let seq = first["seq"].as_u64().unwrap();
    let code = first["record"]["institution"]["code"].as_str().unwrap();
    let name = first["record"]["institution"]["name"].as_str().unwrap();
    let case_id = first["record"]["case_id"].as_str().unwrap();
    let frozen_case = notices["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["log"] == FROZEN)
        .unwrap()["record"]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let old_name = &yibao_node::workload::institutions(COUNTY, 12)[RENAMED].name;
    let mut paths = vec![
        "/v1/logs".to_string(),
        format!("/v1/logs/{COUNTY}/checkpoint"),
        format!("/v1/logs/{FROZEN}/checkpoint"),
        format!("/v1/logs/{COUNTY}/entries/0"),
        format!("/v1/logs/{COUNTY}/entries/{seq}"),
        format!("/v1/logs/{COUNTY}/entries/999999"),
        format!("/v1/logs/{COUNTY}/entries/x"),
        format!("/v1/logs/1411/entries/1"),
        format!("/v1/logs/110101/checkpoint"),
        format!("/v1/logs/{COUNTY}/proofs/inclusion?seq={seq}"),
        format!("/v1/logs/{COUNTY}/proofs/inclusion?seq=3&size=7"),
        format!("/v1/logs/{COUNTY}/proofs/inclusion?seq=7&size=7"),
        format!("/v1/logs/{COUNTY}/proofs/inclusion"),
        "/v1/notices".to_string(),
        "/v1/notices?page=2&per_page=7".to_string(),
        "/v1/notices?page=0".to_string(),
        "/v1/notices?per_page=101".to_string(),
        format!("/v1/institutions/{code}"),
        "/v1/institutions/H14112599999".to_string(),
        "/v1/institutions/X1".to_string(),
        format!("/v1/logs/{COUNTY}/cases/{case_id}"),
        format!("/v1/logs/{FROZEN}/cases/{}", query_value(&frozen_case)),
        format!("/v1/logs/{FROZEN}/cases/{case_id}"),
        format!("/v1/logs/{COUNTY}/cases/{}", "x".repeat(65)),
        format!("/v1/logs/999999/cases/{case_id}"),
        format!("/v1/logs/1411x5/cases/{case_id}"),
    ];
    // The search by name or code: the name as last changed (the old name finds only the
    // other county's institution of that name), any case for codes, spaces trimmed.
    for q in [
        name.to_string(),
        name.chars().skip(2).collect::<String>(),
        RENAMED_TO.to_string(),
        old_name.clone(),
        code.to_lowercase(),
        "H14112".to_string(),
        "P".to_string(),
        "卫生".to_string(),
        format!("  {name} "),
        "不存在的机构".to_string(),
        " ".to_string(),
        "x".repeat(65),
        "<b>".to_string(),
    ] {
        paths.push(format!("/v1/institutions?q={}", query_value(&q)));
    }
    paths.push(format!("/v1/institutions?q=+{}+", query_value(name)));
    paths.push("/v1/institutions".to_string());
    paths.push("/v1/institutions?q=".to_string());
    paths.push(format!("/v1/logs/{FROZEN}/proofs/inclusion?seq=1&size=2"));
    for path in &paths {
        let (node_status, node_body) = api_get(&f.state, path).await;
        let (status, body) = source.get(path).await.unwrap();
        assert_eq!(status, node_status, "{path}");
        if path.ends_with("/checkpoint") && status == 200 {
            assert_eq!(body, node_body, "{path}");
            continue;
        }
        let node: Value = serde_json::from_slice(&node_body).unwrap();
        let ours: Value = serde_json::from_slice(&body).unwrap();
        if status == 200 {
            if path.starts_with("/v1/institutions?") {
                // The comparison means something: the search finds what it should.
                assert!(ours["total"].is_u64(), "{path}: {ours}");
            }
            assert_eq!(comparable(ours), comparable(node), "{path}");
        } else {
            // Errors name the same field; the wording may differ.
            assert_eq!(
                ours["error"]["field"], node["error"]["field"],
                "{path}: {ours} vs {node}"
            );
        }
    }
    // What the bundle's search finds, beyond being the node's answer.
    let search = |q: &str| {
        let path = format!("/v1/institutions?q={}", query_value(q));
        let source = &source;
        async move {
            let (status, body) = source.get(&path).await.unwrap();
            assert_eq!(status, 200, "{path}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            let codes: Vec<String> = v["institutions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["code"].as_str().unwrap().to_string())
                .collect();
            codes
        }
    };
    let renamed = &yibao_node::workload::institutions(COUNTY, 12)[RENAMED];
    assert_eq!(search(RENAMED_TO).await, vec![renamed.code.clone()]);
    let by_old_name = search(old_name).await;
    assert_eq!(by_old_name.len(), 1, "{by_old_name:?}");
    assert!(by_old_name[0].contains(FROZEN), "{by_old_name:?}");
    assert!(search(&code.to_lowercase())
        .await
        .contains(&code.to_string()));
    assert_eq!(
        search("H14112").await.len() + search("P14112").await.len(),
        24
    );
}

#[tokio::test]
async fn pages_over_a_bundle_are_verified() {
    let f = fixture();
    let source: Arc<dyn Source> = Arc::new(BundleSource::from_bytes(&export(&f)).unwrap());
    let app = router(source);
    let get = |uri: String| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(Request::get(uri.as_str()).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (status, list) = get("/".into()).await;
    assert_eq!(status, StatusCode::OK);
    // The list of counties, with each county's notices and checkpoint, from the bundle.
    for (log, notices) in [(COUNTY, NOTICES), (FROZEN, 2)] {
        assert!(
            list.contains(&format!(
                "<a href=\"/counties/{log}#notices\" data-notices=\"{notices}\">"
            )),
            "{list}"
        );
    }
    assert_eq!(list.matches("✔ 签名有效").count(), 2, "{list}");
    let link = list
        .split("href=\"/notices/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let (status, page) = get(format!("/notices/{link}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    assert!(page.contains("检查点签名有效"));
    // The browser's data comes from the bundle as well.
    let (status, data) = get(format!("/data/entry/{link}")).await;
    assert_eq!(status, StatusCode::OK);
    let data: Value = serde_json::from_str(&data).unwrap();
    assert!(data["entry"]["entry"].is_string() && data["inclusion"]["proof"].is_array());
    let (status, _) = get(format!("/counties/{COUNTY}")).await;
    assert_eq!(status, StatusCode::OK);
    // An institution's page links the records of its cases, and they verify from the bundle.
    let code = data["entry"]["record"]["institution"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, page) = get(format!("/institutions/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    let finding = page
        .split("<tr data-kind=\"finding\">")
        .nth(1)
        .and_then(|row| row.split("href=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no finding linked: {page}"))
        .to_string();
    assert!(finding.starts_with("/entries/"), "{finding}");
    let (status, page) = get(finding).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("class=\"badge ok\" id=\"verification\""),
        "{page}"
    );
    // Search finds a registered institution named in no notice, by its name as changed.
    let renamed = &yibao_node::workload::institutions(COUNTY, 12)[RENAMED];
    let (status, page) = get(format!("/search?q={}", query_value(RENAMED_TO))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("href=\"/institutions/{}\"", renamed.code)),
        "{page}"
    );
}

#[test]
fn a_bundle_that_does_not_verify_is_refused() {
    let f = fixture();
    let bytes = export(&f);
    // 景某 → 王某 inside a signed entry: the officer's signature no longer holds.
    let (from, to) = ("景某".as_bytes(), "王某".as_bytes());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("a notice names 景某");
    let mut tampered = bytes.clone();
    tampered[at..at + to.len()].copy_from_slice(to);
    let error = BundleSource::from_bytes(&tampered)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("does not verify"), "{error}");
    let error = BundleSource::from_bytes(b"not a bundle").err().unwrap();
    assert!(format!("{error:#}").contains("bundle"), "{error:#}");
    let missing = BundleSource::open(std::path::Path::new("/nonexistent/x.bundle"));
    assert!(format!("{:#}", missing.err().unwrap()).contains("cannot read"));
}
