//! The network manifest: the trust root of one supervision network (SPEC.md §12).
//!
//! The city office signs a manifest naming every member node (division code, name, the
//! bureau key of its log, its libp2p peer id and addresses) and the network's policy.
//! Every node pins the city key; it accepts connections only from peers the manifest
//! names, pins each log's bureau key from it, and replaces its manifest only with one
//! signed by the same key with a higher serial.
//!
//! The file is JSON (people read and edit it); the signature covers the canonical CBOR
//! encoding of the body, so a re-formatted file still verifies.

use serde::{Deserialize, Serialize};

use crate::policy::Policy;
use crate::record::DivisionCode;
use crate::sig::{self, PublicKey};

/// The version of the manifest format.
pub const MANIFEST_VERSION: u64 = 1;

/// Prepended to the canonical CBOR of the body before signing.
pub const MANIFEST_SIGNING_PREFIX: &[u8] = b"yibao-ledger/v1/manifest\n";

/// The most members a manifest may name (a city has a few dozen counties).
pub const MAX_MEMBERS: usize = 256;

/// The most addresses a member may list.
pub const MAX_ADDRS: usize = 8;

/// The name under which a member's bureau key cosigns other logs' checkpoints
/// (tlog-cosignature), e.g. `yibao.ledger/v1/witness/141125`.
pub fn witness_name(division: &str) -> String {
    format!("yibao.ledger/v1/witness/{division}")
}

/// One member node of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The six-digit division code of the bureau (and of its log).
    pub division: String,
    /// The bureau's name, e.g. 柳林县医疗保障局.
    pub name: String,
    /// The bureau key of its log (entry 0's key), 64 lowercase hex digits.
    pub log_key: String,
    /// The node's libp2p peer id (base58), as `yibao init` prints it.
    pub peer_id: String,
    /// Where the node listens, as multiaddrs (e.g. `/ip4/127.0.0.1/tcp/4001`).
    pub addrs: Vec<String>,
}

impl Member {
    /// The bureau key as bytes (checked by [`ManifestBody::validate`]).
    pub fn log_key_bytes(&self) -> Result<[u8; 32], ManifestError> {
        parse_key(&self.log_key).map_err(|reason| ManifestError::Invalid {
            field: format!("members[{}].log_key", self.division),
            reason,
        })
    }
}

/// What the city office signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBody {
    /// [`MANIFEST_VERSION`].
    pub version: u64,
    /// The network's name, e.g. `jinzhong-city`.
    pub network: String,
    /// Raised by each new manifest; a node replaces its manifest only with a higher one.
    pub serial: u64,
    /// The city office's key, 64 lowercase hex digits.
    pub city_key: String,
    /// The member nodes, sorted by division code.
    pub members: Vec<Member>,
    /// The network's policy: grade ratio, penalty ranges.
    pub policy: Policy,
}

/// A manifest as stored in its file: the body and the city's signature (base64), empty
/// while the body is being edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub body: ManifestBody,
    pub signature: String,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest: {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("manifest is not signed (run `yibao manifest sign`)")]
    Unsigned,
    #[error("manifest signature does not verify under the city key {city_key}")]
    BadSignature { city_key: String },
    #[error("manifest is signed by city key {found}, but this node pins {pinned}")]
    WrongCityKey { pinned: String, found: String },
    #[error("manifest serial {found} is not newer than the pinned serial {pinned}")]
    NotNewer { pinned: u64, found: u64 },
    #[error("manifest file: {0}")]
    Format(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn parse_key(hex_text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(hex_text).map_err(|_| "not hex".to_string())?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "not 32 bytes (64 hex digits)".to_string())?;
    if hex::encode(key) != hex_text {
        return Err("hex digits must be lowercase".into());
    }
    PublicKey::from_bytes(&key).map_err(|e| format!("not a valid Ed25519 key: {e}"))?;
    Ok(key)
}

impl ManifestBody {
    /// A new, empty body with the default policy.
    pub fn new(network: &str, city_key: &[u8; 32]) -> ManifestBody {
        ManifestBody {
            version: MANIFEST_VERSION,
            network: network.to_string(),
            serial: 1,
            city_key: hex::encode(city_key),
            members: Vec::new(),
            policy: Policy::default(),
        }
    }

    /// Checks everything a node relies on: version, keys, unique divisions and peer ids,
    /// sorted members, the policy. (Peer ids and addresses are parsed by the node, which
    /// knows libp2p; here they must only be non-empty and short.)
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version != MANIFEST_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "{} is not the supported version {MANIFEST_VERSION}",
                    self.version
                ),
            ));
        }
        if self.network.is_empty() || self.network.len() > 64 {
            return Err(invalid("network", "must be 1 to 64 bytes"));
        }
        if self.serial == 0 {
            return Err(invalid("serial", "must be at least 1"));
        }
        parse_key(&self.city_key).map_err(|reason| invalid("city_key", reason))?;
        if self.members.len() > MAX_MEMBERS {
            return Err(invalid(
                "members",
                format!("more than {MAX_MEMBERS} members"),
            ));
        }
        let mut peers = std::collections::BTreeSet::new();
        for (i, member) in self.members.iter().enumerate() {
            let field = |name: &str| format!("members[{i}].{name}");
            DivisionCode::parse(&member.division)
                .map_err(|e| invalid(field("division"), e.to_string()))?;
            if let Some(previous) = i.checked_sub(1).and_then(|p| self.members.get(p)) {
                if previous.division >= member.division {
                    return Err(invalid(
                        field("division"),
                        format!(
                            "members must be sorted by division code without repeats ({} then {})",
                            previous.division, member.division
                        ),
                    ));
                }
            }
            if member.name.is_empty() || member.name.len() > 128 {
                return Err(invalid(field("name"), "must be 1 to 128 bytes"));
            }
            parse_key(&member.log_key).map_err(|reason| invalid(field("log_key"), reason))?;
            if member.peer_id.is_empty() || member.peer_id.len() > 128 {
                return Err(invalid(field("peer_id"), "must be 1 to 128 bytes"));
            }
            if !peers.insert(member.peer_id.as_str()) {
                return Err(invalid(
                    field("peer_id"),
                    format!("peer id {} is named twice", member.peer_id),
                ));
            }
            if member.addrs.len() > MAX_ADDRS {
                return Err(invalid(
                    field("addrs"),
                    format!("more than {MAX_ADDRS} addresses"),
                ));
            }
            if member.addrs.iter().any(|a| a.is_empty() || a.len() > 256) {
                return Err(invalid(field("addrs"), "an address is empty or too long"));
            }
        }
        self.policy
            .validate()
            .map_err(|e| invalid("policy", e.to_string()))?;
        Ok(())
    }

    /// The bytes the city key signs: [`MANIFEST_SIGNING_PREFIX`] then the canonical CBOR
    /// encoding of the body.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        let body = crate::cbor::to_vec(self).map_err(|e| ManifestError::Format(e.to_string()))?;
        let mut out = Vec::with_capacity(MANIFEST_SIGNING_PREFIX.len() + body.len());
        out.extend_from_slice(MANIFEST_SIGNING_PREFIX);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Adds or replaces the member with `member.division`, keeping the list sorted.
    pub fn upsert_member(&mut self, member: Member) {
        match self
            .members
            .binary_search_by(|m| m.division.cmp(&member.division))
        {
            Ok(i) => {
                if let Some(slot) = self.members.get_mut(i) {
                    *slot = member;
                }
            }
            Err(i) => self.members.insert(i, member),
        }
    }
}

impl Manifest {
    /// Validates and signs a body with the city key, which must be the body's `city_key`.
    pub fn sign(
        body: ManifestBody,
        city: &ed25519_dalek::SigningKey,
    ) -> Result<Manifest, ManifestError> {
        body.validate()?;
        if hex::encode(city.verifying_key().to_bytes()) != body.city_key {
            return Err(invalid(
                "city_key",
                "the signing key is not the manifest's city key",
            ));
        }
        let signature = sig::sign(city, &body.signing_bytes()?);
        Ok(Manifest {
            body,
            signature: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                signature,
            ),
        })
    }

    /// An unsigned manifest (being edited).
    pub fn unsigned(body: ManifestBody) -> Manifest {
        Manifest {
            body,
            signature: String::new(),
        }
    }

    /// Checks the body and the city's signature; with `pinned`, the city key must be it.
    pub fn verify(&self, pinned: Option<&[u8; 32]>) -> Result<(), ManifestError> {
        self.body.validate()?;
        let city_key =
            parse_key(&self.body.city_key).map_err(|reason| invalid("city_key", reason))?;
        if let Some(pinned) = pinned {
            if pinned != &city_key {
                return Err(ManifestError::WrongCityKey {
                    pinned: hex::encode(pinned),
                    found: self.body.city_key.clone(),
                });
            }
        }
        if self.signature.is_empty() {
            return Err(ManifestError::Unsigned);
        }
        let signature: [u8; 64] =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &self.signature)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| invalid("signature", "not base64 of 64 bytes"))?;
        let key =
            PublicKey::from_bytes(&city_key).map_err(|e| invalid("city_key", e.to_string()))?;
        sig::verify_with(&key, &self.body.signing_bytes()?, &signature).map_err(|_| {
            ManifestError::BadSignature {
                city_key: self.body.city_key.clone(),
            }
        })
    }

    /// Checks that `self` may replace `pinned`: valid, signed by the same city key, and
    /// with a higher serial.
    pub fn verify_replacement(&self, pinned: &Manifest) -> Result<(), ManifestError> {
        let city_key =
            parse_key(&pinned.body.city_key).map_err(|reason| invalid("city_key", reason))?;
        self.verify(Some(&city_key))?;
        if self.body.serial <= pinned.body.serial {
            return Err(ManifestError::NotNewer {
                pinned: pinned.body.serial,
                found: self.body.serial,
            });
        }
        Ok(())
    }

    /// The member with this division code.
    pub fn member(&self, division: &str) -> Option<&Member> {
        self.body.members.iter().find(|m| m.division == division)
    }

    /// The member with this peer id.
    pub fn member_by_peer(&self, peer_id: &str) -> Option<&Member> {
        self.body.members.iter().find(|m| m.peer_id == peer_id)
    }

    /// Parses the JSON file form (it is verified separately).
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        serde_json::from_slice(bytes).map_err(|e| ManifestError::Format(e.to_string()))
    }

    /// The JSON file form, pretty-printed.
    pub fn to_json(&self) -> Result<String, ManifestError> {
        serde_json::to_string_pretty(self).map_err(|e| ManifestError::Format(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn member(division: &str, seed: u8) -> Member {
        Member {
            division: division.into(),
            name: format!("{division}医疗保障局"),
            log_key: hex::encode(key(seed).verifying_key().to_bytes()),
            peer_id: format!("peer-{seed}"),
            addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        }
    }

    fn body() -> ManifestBody {
        let mut body = ManifestBody::new("jinzhong", &key(1).verifying_key().to_bytes());
        body.upsert_member(member("141125", 2));
        body.upsert_member(member("141100", 3));
        body
    }

    #[test]
    fn signed_manifest_verifies_and_survives_a_json_round_trip() {
        let manifest = Manifest::sign(body(), &key(1)).unwrap();
        assert_eq!(manifest.body.members[0].division, "141100", "kept sorted");
        let json = manifest.to_json().unwrap();
        let back = Manifest::from_json(json.as_bytes()).unwrap();
        back.verify(Some(&key(1).verifying_key().to_bytes()))
            .unwrap();
        assert_eq!(back, manifest);
    }

    #[test]
    fn tampering_the_body_breaks_the_signature() {
        let mut manifest = Manifest::sign(body(), &key(1)).unwrap();
        manifest.body.members[1].peer_id = "someone-else".into();
        assert!(matches!(
            manifest.verify(None),
            Err(ManifestError::BadSignature { .. })
        ));
        let mut manifest = Manifest::sign(body(), &key(1)).unwrap();
        manifest.body.policy.grade_ratio = [1, 1, 1, 1];
        assert!(manifest.verify(None).is_err());
    }

    #[test]
    fn wrong_city_key_unsigned_and_stale_serials_are_refused() {
        let manifest = Manifest::sign(body(), &key(1)).unwrap();
        assert!(matches!(
            manifest.verify(Some(&key(9).verifying_key().to_bytes())),
            Err(ManifestError::WrongCityKey { .. })
        ));
        assert_eq!(
            Manifest::unsigned(body()).verify(None),
            Err(ManifestError::Unsigned)
        );
        assert!(
            Manifest::sign(body(), &key(9)).is_err(),
            "signer must be the city key"
        );
        let mut next = body();
        next.serial = 2;
        let newer = Manifest::sign(next, &key(1)).unwrap();
        newer.verify_replacement(&manifest).unwrap();
        assert!(matches!(
            manifest.verify_replacement(&newer),
            Err(ManifestError::NotNewer { .. })
        ));
        // Same serial, different key: refused for the key.
        let mut other = body();
        other.city_key = hex::encode(key(9).verifying_key().to_bytes());
        other.serial = 5;
        let foreign = Manifest::sign(other, &key(9)).unwrap();
        assert!(matches!(
            foreign.verify_replacement(&manifest),
            Err(ManifestError::WrongCityKey { .. })
        ));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        type Tamper = Box<dyn Fn(&mut ManifestBody)>;
        let cases: Vec<(Tamper, &str)> = vec![
            (Box::new(|b| b.version = 2), "version"),
            (Box::new(|b| b.serial = 0), "serial"),
            (Box::new(|b| b.city_key = "zz".into()), "city_key"),
            (
                Box::new(|b| b.members[0].division = "14x100".into()),
                "members[0].division",
            ),
            (
                Box::new(|b| b.members[1].log_key = "AB".repeat(32)),
                "members[1].log_key",
            ),
            (
                Box::new(|b| b.members[1].peer_id = b.members[0].peer_id.clone()),
                "members[1].peer_id",
            ),
            (Box::new(|b| b.members.swap(0, 1)), "members[1].division"),
            (
                Box::new(|b| b.members[0].addrs = vec![String::new()]),
                "members[0].addrs",
            ),
            (Box::new(|b| b.policy.grade_ratio = [0, 0, 0, 0]), "policy"),
        ];
        for (tamper, field) in cases {
            let mut b = body();
            tamper(&mut b);
            match b.validate() {
                Err(ManifestError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
