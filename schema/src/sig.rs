//! The Yibao Ed25519 signature rule: one validity rule, shared by single and batch
//! verification, so that every verifier accepts exactly the same signatures.
//!
//! This implements the signature rule that `schema/SPEC.md` states for the whole ledger
//! (design.md, "The verifiable log": "Validity must be the same for every verifier").
//! Ed25519 implementations disagree on crafted edge cases; this module fixes one answer.
//!
//! # The rule
//!
//! A signature `R ‖ S` (64 bytes) by public key `A` (32 bytes) on message `M` is valid if
//! and only if all of the following hold:
//!
//! 1. `S` is canonical: as a little-endian integer, `S < L`, where
//!    `L = 2^252 + 27742317777372353535851937790883648493` is the order of the base point.
//! 2. `A` and `R` are canonical point encodings: the low 255 bits, read as a little-endian
//!    integer `y`, satisfy `y < p = 2^255 − 19`, and the encoding is not a "negative zero"
//!    (sign bit set while `x = 0`, which happens only for `y = 1` and `y = p − 1`). Both then
//!    decompress to points on the curve; an encoding that does not is rejected.
//! 3. `A` is not of small order (`[8]A ≠ 0`) and is torsion-free (`[L]A = 0`), that is, it
//!    lies in the prime-order subgroup. `R` may have any order.
//! 4. The cofactored equation holds: `[8][S]B = [8]R + [8][k]A`, where
//!    `k = SHA-512(R ‖ A ‖ M) mod L` and `R`, `A` are the 32-byte encodings as received.
//!
//! Batch verification of signatures `i = 1..n` draws independent random 128-bit
//! coefficients `z_i` and accepts if and only if
//! `[8](−(Σ z_i S_i) B + Σ z_i R_i + Σ (z_i k_i) A_i)` is the identity, computed with one
//! variable-time multi-scalar multiplication (terms for the same key are merged first).
//! Because the factor 8 removes every torsion component, each single term
//! `[8](S_i B − R_i − k_i A_i)` lies in the prime-order subgroup; if all single checks pass
//! the batch passes, and if any fails the batch fails except with probability about
//! `2^−128`. When a batch fails, [`BatchVerifier::verify`] re-checks every signature singly
//! and reports exactly the ones that fail, so the answer a caller sees is always the single
//! answer.
//!
//! Signatures made by an honest signer (ed25519-dalek's `SigningKey::sign`, or any
//! RFC 8032 signer) always pass: their `R` and `A` are multiples of the base point and
//! their `S` is reduced.
//!
//! Other verifiers. For a key that passes items 2 and 3, a cofactorless verifier that
//! requires `S < L` and compares `R` by its bytes (WebCrypto, OpenSSL, Go's
//! `crypto/ed25519`, ed25519-dalek's `verify_strict`) can only be *stricter* than this
//! rule, and only on crafted signatures whose `R` has a torsion component, which honest
//! signers never produce. Those verifiers do not check keys, though: they accept
//! small-order and torsioned keys (for which forgeries are easy) and some of them accept
//! non-canonical key encodings. So a verifier written elsewhere must apply items 2 and 3
//! to every key itself, once, when the key is admitted (manifest or key event).
//! ed25519-dalek's own `verify_batch` is cofactorless with random coefficients, so on a
//! crafted signature it accepts or rejects depending on the coefficients; that is why
//! this module exists.
//!
//! # What this module is not for
//!
//! It does not parse or encode anything beyond the 32-byte key and 64-byte signature, and
//! it does not parallelise: callers split large workloads across cores themselves. Key
//! management (which key may sign what) belongs to the domain rules, not here.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha512};

/// Why a signature or public key was refused under the Yibao rule.
///
/// The variants fall into three groups: malformed encodings
/// ([`NonCanonicalScalar`](Self::NonCanonicalScalar),
/// [`NonCanonicalPointEncoding`](Self::NonCanonicalPointEncoding),
/// [`InvalidPoint`](Self::InvalidPoint)), unacceptable public keys
/// ([`SmallOrderKey`](Self::SmallOrderKey), [`KeyNotTorsionFree`](Self::KeyNotTorsionFree)),
/// and a well-formed signature that does not verify ([`EquationFailed`](Self::EquationFailed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature's S is not below the group order L.
    #[error("the signature's scalar S is not canonical: it must be less than the group order L")]
    NonCanonicalScalar,
    /// A point encoding has y ≥ 2^255 − 19 or is the "negative zero" form.
    #[error(
        "the {which} is not a canonical point encoding: its y coordinate must be below \
         2^255 - 19 and the sign bit must not be set when x is zero"
    )]
    NonCanonicalPointEncoding {
        /// Which point: "public key A" or "signature R".
        which: &'static str,
    },
    /// A canonical encoding whose y coordinate is not on the curve.
    #[error("the {which} does not encode a point on the Ed25519 curve")]
    InvalidPoint {
        /// Which point: "public key A" or "signature R".
        which: &'static str,
    },
    /// The public key is one of the eight points of small order.
    #[error("the public key is a point of small order, which would verify forged signatures")]
    SmallOrderKey,
    /// The public key has a torsion component.
    #[error("the public key is not in the prime-order subgroup: it has a torsion component")]
    KeyNotTorsionFree,
    /// Everything is well formed, but the cofactored equation does not hold.
    #[error("the signature does not satisfy the verification equation for this key and message")]
    EquationFailed,
}

impl SignatureError {
    /// True for a well-formed signature that simply does not verify, false for malformed
    /// encodings and unacceptable keys.
    pub fn is_verification_failure(&self) -> bool {
        matches!(self, Self::EquationFailed)
    }

    /// True when the key or signature bytes are malformed (not canonical, or not a point).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Self::NonCanonicalScalar
                | Self::NonCanonicalPointEncoding { .. }
                | Self::InvalidPoint { .. }
        )
    }
}

/// The name used in errors for the public key point.
const WHICH_KEY: &str = "public key A";
/// The name used in errors for the signature's R point.
const WHICH_R: &str = "signature R";

/// A public key that passed rule items 2 and 3: canonical, on the curve, not of small
/// order and torsion-free.
///
/// Checking a key costs about one scalar multiplication, so callers check each key once
/// and keep the `PublicKey` (keys are few; signatures are many). It holds the decompressed
/// point, so verifying with it does not decompress the key again.
#[derive(Clone, Copy)]
pub struct PublicKey {
    bytes: [u8; 32],
    /// INVARIANT: `point` is the point that `bytes` encodes; it is torsion-free and not
    /// the identity.
    point: EdwardsPoint,
    /// INVARIANT: `minus_point` is `-point` (the single check needs −A).
    minus_point: EdwardsPoint,
}

impl PublicKey {
    /// Checks `bytes` as an Ed25519 public key under the Yibao rule.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignatureError> {
        let point = decompress_canonical(bytes, WHICH_KEY)?;
        if point.is_small_order() {
            return Err(SignatureError::SmallOrderKey);
        }
        if !point.is_torsion_free() {
            return Err(SignatureError::KeyNotTorsionFree);
        }
        Ok(Self {
            bytes: *bytes,
            point,
            minus_point: -point,
        })
    }

    /// The public key of an ed25519-dalek signing key. Such keys always pass the rule;
    /// the check is still made rather than assumed.
    pub fn from_signing_key(key: &ed25519_dalek::SigningKey) -> Result<Self, SignatureError> {
        Self::from_bytes(key.verifying_key().as_bytes())
    }

    /// The 32-byte encoding of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        // The encoding is canonical, so equal points have equal bytes.
        self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.bytes))
    }
}

/// Checks `bytes` as a public key (rule items 2 and 3); the same as [`PublicKey::from_bytes`].
pub fn check_public_key(bytes: &[u8; 32]) -> Result<PublicKey, SignatureError> {
    PublicKey::from_bytes(bytes)
}

/// Verifies one signature under the Yibao rule, checking the key first.
///
/// Checking the key costs about as much as verifying; on hot paths check the key once
/// with [`PublicKey::from_bytes`] and call [`verify_with`].
pub fn verify(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let key = PublicKey::from_bytes(public_key)?;
    verify_with(&key, message, signature)
}

/// Verifies one signature under the Yibao rule with an already checked key.
pub fn verify_with(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let parsed = ParsedSignature::parse(signature)?;
    let k = challenge(&parsed.r_bytes, &key.bytes, message);
    if cofactored_equation_holds(&parsed.s, &parsed.r, &k, &key.minus_point) {
        Ok(())
    } else {
        Err(SignatureError::EquationFailed)
    }
}

/// Signs `message` with `key` (RFC 8032 Ed25519). The result always passes [`verify`].
pub fn sign(key: &ed25519_dalek::SigningKey, message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    key.sign(message).to_bytes()
}

/// The signature split into its parts, with S checked canonical and R decompressed.
struct ParsedSignature {
    r_bytes: [u8; 32],
    r: EdwardsPoint,
    s: Scalar,
}

impl ParsedSignature {
    fn parse(signature: &[u8; 64]) -> Result<Self, SignatureError> {
        let mut r_bytes = [0u8; 32];
        let mut s_bytes = [0u8; 32];
        for (dst, src) in r_bytes.iter_mut().zip(signature.iter()) {
            *dst = *src;
        }
        for (dst, src) in s_bytes.iter_mut().zip(signature.iter().skip(32)) {
            *dst = *src;
        }
        // S first: it is the cheapest check.
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(SignatureError::NonCanonicalScalar)?;
        let r = decompress_canonical(&r_bytes, WHICH_R)?;
        Ok(Self { r_bytes, r, s })
    }
}

/// k = SHA-512(R ‖ A ‖ M) mod L.
fn challenge(r_bytes: &[u8; 32], a_bytes: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(a_bytes);
    hasher.update(message);
    Scalar::from_hash(hasher)
}

/// [8]([S]B − R − [k]A) = 0, given −A.
fn cofactored_equation_holds(
    s: &Scalar,
    r: &EdwardsPoint,
    k: &Scalar,
    minus_a: &EdwardsPoint,
) -> bool {
    let r_expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(k, minus_a, s);
    (r_expected - r).mul_by_cofactor().is_identity()
}

/// The little-endian bytes of p − 1 = 2^255 − 20 (the y of the point (0, −1)).
const P_MINUS_ONE: [u8; 32] = [
    0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// The little-endian bytes of 1 (the y of the identity).
const ONE: [u8; 32] = [
    0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0,
];

/// Rule item 2 on the bytes: y < p and not negative zero.
fn is_canonical_point_encoding(bytes: &[u8; 32]) -> bool {
    let sign_bit_set = bytes[31] & 0x80 != 0;
    let mut y = *bytes;
    y[31] &= 0x7f;
    // y ≥ p = 2^255 − 19 exactly when the top 247 bits are all ones and the low byte is
    // at least 0xed.
    let top_all_ones = y[31] == 0x7f && y.iter().skip(1).take(30).all(|&b| b == 0xff);
    if top_all_ones && y[0] >= 0xed {
        return false;
    }
    // x = 0 only for y = 1 and y = p − 1; with the sign bit set that is "negative zero".
    if sign_bit_set && (y == ONE || y == P_MINUS_ONE) {
        return false;
    }
    true
}

/// Checks the encoding (rule item 2), then decompresses.
fn decompress_canonical(
    bytes: &[u8; 32],
    which: &'static str,
) -> Result<EdwardsPoint, SignatureError> {
    if !is_canonical_point_encoding(bytes) {
        return Err(SignatureError::NonCanonicalPointEncoding { which });
    }
    CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(SignatureError::InvalidPoint { which })
}

/// One pushed signature that passed the encoding checks, ready for the equation.
struct ReadyEntry {
    /// The push index.
    index: usize,
    s: Scalar,
    r: EdwardsPoint,
    k: Scalar,
    /// Index into [`BatchVerifier::keys`].
    key_index: usize,
}

/// Verifies many signatures at once under the same rule as [`verify_with`].
///
/// [`push`](Self::push) checks S and R and computes k right away, so neither the message
/// nor the signature is kept. Every call to `push` takes the next index, whether or not it
/// was accepted: the indices in [`BatchFailure::failed`] are positions in push order, and a
/// signature whose push returned an error is always listed there.
#[derive(Default)]
pub struct BatchVerifier {
    ready: Vec<ReadyEntry>,
    /// Push indices of signatures rejected at push, in increasing order.
    rejected: Vec<usize>,
    /// The distinct keys of the batch; their equation terms are merged.
    keys: Vec<PublicKey>,
    key_positions: HashMap<[u8; 32], usize>,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `capacity` signatures.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            ready: Vec::with_capacity(capacity),
            ..Self::default()
        }
    }

    /// Adds a signature. Returns an error at once if S or R is malformed; the signature
    /// still takes its index and will be listed as failed by [`verify`](Self::verify).
    pub fn push(
        &mut self,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), SignatureError> {
        let index = self.len();
        let parsed = match ParsedSignature::parse(signature) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.rejected.push(index);
                return Err(error);
            }
        };
        let k = challenge(&parsed.r_bytes, &key.bytes, message);
        let key_index = self.key_index(key);
        self.ready.push(ReadyEntry {
            index,
            s: parsed.s,
            r: parsed.r,
            k,
            key_index,
        });
        Ok(())
    }

    /// The position of `key` in `self.keys`, adding it if new.
    fn key_index(&mut self, key: &PublicKey) -> usize {
        // Consecutive signatures by the same author are the common case.
        if let Some(last) = self.ready.last() {
            if self.keys.get(last.key_index).map(|k| k.bytes) == Some(key.bytes) {
                return last.key_index;
            }
        }
        let next = self.keys.len();
        let position = *self.key_positions.entry(key.bytes).or_insert(next);
        if position == next {
            self.keys.push(*key);
        }
        position
    }

    /// The number of signatures pushed, including rejected ones.
    pub fn len(&self) -> usize {
        self.ready.len() + self.rejected.len()
    }

    /// True if nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verifies the whole batch. On failure, lists every signature that fails singly.
    ///
    /// The result is always the same as verifying each signature with [`verify_with`],
    /// except that a batch containing an invalid signature is accepted with probability
    /// at most 2^−128 over `rng`.
    pub fn verify(self, rng: &mut impl CryptoRngCore) -> Result<(), BatchFailure> {
        // One signature is checked singly: the same answer, without the random
        // coefficients.
        let batch_holds = match self.ready.as_slice() {
            [] => true,
            [only] => self.single_holds(only),
            _ => self.batch_equation_holds(rng),
        };
        let mut failed = self.rejected.clone();
        if !batch_holds {
            // Some signature fails: find which, singly.
            failed.extend(
                self.ready
                    .iter()
                    .filter(|entry| !self.single_holds(entry))
                    .map(|entry| entry.index),
            );
            failed.sort_unstable();
        }
        if failed.is_empty() {
            // Every signature verifies singly (so the batch equation cannot really have
            // failed); the single answer is the rule's answer.
            Ok(())
        } else {
            Err(BatchFailure { failed })
        }
    }

    /// The single check for one entry.
    fn single_holds(&self, entry: &ReadyEntry) -> bool {
        self.keys.get(entry.key_index).is_some_and(|key| {
            cofactored_equation_holds(&entry.s, &entry.r, &entry.k, &key.minus_point)
        })
    }

    /// [8](−(Σ z_i S_i) B + Σ z_i R_i + Σ_keys (Σ z_i k_i) A) = 0 over the ready entries.
    fn batch_equation_holds(&self, rng: &mut impl CryptoRngCore) -> bool {
        let mut coefficient_bytes = vec![0u8; 16 * self.ready.len()];
        rng.fill_bytes(&mut coefficient_bytes);
        let coefficients = coefficient_bytes.chunks_exact(16).map(|chunk| {
            let mut bytes = [0u8; 16];
            for (dst, src) in bytes.iter_mut().zip(chunk) {
                *dst = *src;
            }
            Scalar::from(u128::from_le_bytes(bytes))
        });

        let terms = 1 + self.ready.len() + self.keys.len();
        let mut scalars = Vec::with_capacity(terms);
        let mut points = Vec::with_capacity(terms);
        // Term 0 is the base point; its coefficient is filled in after the loop.
        scalars.push(Scalar::ZERO);
        points.push(ED25519_BASEPOINT_POINT);
        let mut base_coefficient = Scalar::ZERO;
        let mut key_coefficients = vec![Scalar::ZERO; self.keys.len()];
        for (entry, z) in self.ready.iter().zip(coefficients) {
            // INVARIANT: key indices always point into `self.keys`; if that broke, the
            // batch fails and the single checks decide.
            let Some(key_coefficient) = key_coefficients.get_mut(entry.key_index) else {
                return false;
            };
            base_coefficient += z * entry.s;
            *key_coefficient += z * entry.k;
            scalars.push(z);
            points.push(entry.r);
        }
        if let Some(first) = scalars.first_mut() {
            *first = -base_coefficient;
        }
        for (key, coefficient) in self.keys.iter().zip(key_coefficients) {
            scalars.push(coefficient);
            points.push(key.point);
        }
        EdwardsPoint::vartime_multiscalar_mul(scalars, points)
            .mul_by_cofactor()
            .is_identity()
    }
}

/// A batch that did not verify: the signatures that fail singly, by push index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} signature(s) in the batch failed verification, at push indices {failed:?}", failed.len())]
pub struct BatchFailure {
    /// Push indices of the failing signatures, in increasing order.
    pub failed: Vec<usize>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    fn le_bytes_of_p_plus(offset: u8) -> [u8; 32] {
        // p = 2^255 − 19, so p + offset for offset ≤ 18 is 0x7fff…ff(ed + offset).
        let mut bytes = [0xffu8; 32];
        bytes[31] = 0x7f;
        bytes[0] = 0xed + offset;
        bytes
    }

    #[test]
    fn canonical_encoding_boundaries() {
        assert!(is_canonical_point_encoding(&P_MINUS_ONE));
        let mut p_minus_two = P_MINUS_ONE;
        p_minus_two[0] = 0xeb;
        assert!(is_canonical_point_encoding(&p_minus_two));
        for offset in 0..=18 {
            let y = le_bytes_of_p_plus(offset);
            assert!(!is_canonical_point_encoding(&y), "p + {offset}");
            let mut with_sign = y;
            with_sign[31] |= 0x80;
            assert!(!is_canonical_point_encoding(&with_sign), "-(p + {offset})");
        }
    }

    #[test]
    fn negative_zero_is_rejected_but_positive_forms_are_not() {
        let mut negative_one = ONE;
        negative_one[31] |= 0x80;
        assert!(is_canonical_point_encoding(&ONE));
        assert!(!is_canonical_point_encoding(&negative_one));
        let mut negative_p_minus_one = P_MINUS_ONE;
        negative_p_minus_one[31] |= 0x80;
        assert!(!is_canonical_point_encoding(&negative_p_minus_one));
        // y = 2 with the sign bit set is canonical (whether it is on the curve is another
        // matter).
        let mut two = ONE;
        two[0] = 2;
        two[31] |= 0x80;
        assert!(is_canonical_point_encoding(&two));
    }

    #[test]
    fn honest_signature_verifies_and_tampering_fails() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let public = PublicKey::from_signing_key(&key).unwrap();
        let signature = sign(&key, b"message");
        assert_eq!(verify_with(&public, b"message", &signature), Ok(()));
        assert_eq!(
            verify_with(&public, b"messagE", &signature),
            Err(SignatureError::EquationFailed)
        );
    }

    #[test]
    fn error_classes_are_disjoint() {
        let all = [
            SignatureError::NonCanonicalScalar,
            SignatureError::NonCanonicalPointEncoding { which: WHICH_R },
            SignatureError::InvalidPoint { which: WHICH_KEY },
            SignatureError::SmallOrderKey,
            SignatureError::KeyNotTorsionFree,
            SignatureError::EquationFailed,
        ];
        for error in all {
            assert!(!(error.is_malformed() && error.is_verification_failure()));
        }
        assert_eq!(all.iter().filter(|e| e.is_malformed()).count(), 3);
    }

    /// A signature by `secret` whose R is `r·B + torsion` (mixed order when the torsion
    /// point is not the identity, small order when `r` is zero).
    fn crafted(
        secret: &Scalar,
        public: &PublicKey,
        r: Scalar,
        torsion: EdwardsPoint,
        message: &[u8],
    ) -> [u8; 64] {
        let r_bytes = (EdwardsPoint::mul_base(&r) + torsion).compress().to_bytes();
        let s = r + challenge(&r_bytes, public.as_bytes(), message) * secret;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r_bytes);
        signature[32..].copy_from_slice(s.as_bytes());
        signature
    }

    /// The batch equation itself (not the single fallback behind it) accepts valid
    /// batches that include small-order and mixed-order R, and rejects a corrupted one.
    #[test]
    fn batch_equation_accepts_torsion_in_r_and_rejects_corruption() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        use rand_core::RngCore;
        let mut rng = rand_core::OsRng;
        let signers: Vec<ed25519_dalek::SigningKey> = (1..=3u8)
            .map(|seed| ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
            .collect();
        for round in 0..20usize {
            let mut batch = BatchVerifier::new();
            for i in 0..40usize {
                let signer = &signers[(i + round) % 3];
                let public = PublicKey::from_signing_key(signer).unwrap();
                let message = [round as u8, i as u8];
                let signature = match i % 3 {
                    0 => sign(signer, &message),
                    1 => {
                        let mut wide = [0u8; 64];
                        rng.fill_bytes(&mut wide);
                        let r = Scalar::from_bytes_mod_order_wide(&wide);
                        crafted(
                            &signer.to_scalar(),
                            &public,
                            r,
                            EIGHT_TORSION[1 + i % 7],
                            &message,
                        )
                    }
                    _ => crafted(
                        &signer.to_scalar(),
                        &public,
                        Scalar::ZERO,
                        EIGHT_TORSION[i % 8],
                        &message,
                    ),
                };
                batch.push(&public, &message, &signature).unwrap();
            }
            assert!(batch.batch_equation_holds(&mut rng), "round {round}");
            // Corrupt one k: the equation must now fail.
            batch.ready[round].k += Scalar::ONE;
            assert!(!batch.batch_equation_holds(&mut rng), "round {round}");
            assert_eq!(
                batch.verify(&mut rng),
                Err(BatchFailure {
                    failed: vec![round]
                })
            );
        }
    }

    #[test]
    fn key_terms_are_merged_per_key() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let other = ed25519_dalek::SigningKey::from_bytes(&[10u8; 32]);
        let public = PublicKey::from_signing_key(&key).unwrap();
        let other_public = PublicKey::from_signing_key(&other).unwrap();
        let mut batch = BatchVerifier::new();
        for i in 0..5u8 {
            let signer = if i % 2 == 0 {
                (&key, &public)
            } else {
                (&other, &other_public)
            };
            batch.push(signer.1, &[i], &sign(signer.0, &[i])).unwrap();
        }
        assert_eq!(batch.keys.len(), 2);
        assert_eq!(batch.len(), 5);
        let mut rng = rand_core::OsRng;
        assert_eq!(batch.verify(&mut rng), Ok(()));
    }
}
