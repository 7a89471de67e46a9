//! Frozen known-answer vectors for the formats of SPEC.md §13–§15: the manifest's
//! signing bytes and signature, an equivocation proof, sync and gossip messages, and a
//! page as it travels in a Pages response. A
//! change to any of these bytes is a change of format and must come with a new version.

use ed25519_dalek::SigningKey;
use yibao_ledger::equivocation::EquivocationProof;
use yibao_ledger::keys::LogCode;
use yibao_ledger::page;
use yibao_node::net::protocol::{EntriesResponse, Gossip, Request, Response};
use yibao_schema::manifest::{Manifest, ManifestBody, Member};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn manifest() -> Manifest {
    let mut body = ManifestBody::new("jinzhong-test", &key(1).verifying_key().to_bytes());
    body.upsert_member(Member {
        division: "141125".into(),
        name: "柳林县医疗保障局".into(),
        log_key: hex::encode(key(2).verifying_key().to_bytes()),
        peer_id: "12D3KooWQdNPWvyPtR7Nkw5u1gufW9rnngbSHpRBQG2Yxtu8jouo".into(),
        addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
    });
    Manifest::sign(body, &key(1)).unwrap()
}

#[test]
fn manifest_signature_is_frozen() {
    let m = manifest();
    let signing = m.body.signing_bytes().unwrap();
    assert!(signing.starts_with(b"yibao-ledger/v1/manifest\n"));
    assert_eq!(
        blake3::hash(&signing).to_hex().as_str(),
        MANIFEST_SIGNING_BLAKE3
    );
    assert_eq!(m.signature, MANIFEST_SIGNATURE);
    m.verify(Some(&key(1).verifying_key().to_bytes())).unwrap();
}

#[test]
fn equivocation_proof_encoding_is_frozen() {
    let proof = EquivocationProof {
        first: "a\n".into(),
        second: "b\n".into(),
        prefix_root: Some([7; 32]),
        consistency: vec![[8; 32]],
    };
    assert_eq!(hex::encode(proof.encode()), EQUIVOCATION_HEX);
    assert_eq!(EquivocationProof::decode(&proof.encode()).unwrap(), proof);
}

#[test]
fn sync_and_gossip_messages_are_frozen() {
    let log = LogCode::parse("141125").unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Request::Status.encode(), "8100"),
        (
            Request::Entries {
                log,
                start: 32,
                count: 4096,
            }
            .encode(),
            REQUEST_ENTRIES_HEX,
        ),
        (
            Response::Entries(EntriesResponse {
                log,
                start: 1,
                pages: vec![],
                entries: vec![vec![0xa1, 0x01]],
                checkpoint: "c\n".into(),
                proof: vec![[9; 32]],
            })
            .encode(),
            RESPONSE_ENTRIES_HEX,
        ),
        (
            Request::Pages {
                log,
                start: 64,
                count: 4096,
            }
            .encode(),
            REQUEST_PAGES_HEX,
        ),
        (
            Response::Entries(EntriesResponse {
                log,
                start: 32,
                pages: vec![vec![0x01, 0x00, 0x00, 0x00, 0x80, 0x28, 0xb5]],
                entries: vec![vec![0xa1, 0x01]],
                checkpoint: "c\n".into(),
                proof: vec![],
            })
            .encode(),
            RESPONSE_PAGES_HEX,
        ),
        (
            Gossip::Cosignature {
                log,
                size: 5,
                line: "— w x\n".into(),
            }
            .encode(),
            GOSSIP_COSIGNATURE_HEX,
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(hex::encode(&bytes), expected);
    }
}

const MANIFEST_SIGNING_BLAKE3: &str =
    "1b208f5b4397c82189adc2f72080614ca901cc5fc2c016e1373a660d12b34146";
const MANIFEST_SIGNATURE: &str =
    "Iqz1fue0paFKa1TPSdGhKbV4UJTa/MRnijB2AUadN8DxiiZKNj9RJOP6Fr4mXzZbany4uLgOrynkzkxcrgKaCw==";
const EQUIVOCATION_HEX: &str = "8672796962616f2d65717569766f636174696f6e0162610a62620a582007070707070707070707070707070707070707070707070707070707070707078158200808080808080808080808080808080808080808080808080808080808080808";
const REQUEST_ENTRIES_HEX: &str = "8401663134313132351820191000";
const RESPONSE_ENTRIES_HEX: &str = "860166313431313235018142a10162630a8158200909090909090909090909090909090909090909090909090909090909090909";
const REQUEST_PAGES_HEX: &str = "8403663134313132351840191000";
const RESPONSE_PAGES_HEX: &str = "87046631343131323518208147010000008028b58142a10162630a80";
const GOSSIP_COSIGNATURE_HEX: &str = "8401663134313132350568e28094207720780a";

/// The frames of a page whose entry `i` is the bytes `"entry " ‖ i` (not real entries:
/// §15.1 frames any bytes).
fn vector_frames() -> Vec<u8> {
    let mut frames = Vec::new();
    for i in 0..page::ENTRIES_PER_PAGE {
        page::push_frame(&mut frames, format!("entry {i}").as_bytes());
    }
    frames
}

#[test]
fn pages_on_the_wire_are_frozen() {
    let frames = vector_frames();
    // Raw: 0x00 then the frames.
    let raw = page::encode_raw(&frames);
    assert_eq!(raw[0], 0x00);
    assert_eq!(blake3::hash(&raw).to_hex().as_str(), PAGE_RAW_BLAKE3);
    // Compressed: a page written by this node (zstd's output may change with its version,
    // so this fixes what every receiver must keep accepting, not what a writer produces).
    let compressed = hex::decode(PAGE_ZSTD_HEX).unwrap();
    assert_eq!(&compressed[..5], &[0x01, 0, 0, 0x01, 0x76]);
    assert_eq!(page::frames_len(&compressed).unwrap(), frames.len());
    for value in [&raw, &compressed] {
        let received = page::decode_received(value).unwrap();
        let entries: Vec<&[u8]> = received.entries().collect();
        assert_eq!(entries.len(), 32);
        assert_eq!(entries[0], b"entry 0");
        assert_eq!(entries[31], b"entry 31");
    }
    assert_eq!(
        page::decode(&sled::IVec::from(compressed.clone()))
            .unwrap()
            .as_ref(),
        &frames[..]
    );
}

const PAGE_RAW_BLAKE3: &str = "6250723babd21e572d6b4ee62d4e88ad7e8081b6e6a7ccf942c82119ff9155b0";
const PAGE_ZSTD_HEX: &str = "010000017628b52ffd607600dd0300740300000007656e7472792030313233343536373839000000083108083108310831083108310831083108313232323232323232323233333128208093d20346cc35cc08738635628e614630b733cc113ddcc372419cc3037be416ce617690e76a813942877b7816cc64b215876e76cbbecd6ed967b3b385b7e805";
