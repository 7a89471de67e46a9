//! C2SP signed notes, transparency-log checkpoints and transparency-log cosignatures: the
//! text formats in which Yibao logs publish their signed tree heads and witnesses cosign
//! them (design.md, "The verifiable log").
//!
//! Implemented from the C2SP specifications at commit
//! `5ba5ee830903e91240fc6f9f3a7a9293d49e69c9`:
//!
//! - `signed-note.md` (c2sp.org/signed-note@v1.0.0): the note format ("Format"), key IDs
//!   ("Signatures"), Ed25519 signatures with type byte `0x01` ("Ed25519 signatures") and
//!   verifier keys ("Verifier keys").
//! - `tlog-checkpoint.md` (c2sp.org/tlog-checkpoint@v1.0.0): the checkpoint note text
//!   ("Note text").
//! - `tlog-cosignature.md`: timestamped Ed25519 cosignatures, `cosignature/v1`, type byte
//!   `0x04` ("Format", "Ed25519 signed message").
//!
//! Every Ed25519 signature is checked with the Yibao signature rule of [`crate::sig`], not
//! with a library default, so that a note verifies for every verifier or for none.
//!
//! Choices where the specifications leave room, all on the strict side:
//! - at most [`MAX_SIGNATURES`] (100) signature lines (the spec requires at least 16);
//! - base64 must be canonical (padded, no stray trailing bits), so that parsing and
//!   printing give back the same bytes;
//! - the key ID in a verifier key must be exactly 8 lowercase hex digits and must equal the
//!   key ID computed from the name and key;
//! - a signature by a known key (same name and key ID) that does not verify rejects the
//!   whole note; signatures by unknown keys are kept and ignored;
//! - in Yibao a log signs its checkpoints under its origin as key name, and
//!   [`SignedCheckpoint::verify`] requires that.
//!
//! Not for: ML-DSA-44 or ECDSA signatures (their lines are kept as unknown signatures),
//! Merkle proofs and consistency checking (the `ledger` crate), or any I/O.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::sig::{self, PublicKey, SignatureError};

/// The most signature lines a note may carry.
pub const MAX_SIGNATURES: usize = 100;

/// The start of every signature line: em dash (U+2014) and space.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// The header line of a `cosignature/v1` signed message.
const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// The largest cosignature timestamp the spec allows, 2^63 − 1.
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// The signature algorithm of a key, as its signed-note type byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Plain Ed25519 note signatures, type byte `0x01`. Logs sign checkpoints with these.
    Ed25519,
    /// Timestamped Ed25519 checkpoint cosignatures (`cosignature/v1`), type byte `0x04`.
    CosignatureV1,
}

impl KeyKind {
    /// The signature type identifier byte from signed-note.md, "Signature types".
    pub fn type_byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The kind for a type byte, if it is one this crate supports.
    pub fn from_type_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }

    /// The length of the signature bytes that follow the key ID on a signature line.
    fn signature_len(self) -> usize {
        match self {
            Self::Ed25519 => 64,
            Self::CosignatureV1 => 8 + 64,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ed25519 => f.write_str("Ed25519 (0x01)"),
            Self::CosignatureV1 => f.write_str("cosignature/v1 (0x04)"),
        }
    }
}

/// Why a note, checkpoint, cosignature or verifier key was refused.
///
/// [`NoteError::is_malformed`] separates bytes that do not follow the format from notes
/// that are well formed but do not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The input is not UTF-8.
    #[error("the note is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The note or checkpoint text does not follow the format.
    #[error("malformed note, line {line}: {what}")]
    Malformed {
        /// 1-based line number in the note (0 when the note as a whole is at fault).
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A verifier key string does not follow the vkey format.
    #[error("malformed verifier key: {what}")]
    MalformedVerifierKey {
        /// What is wrong.
        what: String,
    },
    /// A key name is empty or contains a space, a plus sign or a control character.
    #[error("invalid key name {name:?}: names must be non-empty and contain no spaces, '+' or control characters")]
    InvalidKeyName {
        /// The name as given.
        name: String,
    },
    /// A verifier key names a signature type this crate does not implement.
    #[error("verifier key {name:?} has signature type 0x{type_byte:02x}; only 0x01 (Ed25519) and 0x04 (cosignature/v1) are supported")]
    UnsupportedKeyType {
        /// Key name.
        name: String,
        /// The type byte found.
        type_byte: u8,
    },
    /// A verifier key states a key ID that is not the one computed from its name and key.
    #[error(
        "verifier key {name:?} states key ID {stated} but its name and public key give {computed}"
    )]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// Hex key ID in the vkey.
        stated: String,
        /// Hex key ID computed.
        computed: String,
    },
    /// A public key fails the Yibao key rule.
    #[error("the public key of {name:?} is not acceptable: {source}")]
    InvalidPublicKey {
        /// Key name.
        name: String,
        /// Why the key was refused.
        source: SignatureError,
    },
    /// Too many signature lines.
    #[error("the note has {count} signatures; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures {
        /// Number of signature lines found.
        count: usize,
    },
    /// A signature by a known key has the wrong length or an out-of-range timestamp.
    #[error("signature {index} (by {name:?}) is malformed: {what}")]
    MalformedSignature {
        /// Index of the signature line, from 0.
        index: usize,
        /// Key name.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// A signature by a known key does not verify.
    #[error("signature {index} (by {name:?}) failed verification: {source}")]
    VerificationFailed {
        /// Index of the signature line, from 0.
        index: usize,
        /// Key name.
        name: String,
        /// Why it failed.
        source: SignatureError,
    },
    /// No signature line is by a known key.
    #[error(
        "no signature on the note is by a known key ({signatures} signature(s) by unknown keys)"
    )]
    NoKnownSignature {
        /// Number of signature lines on the note.
        signatures: usize,
    },
    /// Two different verifier keys share the same name and key ID.
    #[error("two different verifier keys share name {name:?} and key ID {key_id}")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Hex key ID.
        key_id: String,
    },
    /// A key of the wrong kind was given for the operation.
    #[error("key {name:?} is a {actual} key, but this needs a {expected} key")]
    WrongKeyKind {
        /// Key name.
        name: String,
        /// Kind required.
        expected: KeyKind,
        /// Kind given.
        actual: KeyKind,
    },
    /// A Yibao log key's name must be the checkpoint's origin.
    #[error("checkpoint origin {origin:?} is not the log key name {key_name:?}")]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The key's name.
        key_name: String,
    },
    /// A cosignature timestamp above 2^63 − 1.
    #[error("cosignature timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampOutOfRange {
        /// The timestamp.
        timestamp: u64,
    },
    /// A cosignature checked against a key that did not make it.
    #[error("the cosignature is by {signature_name:?} with key ID {signature_key_id}, not by key {key_name:?} with key ID {key_key_id}")]
    KeyMismatch {
        /// Name on the cosignature.
        signature_name: String,
        /// Key ID on the cosignature, hex.
        signature_key_id: String,
        /// Name of the key given.
        key_name: String,
        /// Key ID of the key given, hex.
        key_key_id: String,
    },
}

impl NoteError {
    /// True when the input does not follow the format (as opposed to a well-formed note,
    /// key or cosignature that does not verify or does not match).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Self::NotUtf8 { .. }
                | Self::Malformed { .. }
                | Self::MalformedVerifierKey { .. }
                | Self::InvalidKeyName { .. }
                | Self::UnsupportedKeyType { .. }
                | Self::KeyIdMismatch { .. }
                | Self::TooManySignatures { .. }
                | Self::MalformedSignature { .. }
                | Self::TimestampOutOfRange { .. }
        )
    }
}

fn malformed(line: usize, what: impl Into<String>) -> NoteError {
    NoteError::Malformed {
        line,
        what: what.into(),
    }
}

/// Checks a key name: non-empty, no Unicode white space, no '+', no control characters.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let bad = name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control());
    if bad {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Checks the character rules of signed-note.md, "Format": no ASCII control characters
/// other than newline. (UTF-8 validity is given by `&str`.)
fn check_note_characters(text: &str) -> Result<(), NoteError> {
    let mut line = 1;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        } else if (c as u32) < 0x20 {
            return Err(malformed(
                line,
                format!("control character U+{:04X} is not allowed", c as u32),
            ));
        }
    }
    Ok(())
}

/// Checks that `text` can be the text of a note: ends in a newline and has no control
/// characters other than newline.
fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(malformed(
            text.matches('\n').count() + 1,
            "the note text must end with a newline",
        ));
    }
    check_note_characters(text)
}

/// The key ID: SHA-256(name ‖ 0x0A ‖ type byte ‖ public key)[:4].
pub fn key_id(name: &str, kind: KeyKind, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', kind.type_byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    let mut id = [0u8; 4];
    for (dst, src) in id.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    id
}

/// A verifier key ("vkey"): a name, a key ID, a signature type and a checked public key.
///
/// Its text form is `<name>+<8 lowercase hex digits of key ID>+<base64(type ‖ key)>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifierKey {
    name: String,
    key_id: [u8; 4],
    key: PublicKey,
    kind: KeyKind,
}

impl VerifierKey {
    /// Builds a verifier key from its parts, computing the key ID.
    pub fn from_public_key(
        name: &str,
        public_key: &[u8; 32],
        kind: KeyKind,
    ) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key =
            PublicKey::from_bytes(public_key).map_err(|source| NoteError::InvalidPublicKey {
                name: name.to_owned(),
                source,
            })?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, kind, public_key),
            key,
            kind,
        })
    }

    /// The verifier key for a signing key.
    pub fn from_signing_key(
        name: &str,
        key: &ed25519_dalek::SigningKey,
        kind: KeyKind,
    ) -> Result<Self, NoteError> {
        Self::from_public_key(name, key.verifying_key().as_bytes(), kind)
    }

    /// Parses the vkey text form, checking the key ID and the public key.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |what: &str| NoteError::MalformedVerifierKey {
            what: what.to_owned(),
        };
        // The name has no '+', the hex has none, and base64 may contain '+'.
        let mut parts = text.splitn(3, '+');
        let name = parts.next().unwrap_or_default();
        let (Some(id_hex), Some(key_base64)) = (parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<key ID>+<base64 key>"));
        };
        check_key_name(name)?;
        let id_is_lower_hex = id_hex.len() == 8
            && id_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !id_is_lower_hex {
            return Err(bad("the key ID must be exactly 8 lowercase hex digits"));
        }
        let mut stated_id = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut stated_id)
            .map_err(|_| bad("the key ID is not valid hex"))?;
        let material = BASE64
            .decode(key_base64)
            .map_err(|_| bad("the key material is not canonical standard base64"))?;
        let Some((&type_byte, public_key)) = material.split_first() else {
            return Err(bad("the key material is empty"));
        };
        let Some(kind) = KeyKind::from_type_byte(type_byte) else {
            return Err(NoteError::UnsupportedKeyType {
                name: name.to_owned(),
                type_byte,
            });
        };
        let public_key: &[u8; 32] = public_key.try_into().map_err(|_| {
            bad(&format!(
                "an Ed25519 public key is 32 bytes, found {}",
                public_key.len()
            ))
        })?;
        let key = Self::from_public_key(name, public_key, kind)?;
        if key.key_id != stated_id {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                stated: id_hex.to_owned(),
                computed: hex::encode(key.key_id),
            });
        }
        Ok(key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The checked public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The signature type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// True if a signature line with this name and key ID is by this key.
    pub fn matches(&self, name: &str, key_id: &[u8; 4]) -> bool {
        self.name == name && &self.key_id == key_id
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(33);
        material.push(self.kind.type_byte());
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(material)
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// One signature line of a note: `— <name> base64(key ID ‖ signature)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID (at least one byte). Their meaning depends on
    /// the key's type; unknown types are kept as they are.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id);
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(bytes)
        )
    }

    /// Parses one signature line, with or without its final newline. `line_number` is used
    /// in error messages.
    fn parse_line_at(line: &str, line_number: usize) -> Result<Self, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let Some(rest) = line.strip_prefix(SIGNATURE_LINE_PREFIX) else {
            return Err(malformed(
                line_number,
                "a signature line must start with an em dash (U+2014) and a space",
            ));
        };
        let Some((name, encoded)) = rest.split_once(' ') else {
            return Err(malformed(
                line_number,
                "a signature line must be \"— <name> <base64>\"",
            ));
        };
        check_key_name(name).map_err(|_| {
            malformed(
                line_number,
                format!("invalid key name {name:?} in signature line"),
            )
        })?;
        let bytes = BASE64.decode(encoded).map_err(|_| {
            malformed(
                line_number,
                "the signature is not canonical standard base64",
            )
        })?;
        let Some((key_id, signature)) = bytes.split_first_chunk::<4>() else {
            return Err(malformed(
                line_number,
                "the signature is shorter than its 4-byte key ID",
            ));
        };
        if signature.is_empty() {
            return Err(malformed(
                line_number,
                "the signature has a key ID but no signature bytes",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: *key_id,
            signature: signature.to_vec(),
        })
    }

    /// Parses one signature line, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        Self::parse_line_at(line, 1)
    }
}

/// A signed note: a text and one or more signature lines.
///
/// `parse` followed by `to_string` gives back the same text. A note built by hand prints
/// in the note format as it is; it parses back only if its text ends in a newline, has no
/// control characters and it has between 1 and [`MAX_SIGNATURES`] signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedNote {
    /// The note text, including its final newline.
    pub text: String,
    /// The signatures, in the order of their lines.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// A note signed by one Ed25519 key.
    pub fn sign(
        text: &str,
        name: &str,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, NoteError> {
        Ok(Self {
            text: text.to_owned(),
            signatures: vec![sign_note(text, name, key)?],
        })
    }

    /// Parses bytes, refusing anything that is not UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, NoteError> {
        let text = std::str::from_utf8(bytes).map_err(|error| NoteError::NotUtf8 {
            valid_up_to: error.valid_up_to(),
        })?;
        Self::parse(text)
    }

    /// Parses a signed note strictly (signed-note.md, "Format").
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        check_note_characters(note)?;
        // The text is separated from the signatures by the last blank line.
        let Some(split) = note.rfind("\n\n") else {
            return Err(malformed(
                0,
                "no blank line separates the text from the signatures",
            ));
        };
        // Both cuts are next to '\n', so they are on character boundaries.
        let (Some(text), Some(block)) = (note.get(..split + 1), note.get(split + 2..)) else {
            return Err(malformed(0, "cannot split the note at its blank line"));
        };
        if block.is_empty() {
            return Err(malformed(
                0,
                "the note has no signature lines after the blank line",
            ));
        }
        if !block.ends_with('\n') {
            return Err(malformed(
                note.matches('\n').count() + 1,
                "the last signature line does not end with a newline",
            ));
        }
        let first_signature_line = text.matches('\n').count() + 2;
        let lines: Vec<&str> = block.split_terminator('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { count: lines.len() });
        }
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(index, line)| NoteSignature::parse_line_at(line, first_signature_line + index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against `keys` (signed-note.md, "Signatures").
    ///
    /// Signatures whose name and key ID match no key are ignored. Every signature that
    /// matches a key must verify, or the whole note is refused. At least one must match.
    /// An Ed25519 key (`0x01`) verifies its 64-byte signature over the text; a
    /// `cosignature/v1` key (`0x04`) verifies its timestamped signature over
    /// [`cosignature_message`] of the text. Returns the indices of the verified signatures.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<usize>, NoteError> {
        let mut verified = Vec::new();
        for (index, signature) in self.signatures.iter().enumerate() {
            let mut matching = keys
                .iter()
                .filter(|key| key.matches(&signature.name, &signature.key_id));
            let Some(key) = matching.next() else {
                continue;
            };
            if matching.any(|other| other != key) {
                return Err(NoteError::AmbiguousKey {
                    name: signature.name.clone(),
                    key_id: hex::encode(signature.key_id),
                });
            }
            verify_note_signature(&self.text, index, signature, key)?;
            verified.push(index);
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature {
                signatures: self.signatures.len(),
            });
        }
        Ok(verified)
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            f.write_str(&signature.to_line())?;
        }
        Ok(())
    }
}

/// Verifies one signature line known to be by `key`.
fn verify_note_signature(
    text: &str,
    index: usize,
    signature: &NoteSignature,
    key: &VerifierKey,
) -> Result<(), NoteError> {
    let malformed_signature = |what: String| NoteError::MalformedSignature {
        index,
        name: signature.name.clone(),
        what,
    };
    let expected_len = key.kind.signature_len();
    if signature.signature.len() != expected_len {
        return Err(malformed_signature(format!(
            "a {} signature is {expected_len} bytes after the key ID, found {}",
            key.kind,
            signature.signature.len()
        )));
    }
    let result = match key.kind {
        KeyKind::Ed25519 => {
            let bytes: &[u8; 64] = signature
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| malformed_signature("wrong length".to_owned()))?;
            sig::verify_with(&key.key, text.as_bytes(), bytes)
        }
        KeyKind::CosignatureV1 => {
            let (timestamp, bytes) = split_timestamped_signature(&signature.signature)
                .ok_or_else(|| malformed_signature("wrong length".to_owned()))?;
            if timestamp > MAX_COSIGNATURE_TIMESTAMP {
                return Err(malformed_signature(format!(
                    "timestamp {timestamp} exceeds 2^63 - 1"
                )));
            }
            let message = cosignature_message(timestamp, text);
            sig::verify_with(&key.key, message.as_bytes(), &bytes)
        }
    };
    result.map_err(|source| NoteError::VerificationFailed {
        index,
        name: signature.name.clone(),
        source,
    })
}

/// Splits `timestamp (8 bytes, big-endian) ‖ signature (64 bytes)`.
fn split_timestamped_signature(bytes: &[u8]) -> Option<(u64, [u8; 64])> {
    let (timestamp, signature) = bytes.split_first_chunk::<8>()?;
    let signature: [u8; 64] = signature.try_into().ok()?;
    Some((u64::from_be_bytes(*timestamp), signature))
}

/// Signs `text` as a note with an Ed25519 key (type `0x01`) named `name`.
pub fn sign_note(
    text: &str,
    name: &str,
    key: &ed25519_dalek::SigningKey,
) -> Result<NoteSignature, NoteError> {
    check_note_text(text)?;
    check_key_name(name)?;
    let public_key = key.verifying_key().to_bytes();
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: key_id(name, KeyKind::Ed25519, &public_key),
        signature: sig::sign(key, text.as_bytes()).to_vec(),
    })
}

/// A checkpoint: the note text of a transparency log's signed tree head
/// (tlog-checkpoint.md, "Note text"). The root hash here is 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's origin, e.g. `yibao.ledger/v1/blake3/141125`.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The Merkle root at that size.
    pub root: [u8; 32],
    /// Extension lines, without their newlines. Not recommended; each must be non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root, extension lines, each ending in newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint note text strictly.
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        check_note_text(text)?;
        let mut lines = text.split_terminator('\n');
        let origin = match lines.next() {
            Some(origin) if !origin.is_empty() => origin,
            _ => return Err(malformed(1, "the origin line is missing or empty")),
        };
        let size = parse_tree_size(lines.next().unwrap_or_default())?;
        let root_line = lines.next().unwrap_or_default();
        if root_line.is_empty() {
            return Err(malformed(3, "the root hash line is missing or empty"));
        }
        let root = BASE64
            .decode(root_line)
            .map_err(|_| malformed(3, "the root hash is not canonical standard base64"))?;
        let root: [u8; 32] = root.as_slice().try_into().map_err(|_| {
            malformed(
                3,
                format!("the root hash is {} bytes, expected 32", root.len()),
            )
        })?;
        let mut extensions = Vec::new();
        for (index, extension) in lines.enumerate() {
            if extension.is_empty() {
                return Err(malformed(index + 4, "extension lines must not be empty"));
            }
            extensions.push(extension.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Checks that the body parses back to this checkpoint (no newline in the origin or an
    /// extension, no empty extension, no control characters).
    pub fn validate(&self) -> Result<(), NoteError> {
        let parsed = Self::parse_body(&self.body())?;
        if &parsed == self {
            Ok(())
        } else {
            Err(malformed(
                0,
                "the checkpoint does not survive printing and parsing (a field contains a newline)",
            ))
        }
    }
}

/// Line 2: ASCII decimal, no sign, no leading zeros unless it is `0`.
fn parse_tree_size(line: &str) -> Result<u64, NoteError> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            2,
            "the tree size must be a decimal number with no sign",
        ));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(malformed(2, "the tree size has a leading zero"));
    }
    line.parse::<u64>()
        .map_err(|_| malformed(2, "the tree size does not fit in 64 bits"))
}

/// A checkpoint with its signed note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedCheckpoint {
    /// The checkpoint, parsed from the note text.
    pub checkpoint: Checkpoint,
    /// The note, including any cosignatures.
    pub note: SignedNote,
}

impl SignedCheckpoint {
    /// Signs a checkpoint with the log's key. In Yibao a log's key name is its origin, so
    /// the signature line carries `checkpoint.origin` as the name.
    pub fn sign(
        checkpoint: Checkpoint,
        log_key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, NoteError> {
        checkpoint.validate()?;
        let body = checkpoint.body();
        let signature = sign_note(&body, &checkpoint.origin, log_key)?;
        Ok(Self {
            note: SignedNote {
                text: body,
                signatures: vec![signature],
            },
            checkpoint,
        })
    }

    /// Parses a signed checkpoint.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let note = SignedNote::parse(text)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(Self { checkpoint, note })
    }

    /// Parses bytes, refusing anything that is not UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, NoteError> {
        let note = SignedNote::parse_bytes(bytes)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(Self { checkpoint, note })
    }

    /// Verifies the log's signature: `log_key` must be an Ed25519 key named after the
    /// origin, it must have signed the note, and no signature by it may be invalid.
    /// Other signatures (cosignatures, unknown keys) are ignored here.
    pub fn verify(&self, log_key: &VerifierKey) -> Result<(), NoteError> {
        if log_key.kind != KeyKind::Ed25519 {
            return Err(NoteError::WrongKeyKind {
                name: log_key.name.clone(),
                expected: KeyKind::Ed25519,
                actual: log_key.kind,
            });
        }
        if log_key.name != self.checkpoint.origin {
            return Err(NoteError::OriginMismatch {
                origin: self.checkpoint.origin.clone(),
                key_name: log_key.name.clone(),
            });
        }
        self.note.verify(std::slice::from_ref(log_key)).map(|_| ())
    }

    /// Appends a cosignature line to the note.
    pub fn add_cosignature(&mut self, cosignature: &Cosignature) {
        self.note.signatures.push(cosignature.to_note_signature());
    }

    /// Finds the cosignature by `witness_key` on this checkpoint and verifies it. Returns
    /// `Ok(None)` if the witness did not cosign; an invalid cosignature by it is an error.
    pub fn find_cosignature(
        &self,
        witness_key: &VerifierKey,
    ) -> Result<Option<Cosignature>, NoteError> {
        let mut found = None;
        for signature in &self.note.signatures {
            if !witness_key.matches(&signature.name, &signature.key_id) {
                continue;
            }
            let cosignature = Cosignature::from_note_signature(signature)?;
            cosignature.verify(&self.checkpoint, witness_key)?;
            found = Some(cosignature);
        }
        Ok(found)
    }

    /// The note text with all signature lines.
    pub fn to_text(&self) -> String {
        self.note.to_string()
    }
}

/// The message a `cosignature/v1` signs: header line, time line, then the checkpoint body
/// (tlog-cosignature.md, "Ed25519 signed message").
pub fn cosignature_message(timestamp: u64, body: &str) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{body}")
}

/// A timestamped Ed25519 cosignature (`cosignature/v1`, type `0x04`) on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cosignature {
    /// The cosigner's key name.
    pub name: String,
    /// The cosigner's key ID (computed with type byte `0x04`).
    pub key_id: [u8; 4],
    /// POSIX seconds at which the cosignature was made; at most 2^63 − 1.
    pub timestamp: u64,
    /// Ed25519 signature over [`cosignature_message`].
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Cosigns `checkpoint` as `name` at `timestamp`.
    pub fn sign(
        checkpoint: &Checkpoint,
        name: &str,
        key: &ed25519_dalek::SigningKey,
        timestamp: u64,
    ) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(NoteError::TimestampOutOfRange { timestamp });
        }
        checkpoint.validate()?;
        let message = cosignature_message(timestamp, &checkpoint.body());
        let public_key = key.verifying_key().to_bytes();
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, KeyKind::CosignatureV1, &public_key),
            timestamp,
            signature: sig::sign(key, message.as_bytes()),
        })
    }

    /// Verifies this cosignature on `checkpoint` with the cosigner's key.
    pub fn verify(&self, checkpoint: &Checkpoint, key: &VerifierKey) -> Result<(), NoteError> {
        if key.kind != KeyKind::CosignatureV1 {
            return Err(NoteError::WrongKeyKind {
                name: key.name.clone(),
                expected: KeyKind::CosignatureV1,
                actual: key.kind,
            });
        }
        if !key.matches(&self.name, &self.key_id) {
            return Err(NoteError::KeyMismatch {
                signature_name: self.name.clone(),
                signature_key_id: hex::encode(self.key_id),
                key_name: key.name.clone(),
                key_key_id: hex::encode(key.key_id),
            });
        }
        if self.timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(NoteError::TimestampOutOfRange {
                timestamp: self.timestamp,
            });
        }
        let message = cosignature_message(self.timestamp, &checkpoint.body());
        sig::verify_with(&key.key, message.as_bytes(), &self.signature).map_err(|source| {
            NoteError::VerificationFailed {
                index: 0,
                name: self.name.clone(),
                source,
            }
        })
    }

    /// As a note signature: key ID ‖ timestamp (big-endian) ‖ signature.
    pub fn to_note_signature(&self) -> NoteSignature {
        let mut signature = Vec::with_capacity(72);
        signature.extend_from_slice(&self.timestamp.to_be_bytes());
        signature.extend_from_slice(&self.signature);
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        }
    }

    /// Reads a note signature as a cosignature (72 bytes after the key ID).
    pub fn from_note_signature(signature: &NoteSignature) -> Result<Self, NoteError> {
        let (timestamp, bytes) =
            split_timestamped_signature(&signature.signature).ok_or_else(|| {
                NoteError::MalformedSignature {
                    index: 0,
                    name: signature.name.clone(),
                    what: format!(
                        "a cosignature is 72 bytes after the key ID, found {}",
                        signature.signature.len()
                    ),
                }
            })?;
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(NoteError::TimestampOutOfRange { timestamp });
        }
        Ok(Self {
            name: signature.name.clone(),
            key_id: signature.key_id,
            timestamp,
            signature: bytes,
        })
    }

    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        self.to_note_signature().to_line()
    }

    /// Parses a signature line as a cosignature.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        Self::from_note_signature(&NoteSignature::parse_line(line)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(check_key_name("example.com/foo").is_ok());
        for bad in ["", "a b", "a+b", "a\u{a0}b", "a\tb", "a\u{1}b"] {
            assert!(check_key_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tree_size_rules() {
        assert_eq!(parse_tree_size("0").unwrap(), 0);
        assert_eq!(parse_tree_size("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1e3",
        ] {
            assert!(parse_tree_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamped_signature_split() {
        let mut bytes = vec![0u8; 72];
        bytes[7] = 5;
        bytes[8] = 9;
        let (timestamp, signature) = split_timestamped_signature(&bytes).unwrap();
        assert_eq!(timestamp, 5);
        assert_eq!(signature[0], 9);
        assert!(split_timestamped_signature(&bytes[..71]).is_none());
        assert!(split_timestamped_signature(&[bytes.clone(), vec![0]].concat()).is_none());
    }

    #[test]
    fn two_different_keys_with_one_name_and_key_id_are_ambiguous() {
        let text = "text\n";
        let alice = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let mallory = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
        let signature = sign_note(text, "alice", &alice).unwrap();
        let note = SignedNote {
            text: text.to_owned(),
            signatures: vec![signature.clone()],
        };
        let alice_key = VerifierKey::from_signing_key("alice", &alice, KeyKind::Ed25519).unwrap();
        // A key that collides on both name and key ID (forged here; it would take about
        // 2^32 tries to find one).
        let mut colliding =
            VerifierKey::from_signing_key("alice", &mallory, KeyKind::Ed25519).unwrap();
        colliding.key_id = signature.key_id;
        assert_eq!(
            note.verify(&[alice_key.clone(), colliding]),
            Err(NoteError::AmbiguousKey {
                name: "alice".to_owned(),
                key_id: hex::encode(signature.key_id),
            })
        );
        assert_eq!(note.verify(&[alice_key]), Ok(vec![0]));
    }

    #[test]
    fn control_characters_report_their_line() {
        let error = check_note_characters("a\nb\rc\n").unwrap_err();
        assert_eq!(
            error,
            NoteError::Malformed {
                line: 2,
                what: "control character U+000D is not allowed".to_owned()
            }
        );
    }
}
