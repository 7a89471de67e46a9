//! A node's data directory: its config, its bureau key and its ledger.
//!
//! ```text
//! DIR/node.json      the node's division code, bureau name and log origin
//! DIR/bureau.key     the bureau's Ed25519 secret key (mode 0600)
//! DIR/ledger/        the ledger (sled database and heads file)
//! ```
//! Officer key files have the same format as `bureau.key` and live wherever officers keep
//! them. Not here: anything about what the ledger contains.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_schema::policy::Policy;

/// The node's config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Format version of this file.
    pub version: u32,
    /// The node's own log: its 6-digit division code.
    pub division: String,
    /// The bureau's name, e.g. 柳林县医疗保障局.
    pub name: String,
    /// The origin line of the node's checkpoints.
    pub origin: String,
}

/// A secret key file.
#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    kind: String,
    version: u32,
    public_key: String,
    secret_key: String,
}

const KEY_FILE_KIND: &str = "yibao-ed25519-secret-key";

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct NodeDir {
    root: PathBuf,
}

impl NodeDir {
    /// The data directory at `root`.
    pub fn new(root: &Path) -> NodeDir {
        NodeDir {
            root: root.to_path_buf(),
        }
    }

    /// `node.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("node.json")
    }

    /// `bureau.key`.
    pub fn bureau_key_path(&self) -> PathBuf {
        self.root.join("bureau.key")
    }

    /// `p2p.key`: the node's libp2p identity (0600).
    pub fn network_key_path(&self) -> PathBuf {
        self.root.join("p2p.key")
    }

    /// `manifest.json`: the network manifest this node pins.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// `status.json`: written every second by a running node (`yibao status` reads it).
    pub fn status_path(&self) -> PathBuf {
        self.root.join("status.json")
    }

    /// Writes `node.json` for the node's own log.
    pub fn write_config(&self, code: &LogCode, name: &str) -> Result<()> {
        let config = NodeConfig {
            version: 1,
            division: code.to_string(),
            name: name.to_string(),
            origin: code.origin(),
        };
        let text = serde_json::to_string_pretty(&config)? + "\n";
        std::fs::write(self.config_path(), text)
            .with_context(|| format!("cannot write {}", self.config_path().display()))
    }

    /// `ledger/`.
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger")
    }

    /// Reads `node.json`, with a clear error when this is not a node directory.
    pub fn config(&self) -> Result<NodeConfig> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a Yibao node directory (no readable node.json); create one with `yibao init`",
                self.root.display()
            )
        })?;
        let config: NodeConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid", path.display()))?;
        if config.version != 1 {
            bail!("{}: unsupported version {}", path.display(), config.version);
        }
        Ok(config)
    }

    /// The node's own log code.
    pub fn own_log(&self) -> Result<LogCode> {
        let config = self.config()?;
        LogCode::parse(&config.division)
            .with_context(|| format!("node.json: division `{}` is not 6 digits", config.division))
    }

    /// Opens the ledger without creating it: a node directory whose ledger is missing is
    /// an error, not an empty ledger.
    pub fn open_existing_ledger(&self) -> Result<Ledger> {
        let config = self.config()?;
        let path = self.ledger_path();
        if !path.join("sled").is_dir() {
            bail!(
                "{}: the ledger of log {} is missing (no {})",
                self.root.display(),
                config.division,
                path.join("sled").display()
            );
        }
        let ledger = Ledger::open(&path, Policy::default())
            .with_context(|| format!("cannot open the ledger in {}", path.display()))?;
        let code = self.own_log()?;
        if !ledger.log_codes().contains(&code) {
            bail!(
                "{}: node.json names log {code}, which the ledger does not hold",
                self.root.display()
            );
        }
        Ok(ledger)
    }

    /// Opens the ledger read-write and gives it the bureau key when present.
    pub fn open_ledger(&self) -> Result<Ledger> {
        let config = self.config()?;
        let ledger = self.open_existing_ledger()?;
        let code = self.own_log()?;
        self.finish_rotation(&ledger, &code)?;
        if self.bureau_key_path().exists() {
            let key = read_key(&self.bureau_key_path())?;
            ledger.set_signer(&code, key).with_context(|| {
                format!(
                    "node.json names log {}, which the ledger lacks",
                    config.division
                )
            })?;
        }
        Ok(ledger)
    }
}

impl NodeDir {
    /// `bureau.key.new`: the next bureau key while a rotation is being appended.
    pub fn next_bureau_key_path(&self) -> PathBuf {
        self.root.join("bureau.key.new")
    }

    /// Completes or abandons a rotation that a crash interrupted: if the log's key in
    /// force is the one in `bureau.key.new`, it becomes `bureau.key` (the old one is kept
    /// as `bureau.key.retired`); otherwise the rotation never reached the log and the new
    /// key is discarded.
    pub fn finish_rotation(&self, ledger: &Ledger, code: &LogCode) -> Result<()> {
        let next = self.next_bureau_key_path();
        if !next.exists() {
            return Ok(());
        }
        let key = read_key(&next)?;
        if ledger.bureau_key(code)? == Some(key.verifying_key().to_bytes()) {
            let retired = self.root.join("bureau.key.retired");
            if self.bureau_key_path().exists() {
                std::fs::rename(self.bureau_key_path(), &retired)?;
            }
            std::fs::rename(&next, self.bureau_key_path())?;
        } else {
            std::fs::remove_file(&next)?;
        }
        Ok(())
    }
}

/// Writes a secret key file with mode 0600, refusing to overwrite an existing file.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<()> {
    let file = KeyFile {
        kind: KEY_FILE_KIND.into(),
        version: 1,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        secret_key: hex::encode(key.to_bytes()),
    };
    let mut text = serde_json::to_string_pretty(&file)?;
    text.push('\n');
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    Ok(())
}

/// Reads a secret key file and checks that its public key matches its secret key.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Yibao key file", path.display()))?;
    if file.kind != KEY_FILE_KIND || file.version != 1 {
        bail!(
            "{} is not a Yibao key file (kind {}, version {})",
            path.display(),
            file.kind,
            file.version
        );
    }
    let secret: [u8; 32] = hex::decode(&file.secret_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{}: secret_key is not 32 bytes of hex", path.display()))?;
    let key = SigningKey::from_bytes(&secret);
    if hex::encode(key.verifying_key().to_bytes()) != file.public_key {
        bail!(
            "{}: public_key does not belong to secret_key",
            path.display()
        );
    }
    Ok(key)
}

/// A fresh random key.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}
