//! Replication scenarios over libp2p on loopback: convergence with cosignatures, a node
//! offline and back, a partition healed, a node killed mid-sync, a stranger refused.

use std::time::Duration;

use yibao_ledger::verify::verify_ledger;
use yibao_tests::net::{runtime, wait_for, TestNet, DIVISIONS};

const CONVERGE: Duration = Duration::from_secs(60);

/// Every node's ledger verifies.
fn all_verify(net: &TestNet) {
    for node in net.nodes.iter().filter(|n| n.handle.is_some()) {
        let report = verify_ledger(node.handle().ledger(), &|_| {});
        assert_eq!(
            report.failure_count, 0,
            "{}: {:?}",
            node.division, report.failures
        );
    }
}

#[test]
fn five_counties_and_the_city_converge_with_every_checkpoint_cosigned() {
    runtime().block_on(async {
        let mut net = TestNet::create(&DIVISIONS, 1).unwrap();
        net.start_all().await.unwrap();
        // Each appends, in two rounds, while replicating.
        for round in 0..2 {
            for i in 0..net.nodes.len() {
                net.append_cases(i, 3 + round).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let all: Vec<usize> = (0..net.nodes.len()).collect();
        net.wait_converged(&all, CONVERGE).await.unwrap();
        // Each log's latest checkpoint is cosigned by every other member, on every node.
        let others = net.nodes.len() - 1;
        let ok = yibao_tests::net::wait_until(CONVERGE, || {
            net.nodes
                .iter()
                .all(|n| n.status().logs.iter().all(|l| l.cosignatures == others))
        })
        .await;
        assert!(
            ok,
            "cosignatures: {:?}",
            net.nodes
                .iter()
                .map(|n| n
                    .status()
                    .logs
                    .iter()
                    .map(|l| (l.log.clone(), l.cosignatures))
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
        // Dials can cross under load; every member ends up connected to every other.
        let all_connected = yibao_tests::net::wait_until(CONVERGE, || {
            net.nodes.iter().all(|n| n.status().peers.len() == others)
        })
        .await;
        if !all_connected {
            for i in 0..net.nodes.len() {
                net.connect(i);
            }
        }
        for node in &net.nodes {
            let connected =
                yibao_tests::net::wait_until(CONVERGE, || node.status().peers.len() == others)
                    .await;
            let status = node.status();
            assert!(
                connected,
                "{} sees every member: {:?}",
                node.division, status.peers
            );
            assert!(status.banned.is_empty(), "no honest peer is banned");
            assert_eq!(status.logs.len(), net.nodes.len());
        }
        // The index rows of replicated batches are written by each node's own timer, not
        // only when something reads them.
        let indexed = yibao_tests::net::wait_until(CONVERGE, || {
            net.nodes.iter().all(|n| {
                n.handle
                    .as_ref()
                    .is_some_and(|h| h.ledger().index_queued() == 0)
            })
        })
        .await;
        assert!(indexed, "index rows left queued");
        all_verify(&net);
        for i in 0..net.nodes.len() {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_node_offline_catches_up_when_back_and_a_partition_heals() {
    runtime().block_on(async {
        let mut net = TestNet::create(&DIVISIONS[..5], 2).unwrap();
        net.start_all().await.unwrap();
        let all: Vec<usize> = (0..5).collect();
        net.wait_converged(&all, CONVERGE).await.unwrap();

        // Offline: node 4 stops, the others append, node 4 comes back on a new port and
        // catches up by itself.
        net.stop(4).await.unwrap();
        for i in 0..4 {
            net.append_cases(i, 4).unwrap();
        }
        net.wait_converged(&[0, 1, 2, 3], CONVERGE).await.unwrap();
        net.start(4).await.unwrap();
        net.connect(4);
        net.wait_converged(&all, CONVERGE).await.unwrap();

        // Partition {0,1} | {2,3,4}, appends on both sides, then heal.
        let left = [0usize, 1];
        let right = [2usize, 3, 4];
        for &a in &left {
            for &b in &right {
                net.nodes[a].handle().block(net.nodes[b].peer_id());
                net.nodes[b].handle().block(net.nodes[a].peer_id());
            }
        }
        wait_for(
            "the partition to cut connections",
            Duration::from_secs(10),
            || left.iter().all(|&a| net.nodes[a].status().peers.len() == 1),
        )
        .await
        .unwrap();
        for i in 0..5 {
            net.append_cases(i, 2).unwrap();
        }
        // Each side converges on its own logs.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let left_view = net.nodes[0].status();
        let right_owner = net.nodes[2]
            .handle()
            .ledger()
            .size(&net.nodes[2].code())
            .unwrap();
        assert!(
            left_view.log(&net.nodes[2].division).unwrap().size < right_owner,
            "the partition really separated the sides"
        );
        for &a in &left {
            for &b in &right {
                net.nodes[a].handle().unblock(net.nodes[b].peer_id());
                net.nodes[b].handle().unblock(net.nodes[a].peer_id());
            }
        }
        for i in 0..5 {
            net.connect(i);
        }
        net.wait_converged(&all, CONVERGE).await.unwrap();
        all_verify(&net);
        for i in 0..5 {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_peer_not_in_the_manifest_is_refused() {
    runtime().block_on(async {
        let mut net = TestNet::create(&DIVISIONS[..2], 3).unwrap();
        net.start_all().await.unwrap();
        net.wait_converged(&[0, 1], CONVERGE).await.unwrap();
        // A stranger: a node with its own log and a manifest of its own making.
        let mut stranger = TestNet::create(&["140799"], 4).unwrap();
        stranger.nodes[0].network_seed[5] = 0x77;
        // It claims to be in the city's network by carrying the city's manifest plus itself:
        // it cannot sign that, so it uses its own; either way our nodes do not know its peer id.
        stranger.start(0).await.unwrap();
        for node in &net.nodes {
            for addr in node.handle().listen_addrs() {
                stranger.nodes[0]
                    .handle()
                    .dial(yibao_tests::net::with_peer(addr, node.peer_id()));
            }
        }
        for addr in stranger.nodes[0].handle().listen_addrs() {
            net.nodes[0].handle().dial(addr);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        for node in &net.nodes {
            let status = node.status();
            assert_eq!(
                status.peers.len(),
                1,
                "{}: only the other member: {:?}",
                node.division,
                status.peers
            );
            assert!(
                status.log("140799").is_none(),
                "nothing of the stranger's log"
            );
        }
        assert!(stranger.nodes[0].status().peers.is_empty());
        stranger.stop(0).await.unwrap();
        for i in 0..2 {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_newer_manifest_admits_a_new_member_and_stale_or_foreign_ones_are_refused() {
    runtime().block_on(async {
        // Three nodes exist, but the first manifest names only two.
        let mut net = TestNet::create(&DIVISIONS[..3], 5).unwrap();
        let full = net.manifest.clone();
        let mut first_body = full.body.clone();
        first_body
            .members
            .retain(|m| m.division != net.nodes[2].division);
        let first = yibao_schema::manifest::Manifest::sign(first_body, &net.city).unwrap();
        net.manifest = first.clone();
        net.start(0).await.unwrap();
        net.start(1).await.unwrap();
        net.manifest = full.clone();
        net.start(2).await.unwrap();
        for i in 0..3 {
            net.connect(i);
        }
        net.wait_converged(&[0, 1], CONVERGE).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            net.nodes[0].status().peers.len(),
            1,
            "node 2 is not a member yet"
        );
        assert!(net.nodes[0].status().log(&net.nodes[2].division).is_none());

        // A manifest with the same serial, or signed by another key, is refused.
        let mut same_serial = full.body.clone();
        same_serial.serial = first.body.serial;
        let same = yibao_schema::manifest::Manifest::sign(same_serial, &net.city).unwrap();
        assert!(net.nodes[0].handle().install_manifest(same).await.is_err());
        let other_city = ed25519_dalek::SigningKey::from_bytes(&[0x99; 32]);
        let mut foreign_body = full.body.clone();
        foreign_body.serial = 9;
        foreign_body.city_key = hex::encode(other_city.verifying_key().to_bytes());
        let foreign = yibao_schema::manifest::Manifest::sign(foreign_body, &other_city).unwrap();
        assert!(net.nodes[0]
            .handle()
            .install_manifest(foreign)
            .await
            .is_err());

        // The newer one, from the same city key, admits node 2.
        let mut newer_body = full.body.clone();
        newer_body.serial = first.body.serial + 1;
        let newer = yibao_schema::manifest::Manifest::sign(newer_body, &net.city).unwrap();
        for i in 0..3 {
            if i < 2 {
                net.nodes[i]
                    .handle()
                    .install_manifest(newer.clone())
                    .await
                    .unwrap();
            }
            net.connect(i);
        }
        net.wait_converged(&[0, 1, 2], CONVERGE).await.unwrap();
        for i in 0..3 {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_new_node_catches_up_a_log_from_a_member_that_is_not_its_owner() {
    runtime().block_on(async {
        let mut net = TestNet::create(&DIVISIONS[..3], 6).unwrap();
        net.start(0).await.unwrap();
        net.start(1).await.unwrap();
        net.connect(0);
        net.append_cases(0, 5).unwrap();
        net.wait_converged(&[0, 1], CONVERGE).await.unwrap();
        let owner_size = net.nodes[0]
            .handle()
            .ledger()
            .size(&net.nodes[0].code())
            .unwrap();
        let owner_checkpoint = net.nodes[0]
            .status()
            .log(&net.nodes[0].division)
            .unwrap()
            .checkpoint
            .clone();
        // The owner goes away; a new node meets only node 1.
        net.stop(0).await.unwrap();
        net.start(2).await.unwrap();
        net.connect(2);
        let division = net.nodes[0].division.clone();
        wait_for("node 2 to hold the absent owner's log", CONVERGE, || {
            net.nodes[2]
                .status()
                .log(&division)
                .map(|l| l.size == owner_size && l.checkpoint_size == owner_size)
                .unwrap_or(false)
        })
        .await
        .unwrap();
        let view = net.nodes[2].status();
        let log = view.log(&division).unwrap();
        assert_eq!(
            log.checkpoint.lines().next(),
            owner_checkpoint.lines().next(),
            "the owner's signed checkpoint, relayed"
        );
        all_verify(&net);
        for i in [1, 2] {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_bureau_key_rotation_replicates_and_no_honest_peer_is_blamed() {
    runtime().block_on(async {
        let mut net = TestNet::create(&DIVISIONS[..3], 7).unwrap();
        net.start_all().await.unwrap();
        net.wait_converged(&[0, 1, 2], CONVERGE).await.unwrap();
        // Node 0 rotates its bureau key: the old key signs the rotation, the new one every
        // checkpoint after it.
        let code = net.nodes[0].code();
        let new_key = ed25519_dalek::SigningKey::from_bytes(&[0x5e; 32]);
        let record = yibao_schema::record::Record::KeyEvent(
            yibao_schema::record::KeyEvent::BureauKeyRotated {
                new_key: new_key.verifying_key().to_bytes().into(),
            },
        );
        let submission = yibao_schema::entry::Submission::sign(
            &net.nodes[0].officers.bureau,
            &code.origin(),
            yibao_tests::TIME_MS,
            record.kind().as_str(),
            record.encode_payload().unwrap(),
        )
        .unwrap();
        let ledger = net.nodes[0].handle().ledger().clone();
        ledger.set_signer(&code, new_key.clone()).unwrap();
        for r in ledger
            .append_batch(&code, vec![submission], yibao_tests::TIME_MS)
            .unwrap()
        {
            r.unwrap();
        }
        net.append_cases(0, 3).unwrap();
        net.wait_converged(&[0, 1, 2], CONVERGE).await.unwrap();
        for node in &net.nodes {
            let status = node.status();
            assert!(
                status.banned.is_empty(),
                "{}: {:?}",
                node.division,
                status.banned
            );
            assert_eq!(
                node.handle().ledger().bureau_key(&code).unwrap(),
                Some(new_key.verifying_key().to_bytes()),
                "{} knows the new key",
                node.division
            );
        }
        all_verify(&net);
        for i in 0..3 {
            net.stop(i).await.unwrap();
        }
    });
}

#[test]
fn a_node_that_holds_a_checkpoint_it_never_cosigned_cosigns_it_when_it_starts() {
    runtime().block_on(async {
        let net_root = TestNet::create(&DIVISIONS[..2], 8).unwrap();
        let mut net = net_root;
        // Node 1 gets node 0's whole log offline (as if killed right after storing it).
        {
            let owner = yibao_tests::net::open_retrying(&net.nodes[0].dir).unwrap();
            let replica = yibao_tests::net::open_retrying(&net.nodes[1].dir).unwrap();
            let code = net.nodes[0].code();
            yibao_node::net::ensure_member_logs(&replica, &net.manifest).unwrap();
            let size = owner.size(&code).unwrap();
            let entries: Vec<Vec<u8>> = owner
                .entries(&code, 0, size)
                .unwrap()
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            let checkpoint = owner.latest_checkpoint(&code).unwrap();
            replica
                .append_replicated(&code, 0, &entries, &checkpoint, &[])
                .unwrap();
            assert!(!replica
                .latest_checkpoint(&code)
                .unwrap()
                .contains("witness"));
            owner.close().unwrap();
            replica.close().unwrap();
        }
        net.start_all().await.unwrap();
        let division = net.nodes[0].division.clone();
        wait_for("the owner to hold node 1's cosignature", CONVERGE, || {
            net.nodes[0]
                .status()
                .log(&division)
                .map(|l| l.cosignatures == 1)
                .unwrap_or(false)
        })
        .await
        .unwrap();
        for i in 0..2 {
            net.stop(i).await.unwrap();
        }
    });
}
