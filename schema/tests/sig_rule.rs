//! Tests of the Yibao Ed25519 rule (`yibao_schema::sig`) on crafted signatures: the
//! edge cases of the "ed25519-speccheck" vector set, rebuilt here with curve25519-dalek
//! (non-canonical S, R and A; small-order and torsioned keys; small-order and mixed-order
//! R), and the property that batch and single verification always agree.
//!
//! Not for: speed (the lead benchmarks against ed25519-dalek's `verify_batch`), or the
//! note formats (see `note.rs`).

// Tests may unwrap: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha512};
use yibao_schema::sig::{
    self, check_public_key, verify, verify_with, BatchFailure, BatchVerifier, PublicKey,
    SignatureError,
};

/// The group order L, little-endian.
const L_BYTES: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

const WHICH_R: &str = "signature R";
const WHICH_A: &str = "public key A";

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn random_scalar(rng: &mut ChaCha20Rng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// k = SHA-512(R ‖ A ‖ M) mod L.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(message),
    )
}

/// A signer whose secret scalar we hold, so that we can make crafted signatures.
struct Signer {
    signing_key: SigningKey,
    a: Scalar,
    a_bytes: [u8; 32],
    public: PublicKey,
}

impl Signer {
    fn new(rng: &mut ChaCha20Rng) -> Self {
        let signing_key = SigningKey::generate(rng);
        let a = signing_key.to_scalar();
        let a_bytes = signing_key.verifying_key().to_bytes();
        assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), a_bytes);
        let public = PublicKey::from_bytes(&a_bytes).unwrap();
        Self {
            signing_key,
            a,
            a_bytes,
            public,
        }
    }

    fn honest(&self, message: &[u8]) -> [u8; 64] {
        sig::sign(&self.signing_key, message)
    }

    /// A signature with commitment point `r_point` whose discrete log (on the prime-order
    /// part) is `r`: S = r + k·a with k computed over the encoding of `r_point`.
    fn crafted(&self, r_point: EdwardsPoint, r: Scalar, message: &[u8]) -> [u8; 64] {
        let r_bytes = r_point.compress().to_bytes();
        let s = r + challenge(&r_bytes, &self.a_bytes, message) * self.a;
        join(&r_bytes, &s.to_bytes())
    }

    /// R' = rB + T for a torsion point T: a mixed-order R.
    fn mixed_order_r(&self, rng: &mut ChaCha20Rng, torsion: usize, message: &[u8]) -> [u8; 64] {
        let r = random_scalar(rng);
        self.crafted(
            EdwardsPoint::mul_base(&r) + EIGHT_TORSION[torsion],
            r,
            message,
        )
    }

    /// R = T, a small-order R, with S = k·a.
    fn small_order_r(&self, torsion: usize, message: &[u8]) -> [u8; 64] {
        self.crafted(EIGHT_TORSION[torsion], Scalar::ZERO, message)
    }

    fn dalek_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.signing_key
            .verifying_key()
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

fn join(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(r);
    signature[32..].copy_from_slice(s);
    signature
}

/// Adds L to the little-endian 256-bit number `s` (S < L < 2^253, so no overflow).
fn add_l(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(L_BYTES[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// The 19 encodings of y = p + offset (offset 0..=18), with the sign bit clear or set:
/// every encoding whose y is not reduced.
fn unreduced_encodings() -> Vec<[u8; 32]> {
    let mut encodings = Vec::new();
    for offset in 0..=18u8 {
        let mut bytes = [0xffu8; 32];
        bytes[31] = 0x7f;
        bytes[0] = 0xed + offset;
        encodings.push(bytes);
        bytes[31] |= 0x80;
        encodings.push(bytes);
    }
    encodings
}

/// The two "negative zero" encodings: y = 1 and y = p − 1 with the sign bit set.
fn negative_zero_encodings() -> [[u8; 32]; 2] {
    let mut one = [0u8; 32];
    one[0] = 1;
    one[31] = 0x80;
    let mut p_minus_one = [0xffu8; 32];
    p_minus_one[0] = 0xec;
    [one, p_minus_one]
}

fn single(key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> Result<(), SignatureError> {
    verify_with(key, message, signature)
}

fn batch_of_one(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> (Result<(), SignatureError>, Result<(), BatchFailure>) {
    let mut batch = BatchVerifier::new();
    let pushed = batch.push(key, message, signature);
    (pushed, batch.verify(&mut rng(99)))
}

#[test]
fn honest_signatures_verify_singly_in_batch_and_with_dalek_strict() {
    let mut rng = rng(1);
    let signers: Vec<Signer> = (0..8).map(|_| Signer::new(&mut rng)).collect();
    let mut batch = BatchVerifier::with_capacity(200);
    for i in 0..200usize {
        let signer = &signers[i % signers.len()];
        let mut message = vec![0u8; i % 300];
        rng.fill_bytes(&mut message);
        let signature = signer.honest(&message);
        assert_eq!(verify(&signer.a_bytes, &message, &signature), Ok(()));
        assert_eq!(single(&signer.public, &message, &signature), Ok(()));
        assert!(signer.dalek_strict(&message, &signature));
        batch.push(&signer.public, &message, &signature).unwrap();
    }
    assert_eq!(batch.len(), 200);
    assert_eq!(batch.verify(&mut rng), Ok(()));
}

#[test]
fn empty_batch_verifies() {
    let batch = BatchVerifier::new();
    assert!(batch.is_empty());
    assert_eq!(batch.verify(&mut rng(2)), Ok(()));
}

#[test]
fn s_plus_l_is_rejected_by_both_paths() {
    let mut rng = rng(3);
    let signer = Signer::new(&mut rng);
    let signature = signer.honest(b"pay 111,843 yuan");
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature[..32]);
    s.copy_from_slice(&signature[32..]);
    let malleated = join(&r, &add_l(&s));
    // The same value mod L, so only the canonical-S check stands in the way.
    assert_eq!(
        single(&signer.public, b"pay 111,843 yuan", &malleated),
        Err(SignatureError::NonCanonicalScalar)
    );
    let (pushed, verified) = batch_of_one(&signer.public, b"pay 111,843 yuan", &malleated);
    assert_eq!(pushed, Err(SignatureError::NonCanonicalScalar));
    assert_eq!(verified, Err(BatchFailure { failed: vec![0] }));
    assert!(!signer.dalek_strict(b"pay 111,843 yuan", &malleated));
    // An S with the top bit set is rejected the same way.
    let mut high = s;
    high[31] |= 0x80;
    assert_eq!(
        single(&signer.public, b"pay 111,843 yuan", &join(&r, &high)),
        Err(SignatureError::NonCanonicalScalar)
    );
}

#[test]
fn non_canonical_r_encodings_are_rejected() {
    let mut rng = rng(4);
    let signer = Signer::new(&mut rng);
    let message = b"finding";
    let mut decompressible = 0;
    for r_bytes in unreduced_encodings()
        .into_iter()
        .chain(negative_zero_encodings())
    {
        if CompressedEdwardsY(r_bytes).decompress().is_some() {
            decompressible += 1;
        }
        // S = k·a makes the cofactored equation hold whenever R is of small order, as the
        // non-canonical encodings of y = 0, y = 1 and y = p − 1 are.
        let k = challenge(&r_bytes, &signer.a_bytes, message);
        let signature = join(&r_bytes, &(k * signer.a).to_bytes());
        let expected = Err(SignatureError::NonCanonicalPointEncoding { which: WHICH_R });
        assert_eq!(single(&signer.public, message, &signature), expected);
        let (pushed, verified) = batch_of_one(&signer.public, message, &signature);
        assert_eq!(pushed, expected);
        assert_eq!(verified, Err(BatchFailure { failed: vec![0] }));
    }
    // curve25519-dalek decompresses several of these (it reduces y mod p and ignores a
    // sign bit on x = 0), so the byte check is what rejects them.
    assert!(decompressible >= 4, "only {decompressible} decompressed");
}

#[test]
fn non_canonical_a_encodings_are_rejected() {
    let mut decompressible = 0;
    for a_bytes in unreduced_encodings()
        .into_iter()
        .chain(negative_zero_encodings())
    {
        if CompressedEdwardsY(a_bytes).decompress().is_some() {
            decompressible += 1;
        }
        let expected = SignatureError::NonCanonicalPointEncoding { which: WHICH_A };
        assert_eq!(PublicKey::from_bytes(&a_bytes).unwrap_err(), expected);
        assert_eq!(check_public_key(&a_bytes).unwrap_err(), expected);
        assert_eq!(verify(&a_bytes, b"m", &[0u8; 64]), Err(expected));
    }
    assert!(decompressible >= 4);
}

#[test]
fn encodings_off_the_curve_are_invalid_points() {
    // Find small canonical y values that are not on the curve.
    let mut off_curve = Vec::new();
    for y in 2u8..60 {
        let mut bytes = [0u8; 32];
        bytes[0] = y;
        if CompressedEdwardsY(bytes).decompress().is_none() {
            off_curve.push(bytes);
        }
    }
    assert!(off_curve.len() >= 10);
    let mut rng = rng(5);
    let signer = Signer::new(&mut rng);
    for bytes in off_curve {
        assert_eq!(
            PublicKey::from_bytes(&bytes).unwrap_err(),
            SignatureError::InvalidPoint { which: WHICH_A }
        );
        let signature = join(&bytes, &Scalar::ONE.to_bytes());
        assert_eq!(
            single(&signer.public, b"m", &signature),
            Err(SignatureError::InvalidPoint { which: WHICH_R })
        );
    }
}

#[test]
fn small_order_keys_are_rejected() {
    for (index, torsion) in EIGHT_TORSION.iter().enumerate() {
        let bytes = torsion.compress().to_bytes();
        assert_eq!(
            PublicKey::from_bytes(&bytes).unwrap_err(),
            SignatureError::SmallOrderKey,
            "torsion point {index}"
        );
        // With a small-order key, R = B and S = 1 would satisfy the cofactored equation
        // for every message: this is why such keys are refused.
        let forged = join(
            &ED25519_BASEPOINT_POINT.compress().to_bytes(),
            &Scalar::ONE.to_bytes(),
        );
        assert_eq!(
            verify(&bytes, b"any message", &forged),
            Err(SignatureError::SmallOrderKey)
        );
    }
}

#[test]
fn keys_with_a_torsion_component_are_rejected() {
    let mut rng = rng(6);
    let signer = Signer::new(&mut rng);
    let a = EdwardsPoint::mul_base(&signer.a);
    for torsion in &EIGHT_TORSION[1..] {
        let bytes = (a + torsion).compress().to_bytes();
        assert_eq!(
            PublicKey::from_bytes(&bytes).unwrap_err(),
            SignatureError::KeyNotTorsionFree
        );
        // ed25519-dalek accepts such a key as a VerifyingKey; our rule does not.
        assert!(VerifyingKey::from_bytes(&bytes).is_ok());
    }
}

#[test]
fn small_order_r_is_accepted_by_the_rule_and_rejected_by_verify_strict() {
    let mut rng = rng(7);
    let signer = Signer::new(&mut rng);
    for torsion in 0..8 {
        let message = format!("small-order R {torsion}");
        let signature = signer.small_order_r(torsion, message.as_bytes());
        assert_eq!(
            single(&signer.public, message.as_bytes(), &signature),
            Ok(())
        );
        let (pushed, verified) = batch_of_one(&signer.public, message.as_bytes(), &signature);
        assert_eq!((pushed, verified), (Ok(()), Ok(())));
        // dalek's verify_strict refuses small-order R outright.
        assert!(!signer.dalek_strict(message.as_bytes(), &signature));
        // Changing the message breaks it, as it should.
        assert_eq!(
            single(&signer.public, b"other", &signature),
            Err(SignatureError::EquationFailed)
        );
    }
}

#[test]
fn mixed_order_r_is_accepted_by_the_rule_and_rejected_by_verify_strict() {
    let mut rng = rng(8);
    let signer = Signer::new(&mut rng);
    for torsion in 1..8 {
        let message = format!("mixed-order R {torsion}");
        let signature = signer.mixed_order_r(&mut rng, torsion, message.as_bytes());
        assert_eq!(
            single(&signer.public, message.as_bytes(), &signature),
            Ok(())
        );
        let (pushed, verified) = batch_of_one(&signer.public, message.as_bytes(), &signature);
        assert_eq!((pushed, verified), (Ok(()), Ok(())));
        // dalek's verify_strict is cofactorless: [S]B − [k]A = rB ≠ rB + T, so it rejects.
        // A cofactorless verifier (WebCrypto, OpenSSL, Go) is stricter than our rule
        // exactly on signatures like this one, which no honest signer produces.
        assert!(!signer.dalek_strict(message.as_bytes(), &signature));
    }
}

/// The reason for the rule: ed25519-dalek's cofactorless `verify_batch` accepts a
/// mixed-order-R signature or not depending on its random coefficients (here derived from
/// the batch contents), while its `verify_strict` always rejects it.
#[test]
fn dalek_verify_batch_is_a_coin_toss_on_mixed_order_r() {
    let mut rng = rng(9);
    let signer = Signer::new(&mut rng);
    let verifying_key = signer.signing_key.verifying_key();
    let (mut accepted, mut rejected) = (0, 0);
    for i in 0..200 {
        let message = format!("coin {i}");
        // A torsion point of order 8 (index 1 generates the torsion group).
        let signature = signer.mixed_order_r(&mut rng, 1, message.as_bytes());
        assert!(!signer.dalek_strict(message.as_bytes(), &signature));
        let outcome = ed25519_dalek::verify_batch(
            &[message.as_bytes()],
            &[Signature::from_bytes(&signature)],
            &[verifying_key],
        );
        if outcome.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
        // Our rule accepts it every time, in both paths.
        assert_eq!(
            single(&signer.public, message.as_bytes(), &signature),
            Ok(())
        );
    }
    // About 1 in 8 coefficients is divisible by 8 and kills the torsion term.
    assert!(
        accepted > 0 && rejected > 0,
        "accepted {accepted}, rejected {rejected}"
    );
    // And dalek's plain `verify` agrees with verify_strict here.
    let signature = signer.mixed_order_r(&mut rng, 1, b"plain");
    assert!(verifying_key
        .verify(b"plain", &Signature::from_bytes(&signature))
        .is_err());
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Honest,
    FlipS,
    FlipR,
    FlipMessage,
    MixedOrderR,
    SmallOrderR,
    SPlusL,
}

const KINDS: [Kind; 7] = [
    Kind::Honest,
    Kind::FlipS,
    Kind::FlipR,
    Kind::FlipMessage,
    Kind::MixedOrderR,
    Kind::SmallOrderR,
    Kind::SPlusL,
];

/// Makes one signature of the given kind; returns the message actually verified.
fn make(rng: &mut ChaCha20Rng, signer: &Signer, kind: Kind) -> (Vec<u8>, [u8; 64]) {
    let mut message = vec![0u8; rng.gen_range(0..200)];
    rng.fill_bytes(&mut message);
    let mut signature = match kind {
        Kind::MixedOrderR => {
            let torsion = rng.gen_range(1..8);
            signer.mixed_order_r(rng, torsion, &message)
        }
        Kind::SmallOrderR => signer.small_order_r(rng.gen_range(0..8), &message),
        _ => signer.honest(&message),
    };
    match kind {
        Kind::FlipS => {
            let bit = rng.gen_range(0..256);
            signature[32 + bit / 8] ^= 1 << (bit % 8);
        }
        Kind::FlipR => {
            let bit = rng.gen_range(0..256);
            signature[bit / 8] ^= 1 << (bit % 8);
        }
        Kind::FlipMessage => {
            if message.is_empty() {
                message.push(0);
            } else {
                let bit = rng.gen_range(0..message.len() * 8);
                message[bit / 8] ^= 1 << (bit % 8);
            }
        }
        Kind::SPlusL => {
            let mut s = [0u8; 32];
            s.copy_from_slice(&signature[32..]);
            signature[32..].copy_from_slice(&add_l(&s));
        }
        _ => {}
    }
    (message, signature)
}

/// The key property: for random batches mixing honest, corrupted and crafted signatures,
/// the batch accepts exactly when every single check accepts, and lists exactly the
/// signatures whose single check fails.
#[test]
fn batch_agrees_with_single_verification_on_random_mixtures() {
    let mut rng = rng(10);
    let signers: Vec<Signer> = (0..4).map(|_| Signer::new(&mut rng)).collect();
    let (mut accepted_batches, mut rejected_batches) = (0, 0);
    let mut seen_failing_kinds = [false; KINDS.len()];
    for round in 0..300 {
        let size = rng.gen_range(1..=64);
        // A third of the batches are all honest or crafted-but-valid, so that accepting
        // batches are common too.
        let valid_only = round % 3 == 0;
        let mut batch = BatchVerifier::with_capacity(size);
        let mut expected_failed = Vec::new();
        for index in 0..size {
            let signer = &signers[rng.gen_range(0..signers.len())];
            let kind_index = if valid_only {
                [0, 4, 5][rng.gen_range(0..3)]
            } else {
                rng.gen_range(0..KINDS.len())
            };
            let (message, signature) = make(&mut rng, signer, KINDS[kind_index]);
            let single_result = single(&signer.public, &message, &signature);
            let pushed = batch.push(&signer.public, &message, &signature);
            // Push rejects only malformed signatures, and those fail singly the same way.
            if let Err(error) = pushed {
                assert!(error.is_malformed());
                assert_eq!(single_result, Err(error));
            }
            if single_result.is_err() {
                expected_failed.push(index);
                seen_failing_kinds[kind_index] = true;
            }
        }
        assert_eq!(batch.len(), size);
        let result = batch.verify(&mut rng);
        if expected_failed.is_empty() {
            assert_eq!(result, Ok(()), "round {round}");
            accepted_batches += 1;
        } else {
            assert_eq!(
                result,
                Err(BatchFailure {
                    failed: expected_failed
                }),
                "round {round}"
            );
            rejected_batches += 1;
        }
    }
    assert!(accepted_batches >= 100, "{accepted_batches} accepted");
    assert!(rejected_batches >= 100, "{rejected_batches} rejected");
    // Every corrupted kind produced at least one failure; the valid kinds never did.
    assert_eq!(
        seen_failing_kinds,
        [false, true, true, true, false, false, true]
    );
}

#[test]
fn batch_failure_names_the_bad_index_among_many_keys() {
    let mut rng = rng(11);
    let signers: Vec<Signer> = (0..3).map(|_| Signer::new(&mut rng)).collect();
    let mut batch = BatchVerifier::new();
    for index in 0..30usize {
        let signer = &signers[index % 3];
        let message = format!("log 141125 seq {index}");
        let mut signature = signer.honest(message.as_bytes());
        if index == 17 {
            signature[40] ^= 0x01;
        }
        let _ = batch.push(&signer.public, message.as_bytes(), &signature);
    }
    let failure = batch.verify(&mut rng).unwrap_err();
    assert_eq!(failure.failed, vec![17]);
    assert!(failure.to_string().contains("[17]"));
}

#[test]
fn error_messages_name_what_is_wrong() {
    assert!(SignatureError::NonCanonicalPointEncoding { which: WHICH_R }
        .to_string()
        .contains("signature R"));
    assert!(SignatureError::InvalidPoint { which: WHICH_A }
        .to_string()
        .contains("public key A"));
    assert!(SignatureError::NonCanonicalScalar.to_string().contains("S"));
    assert!(SignatureError::EquationFailed.is_verification_failure());
    assert!(!SignatureError::SmallOrderKey.is_malformed());
}
