//! Byzantine peers and equivocating counties.
//!
//! A compromised member node serves corrupted batches of another county's log, one kind of
//! corruption at a time: every batch is refused, the peer is banned, and the node still
//! catches up from an honest peer. A county whose key signs two diverging histories shown
//! to different peers is caught: the proof is found, gossiped, and the log frozen on every
//! honest node.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use yibao_ledger::verify::verify_ledger;
use yibao_node::net::fault::ServeFault;
use yibao_node::net::protocol::{EntriesResponse, MAX_RESPONSE_BYTES};
use yibao_schema::entry::{encode_entry, EntryRef, Submission};
use yibao_schema::record::{DivisionCode, KeyEvent, Record};
use yibao_tests::net::{copy_dir, runtime, wait_for, wait_until, TestNet, DIVISIONS};
use yibao_tests::{forge_signature, page_entries, page_of_entries, TIME_MS};

const WAIT: Duration = Duration::from_secs(60);

/// Re-encodes entry `k` of a batch through `change` (on its decoded parts).
fn rewrite(
    r: &mut EntriesResponse,
    k: usize,
    change: impl Fn(&mut u64, &mut [u8; 32], &mut Submission),
) {
    let Some(bytes) = r.entries.get(k) else {
        return;
    };
    let entry = EntryRef::decode(bytes).unwrap();
    let (mut seq, mut prev, mut sub) = (entry.seq, entry.prev, entry.submission.to_owned());
    change(&mut seq, &mut prev, &mut sub);
    r.entries[k] = encode_entry(seq, &prev, &sub.view().unwrap());
}

fn faults(owner_bureau: SigningKey, owner_division: String) -> Vec<(&'static str, ServeFault)> {
    let mutate = |f: fn(&mut EntriesResponse)| ServeFault::Mutate(Arc::new(f));
    let stranger = SigningKey::from_bytes(&[0x42; 32]);
    let unauthorised = ServeFault::Mutate(Arc::new(move |r: &mut EntriesResponse| {
        let stranger = stranger.clone();
        rewrite(r, 0, move |_, _, sub| {
            let view = sub.view().unwrap();
            *sub = Submission::sign(
                &stranger,
                view.statement.origin,
                view.statement.timestamp_ms,
                view.statement.kind,
                view.payload.to_vec(),
            )
            .unwrap();
        })
    }));
    let rule_breaking = ServeFault::Mutate(Arc::new(move |r: &mut EntriesResponse| {
        // A second LogCreated, properly signed by the bureau key: only entry 0 may be one.
        let record = Record::KeyEvent(KeyEvent::LogCreated {
            division: DivisionCode::parse(&owner_division).unwrap(),
            name: "冒名".into(),
            bureau_key: owner_bureau.verifying_key().to_bytes().into(),
        });
        let bureau = owner_bureau.clone();
        rewrite(r, 0, move |_, _, sub| {
            let view = sub.view().unwrap();
            *sub = Submission::sign(
                &bureau,
                view.statement.origin,
                TIME_MS,
                record.kind().as_str(),
                record.encode_payload().unwrap(),
            )
            .unwrap();
        })
    }));
    let mut oversize = (MAX_RESPONSE_BYTES as u32 + 1).to_be_bytes().to_vec();
    oversize.extend_from_slice(&[0u8; 64]);
    vec![
        (
            "forged signature",
            mutate(|r| rewrite(r, 1, |_, _, sub| sub.signature[7] ^= 0x20)),
        ),
        (
            "broken prev link",
            mutate(|r| rewrite(r, 2, |_, prev, _| prev[0] ^= 1)),
        ),
        (
            "wrong seq",
            mutate(|r| rewrite(r, 0, |seq, _, _| *seq += 3)),
        ),
        ("unauthorised author", unauthorised),
        ("rule-breaking record", rule_breaking),
        ("oversize message", ServeFault::Raw(oversize)),
        (
            "garbage bytes",
            ServeFault::Raw(vec![0, 0, 0, 5, 0xff, 0xfe, 0x00, 0x13, 0x37]),
        ),
        (
            "replayed old entries",
            mutate(|r| {
                // The batch asked for, but starting over from earlier entries.
                let first = r.entries[0].clone();
                r.entries.insert(0, first);
                r.entries.pop();
            }),
        ),
        (
            "a checkpoint that does not match the entries",
            mutate(|r| {
                r.entries.pop();
            }),
        ),
        (
            "a checkpoint not signed by the log's key",
            mutate(|r| r.checkpoint = r.checkpoint.replacen("yibao", "yibaO", 1)),
        ),
        // Served with pages: a batch's first page is corrupted (the batch from inside a
        // page, before it, is served whole).
        (
            "a page that does not decompress",
            ServeFault::MutatePages(Arc::new(|r: &mut EntriesResponse| {
                if let Some(page) = r.pages.first_mut() {
                    page.truncate(5);
                    page.extend([0x42; 64]);
                }
            })),
        ),
        (
            "a forged signature inside a page",
            ServeFault::MutatePages(Arc::new(|r: &mut EntriesResponse| {
                let Some(value) = r.pages.first_mut() else {
                    return;
                };
                let mut entries = page_entries(value);
                // The page's last entry, so that no prev link gives it away first.
                if let Some(entry) = entries.last_mut() {
                    forge_signature(entry);
                }
                *value = page_of_entries(&entries);
            })),
        ),
    ]
}

#[test]
fn every_kind_of_bad_batch_is_refused_the_peer_banned_and_honest_sync_unharmed() {
    runtime().block_on(async {
        // 0: the owner; 1: the byzantine member; 2: a node catching up.
        let mut net = TestNet::create(&DIVISIONS[..3], 11).unwrap();
        net.start_all().await.unwrap();
        net.append_cases(0, 6).unwrap();
        net.wait_converged(&[0, 1, 2], WAIT).await.unwrap();
        let owner = net.nodes[0].division.clone();
        let (owner_peer, bad_peer) = (net.nodes[0].peer_id(), net.nodes[1].peer_id());
        let list = faults(net.nodes[0].officers.bureau.clone(), owner.clone());
        for (name, fault) in list {
            // Node 2 falls behind; the byzantine node has everything.
            net.stop(2).await.unwrap();
            // Enough for full pages past the first page boundary when pages are corrupted.
            let cases = if fault.serves_pages() { 20 } else { 3 };
            net.append_cases(0, cases).unwrap();
            net.wait_converged(&[0, 1], WAIT).await.unwrap();
            net.stop(1).await.unwrap();
            let mut config = net.config.clone();
            config.fault = Some(fault);
            net.start_with(1, config).await.unwrap();
            net.connect(1);
            // Node 2 sees only the byzantine node at first.
            net.start(2).await.unwrap();
            net.nodes[2].handle().block(owner_peer);
            net.connect(2);
            let banned = wait_until(WAIT, || {
                net.nodes[2].status().banned.contains(&bad_peer.to_string())
            })
            .await;
            let status = net.nodes[2].status();
            assert!(
                banned,
                "{name}: the byzantine peer is banned; status: faults {} logs {:?}",
                status.faults,
                status.log(&owner)
            );
            let behind = status.log(&owner).unwrap().size;
            let target = net.nodes[0]
                .handle()
                .ledger()
                .size(&net.nodes[0].code())
                .unwrap();
            assert!(
                behind < target,
                "{name}: nothing bad was stored ({behind} < {target})"
            );
            // Honest sync is unharmed.
            net.nodes[2].handle().unblock(owner_peer);
            net.connect(2);
            net.wait_converged(&[0, 2], WAIT)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let report = verify_ledger(net.nodes[2].handle().ledger(), &|_| {});
            assert_eq!(report.failure_count, 0, "{name}: {:?}", report.failures);
            assert!(
                net.nodes[2].status().banned.contains(&bad_peer.to_string()),
                "{name}: still banned"
            );
            // The byzantine node goes back to honest for the next round (a fresh ban list
            // on node 2 comes with its restart).
            net.stop(1).await.unwrap();
            net.start(1).await.unwrap();
            net.connect(1);
        }
        for i in 0..3 {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn an_equivocating_county_is_caught_and_frozen_everywhere() {
    runtime().block_on(async {
        // 0: the equivocating county E; 1, 2 see history A; 3, 4 see history B; 5 sees A
        // and hears of the equivocation only by gossip.
        let mut net = TestNet::create(&DIVISIONS, 12).unwrap();
        let e_div = net.nodes[0].division.clone();
        let fork = net._root.path().join("fork");
        copy_dir(&net.nodes[0].dir, &fork).unwrap();
        let a_dir = net.nodes[0].dir.clone();
        let peers: Vec<_> = net.nodes.iter().map(|n| n.peer_id()).collect();
        let block_between = |net: &TestNet, x: &[usize], y: &[usize]| {
            for &a in x {
                for &b in y {
                    if let (Some(ha), Some(hb)) = (&net.nodes[a].handle, &net.nodes[b].handle) {
                        ha.block(peers[b]);
                        hb.block(peers[a]);
                    }
                }
            }
        };
        // History A, shown to 1, 2 and 5.
        for i in [0usize, 1, 2, 5] {
            net.start(i).await.unwrap();
        }
        for i in [0usize, 1, 2, 5] {
            net.connect(i);
        }
        net.append_cases(0, 4).unwrap();
        net.wait_converged(&[0, 1, 2, 5], WAIT).await.unwrap();
        net.stop(0).await.unwrap();

        // History B (same key, other cases, longer), shown to 3 and 4 only.
        net.nodes[0].dir = fork;
        net.nodes[0].next_case = 100;
        net.start(3).await.unwrap();
        net.start(4).await.unwrap();
        net.start(0).await.unwrap();
        block_between(&net, &[1, 2, 5], &[0, 3, 4]);
        for i in [0usize, 3, 4] {
            net.connect(i);
        }
        net.append_cases(0, 6).unwrap();
        net.wait_converged(&[0, 3, 4], WAIT).await.unwrap();
        net.stop(0).await.unwrap();

        // Heal between the honest nodes, except 5, which stays away from 3 and 4: it can
        // learn of the equivocation only through gossip relayed by 1 and 2.
        for (a, b) in [(1, 3), (1, 4), (2, 3), (2, 4)] {
            net.nodes[a].handle().unblock(peers[b]);
            net.nodes[b].handle().unblock(peers[a]);
        }
        for i in [1usize, 2, 3, 4] {
            net.connect(i);
        }
        wait_for(
            "every honest node to freeze the equivocating log",
            WAIT,
            || {
                [1usize, 2, 3, 4, 5]
                    .iter()
                    .all(|&i| net.nodes[i].status().equivocations.contains(&e_div))
            },
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}: {:?}",
                [1usize, 2, 3, 4, 5].map(|i| (
                    i,
                    net.nodes[i].status().equivocations,
                    net.nodes[i].status().log(&e_div).map(|l| l.size)
                ))
            )
        });
        for i in [1usize, 2, 3, 4, 5] {
            let ledger = net.nodes[i].handle().ledger();
            let code = net.nodes[0].code();
            let proof = ledger
                .equivocation(&code)
                .unwrap()
                .expect("the proof is stored");
            proof
                .verify(&ledger.log_verifier_key(&code).unwrap())
                .unwrap();
            assert!(net.nodes[i].status().log(&e_div).unwrap().frozen);
            // The other logs are untouched.
            assert!(
                net.nodes[i]
                    .status()
                    .logs
                    .iter()
                    .filter(|l| l.frozen)
                    .count()
                    == 1
            );
        }
        let _ = a_dir;
        for i in [1usize, 2, 3, 4, 5] {
            net.stop(i).await.unwrap();
        }
    });
}
