//! The Yibao Ed25519 signature rule, single and batch. PLACEHOLDER API: being implemented.

/// Why a signature or key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// Placeholder.
    #[error("invalid signature")]
    Invalid,
}

/// Verifies one signature under the Yibao rule.
pub fn verify(_public_key: &[u8; 32], _message: &[u8], _signature: &[u8; 64]) -> Result<(), SignatureError> {
    Err(SignatureError::Invalid)
}
