//! The `yibao` command: one binary for a county bureau's node, its officers and auditors.
//!
//! This file holds the command-line grammar only; each command lives in `commands`,
//! `bench` or `demo`. Exit codes: 0 success, 1 verification found problems, 2 the command
//! could not run (bad arguments, unreadable files, refused records).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod bench;
mod bench_api;
mod bench_audit;
mod bench_import;
mod bench_sync;
mod commands;
mod demo;
mod demo_network;
mod network;

use yibao_node::{node_dir, output, workload};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc rather than the system allocator: decoding a ledger allocates and frees small
/// strings on every core, and glibc's allocator spent about a seventh of `verify` and
/// `audit` in malloc, free and chunk consolidation (measured with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Yibao Ledger (医保基金监管账本): a verifiable, append-only ledger of medical-insurance
/// fund supervision — inspections, findings, recoveries, penalties, grades, rectification
/// and exposure notices — signed by county bureau officers.
#[derive(Debug, Parser)]
#[command(name = "yibao", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a node: its data directory, its bureau key (0600), its log and first checkpoint.
    Init {
        /// The node's data directory (created; must not already hold a node).
        #[arg(long)]
        data: PathBuf,
        /// The county's 6-digit administrative division code (GB/T 2260), e.g. 141125.
        #[arg(long)]
        county: String,
        /// The bureau's name, e.g. 柳林县医疗保障局.
        #[arg(long)]
        name: String,
    },
    /// Print the latest signed checkpoint (signed-note text), or its verifier key.
    Checkpoint {
        #[command(flatten)]
        log: LogArgs,
        /// Print only the verifier key line (name+keyid+base64 key).
        #[arg(long)]
        vkey: bool,
    },
    /// Verify everything: signatures, links, authorisation, domain rules, tree, checkpoints.
    /// Exit 0 when all verifies, 1 with a report when something does not.
    Verify {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Manage officer keys (key events signed by the bureau key).
    #[command(subcommand)]
    Officer(OfficerCommand),
    /// Rotate the node's bureau key: the old key signs the rotation entry, the new key
    /// signs every checkpoint from then on.
    RotateBureauKey {
        /// The node's data directory (the node stopped).
        #[arg(long)]
        data: PathBuf,
    },
    /// Generate an officer's key file (mode 0600) and print its public key.
    Keygen {
        /// Where to write the key file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign JSON record files with an officer key and append them (acknowledged once durable).
    Submit {
        /// The node's data directory (a local node that is not running).
        #[arg(long, required_unless_present = "node", conflicts_with = "node")]
        data: Option<PathBuf>,
        /// A running node's API (e.g. http://127.0.0.1:8080): records are signed here and
        /// posted; each receipt's inclusion proof is checked.
        #[arg(long)]
        node: Option<String>,
        /// The officer's key file.
        #[arg(long)]
        key: PathBuf,
        /// JSON files, each one record `{"kind": …}` or an array of records.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show one entry: header, signature status and record, as JSON.
    Show {
        #[command(flatten)]
        log: LogArgs,
        /// The entry's seq.
        seq: u64,
    },
    /// List entries, one line each.
    List {
        #[command(flatten)]
        log: LogArgs,
        /// Only this record kind (e.g. finding, decision, exposure_notice).
        #[arg(long)]
        kind: Option<String>,
        /// First seq to list.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Print an inclusion proof of an entry against the latest checkpoint, as JSON.
    Prove {
        #[command(flatten)]
        log: LogArgs,
        /// The entry's seq.
        seq: u64,
    },
    /// Write an export bundle (entries, checkpoints, cosignatures) for offline verification.
    Export {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only these logs (division codes); all logs when omitted.
        #[arg(long = "log")]
        logs: Vec<String>,
    },
    /// Verify an export bundle offline. Exit 0 when it verifies, 1 otherwise.
    VerifyBundle {
        /// The bundle file.
        file: PathBuf,
        /// Pin a log's verifier key (as printed by `yibao checkpoint --vkey`); repeatable.
        #[arg(long = "vkey")]
        vkeys: Vec<String>,
        /// Trust the keys the bundle itself carries (only when no key can be pinned).
        #[arg(long, conflicts_with = "vkeys")]
        trust_bundle: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The city audit of the merged ledger: integrity of every log, domain rules across
    /// counties, the city's tables and ranking, every breach with the entries proving it.
    /// Exit 0 when nothing is breached, 1 when breaches were found, 2 on error.
    Audit {
        /// A node's data directory (its merged ledger; stop the node or audit a copy).
        #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
        data: Option<PathBuf>,
        /// An export bundle instead (`yibao export`).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// With --bundle: pin a log's verifier key; repeatable.
        #[arg(long = "vkey", requires = "bundle")]
        vkeys: Vec<String>,
        /// With --bundle: trust the keys the bundle carries (only when none can be pinned).
        #[arg(long, requires = "bundle", conflicts_with = "vkeys")]
        trust_bundle: bool,
        /// Restrict the tables to a period: 2025, 2025-H1 or 2025-Q3.
        #[arg(long)]
        period: Option<String>,
        /// Restrict the tables to records dated from this day (YYYY-MM-DD, China time).
        #[arg(long)]
        from: Option<String>,
        /// … up to and including this day.
        #[arg(long)]
        to: Option<String>,
        /// Judge deadlines as of this day (default: today in Asia/Shanghai).
        #[arg(long)]
        as_of: Option<String>,
        /// Score weights, a JSON object (see docs/AUDIT.md).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// The network manifest whose witness keys check cosignatures (default: the node's).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Write the report as JSON (format yibao-audit/v1).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the report as an .xlsx workbook.
        #[arg(long)]
        xlsx: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Run the node daemon: replicate every member's log over libp2p, witness and cosign
    /// checkpoints, catch equivocation. Stops cleanly on Ctrl-C or SIGTERM.
    Run {
        /// The node's data directory (with manifest.json installed).
        #[arg(long)]
        data: PathBuf,
        /// Listen on this multiaddr (repeatable); default: the manifest's addresses for
        /// this node, else /ip4/127.0.0.1/tcp/0.
        #[arg(long)]
        listen: Vec<String>,
        /// Also dial this multiaddr at start (repeatable).
        #[arg(long)]
        dial: Vec<String>,
        /// Serve the HTTP API on this address (e.g. 127.0.0.1:8080).
        #[arg(long)]
        http: Option<String>,
        /// Entries asked for per catch-up request (1–4096; smaller batches use less
        /// memory and fsync more often).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=4096))]
        sync_batch: u64,
    },
    /// Serve the public, read-only web viewer of a node's API or of an export bundle
    /// (exposure notices, institutions, counties, search), verifying each notice against its
    /// signed checkpoint before showing it (and again in the reader's browser). Holds no
    /// keys; answers GET only. Stops on Ctrl-C or SIGTERM.
    Viewer {
        /// The node's API, e.g. http://127.0.0.1:8080.
        #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
        source: Option<String>,
        /// Read an export bundle (`yibao export`) instead of a node; it is verified in full
        /// first, and refused if it does not verify.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Listen on this address.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
    /// Show a node's peers, each log's size, checkpoint, lag and cosignatures, and frozen
    /// logs (from a running node's status.json, or from the ledger when it is stopped).
    Status {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The network manifest: members and policy, signed by the city office.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Write the public part of the ledger (checkpoints, exposure notices and their
    /// inclusion proofs) as static files any web server or CDN can serve.
    Publish {
        /// The node's data directory (the node stopped).
        #[arg(long)]
        data: PathBuf,
        /// The directory to write (replaced if it holds an earlier publication).
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure append, verify, storage and proof figures against ceilings of this machine.
    Bench(bench::BenchArgs),
    /// Measure the HTTP API on loopback against a large ledger: the viewer's notice pages
    /// from a node source, `/v1/notices`, inclusion proofs, one submitter's durable submits.
    BenchApi(bench_api::BenchApiArgs),
    /// Import a bureau's existing ledger (台账) from a CSV or XLSX file with Chinese headers:
    /// cases, findings, decisions and rectification items, signed by the importing officers.
    /// Nothing is written unless every row is good (or --skip-bad); importing the same file
    /// again adds nothing. See docs/IMPORT.md.
    Import(yibao_node::import::ImportArgs),
    /// Import rate of a generated 100,000-row ledger file against the 2-core ed25519
    /// sign and verify rates measured in the same run.
    BenchImport(bench_import::BenchImportArgs),
    /// Measure a new node catching up logs from their owners over libp2p on loopback
    /// (every entry verified and durably stored) against the batch-verify rate.
    BenchSync(bench_sync::BenchSyncArgs),
    /// Benchmark the city audit of a merged multi-county ledger (1,000,000 entries over 10
    /// counties by default) against the batch-verify rate measured in the same run.
    BenchAudit(bench_audit::BenchAuditArgs),
    /// The demo: a city network of four nodes on loopback (replicating over libp2p, each
    /// serving the HTTP API) with generated data; prints the URLs; Ctrl-C stops it.
    Demo {
        /// Keep the data in this directory (one sub-directory per node) instead of a
        /// temporary one; the demo restarts on it.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Instead of the network: one county's ledger loaded with the example records,
        /// verified, its checkpoint printed, then exit.
        #[arg(long)]
        one_county: bool,
        /// The example records directory (with --one-county).
        #[arg(long, default_value = "examples/records")]
        records: PathBuf,
    },
}

/// Which node and which log.
#[derive(Debug, Args)]
struct LogArgs {
    /// The node's data directory.
    #[arg(long)]
    data: PathBuf,
    /// The log (division code); the node's own log when omitted.
    #[arg(long = "log")]
    log: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ManifestCommand {
    /// Start a new, unsigned manifest with no members and the default policy.
    New {
        /// The manifest file to write.
        #[arg(long)]
        out: PathBuf,
        /// The network's name.
        #[arg(long)]
        network: String,
        /// The city office's key file (its public key goes into the manifest).
        #[arg(long)]
        city_key: PathBuf,
    },
    /// Add (or update) a member node, read from its data directory; the manifest must be
    /// signed again.
    AddMember {
        /// The manifest file.
        #[arg(long)]
        manifest: PathBuf,
        /// The member node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Where the node listens (multiaddr; repeatable).
        #[arg(long)]
        addr: Vec<String>,
    },
    /// Sign the manifest with the city office's key.
    Sign {
        /// The manifest file.
        #[arg(long)]
        manifest: PathBuf,
        /// The city office's key file.
        #[arg(long)]
        city_key: PathBuf,
    },
    /// Pin a signed manifest in a node (a newer one must be signed by the same city key).
    Install {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The manifest file.
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Print a manifest and whether its signature verifies.
    Show {
        /// The manifest file.
        manifest: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OfficerCommand {
    /// Authorise an officer's key for roles. Generates the key file unless --public-key is given.
    Add {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Roles, comma-separated: inspector, adjudicator, publisher, administrator.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// The officer's enforcement certificate number (执法证号).
        #[arg(long)]
        officer_id: String,
        /// The officer's surname only (public pages show no more).
        #[arg(long)]
        surname: String,
        /// The officer's public key (hex), when the officer generated the key (`yibao keygen`).
        #[arg(long, conflicts_with = "key_out")]
        public_key: Option<String>,
        /// Write a newly generated key file here (mode 0600).
        #[arg(long)]
        key_out: Option<PathBuf>,
    },
    /// Revoke an officer's key: it authorises nothing after this entry.
    Revoke {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The officer's public key (hex).
        #[arg(long)]
        public_key: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List officers and their roles, as replayed from the log's key events.
    List {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init { data, county, name } => commands::init(&data, &county, &name),
        Command::Checkpoint { log, vkey } => {
            commands::checkpoint(&log.data, log.log.as_deref(), vkey)
        }
        Command::Verify { data, json } => commands::verify(&data, json.as_deref()),
        Command::Officer(OfficerCommand::Add {
            data,
            roles,
            officer_id,
            surname,
            public_key,
            key_out,
        }) => commands::officer_add(
            &data,
            &roles,
            &officer_id,
            &surname,
            public_key.as_deref(),
            key_out.as_deref(),
        ),
        Command::Officer(OfficerCommand::Revoke {
            data,
            public_key,
            reason,
        }) => commands::officer_revoke(&data, &public_key, &reason),
        Command::Officer(OfficerCommand::List { data }) => commands::officer_list(&data),
        Command::Keygen { out } => commands::keygen(&out),
        Command::RotateBureauKey { data } => commands::rotate_bureau_key(&data),
        Command::Submit {
            data,
            node,
            key,
            files,
        } => commands::submit(data.as_deref(), node.as_deref(), &key, &files),
        Command::Show { log, seq } => commands::show(&log.data, log.log.as_deref(), seq),
        Command::List {
            log,
            kind,
            from,
            limit,
        } => commands::list(&log.data, log.log.as_deref(), kind.as_deref(), from, limit),
        Command::Prove { log, seq } => commands::prove(&log.data, log.log.as_deref(), seq),
        Command::Export { data, out, logs } => commands::export(&data, &out, &logs),
        Command::VerifyBundle {
            file,
            vkeys,
            trust_bundle,
            json,
        } => commands::verify_bundle(&file, &vkeys, trust_bundle, json.as_deref()),
        Command::Audit {
            data,
            bundle,
            vkeys,
            trust_bundle,
            period,
            from,
            to,
            as_of,
            weights,
            manifest,
            json,
            xlsx,
            quiet,
        } => yibao_node::audit::run(&yibao_node::audit::Request {
            // clap requires one of --data and --bundle.
            input: match data {
                Some(data) => yibao_node::audit::Input::Node(data),
                None => yibao_node::audit::Input::Bundle {
                    path: bundle.unwrap_or_default(),
                    vkeys,
                    trust_bundle,
                },
            },
            period,
            from,
            to,
            as_of,
            weights,
            manifest,
            json,
            xlsx,
            progress: !quiet,
        }),
        Command::Run {
            data,
            listen,
            dial,
            http,
            sync_batch,
        } => network::run(&data, &listen, &dial, http.as_deref(), sync_batch),
        Command::Viewer {
            source,
            bundle,
            listen,
        } => viewer(source, bundle, listen),
        Command::Status { data, json } => network::status(&data, json),
        Command::Manifest(ManifestCommand::New {
            out,
            network: name,
            city_key,
        }) => network::manifest_new(&out, &name, &city_key),
        Command::Manifest(ManifestCommand::AddMember {
            manifest,
            data,
            addr,
        }) => network::manifest_add_member(&manifest, &data, &addr),
        Command::Manifest(ManifestCommand::Sign { manifest, city_key }) => {
            network::manifest_sign(&manifest, &city_key)
        }
        Command::Manifest(ManifestCommand::Install { data, manifest }) => {
            network::manifest_install(&data, &manifest)
        }
        Command::Manifest(ManifestCommand::Show { manifest }) => network::manifest_show(&manifest),
        Command::Publish { data, out } => node_dir::NodeDir::new(&data)
            .open_existing_ledger()
            .and_then(|ledger| yibao_node::publish::publish(&ledger, &out))
            .map(|count| {
                println!(
                    "published {count} exposure notices with their proofs in {}",
                    out.display()
                );
                ExitCode::SUCCESS
            }),
        Command::Bench(args) => bench::run(&args),
        Command::Import(args) => yibao_node::import::command(&args, commands::now_ms()),
        Command::BenchImport(args) => bench_import::run(&args),
        Command::BenchSync(args) => bench_sync::run(&args),
        Command::BenchAudit(args) => bench_audit::run(&args),
        Command::BenchApi(args) => bench_api::run(&args),
        Command::Demo {
            data,
            one_county: true,
            records,
        } => demo::run(data.as_deref(), &records),
        Command::Demo { data, .. } => demo_network::run(data.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe_error(&e));
            ExitCode::from(2)
        }
    }
}

/// `yibao viewer`: serves a node's API or a bundle until Ctrl-C or SIGTERM.
fn viewer(
    source: Option<String>,
    bundle: Option<PathBuf>,
    listen: std::net::SocketAddr,
) -> anyhow::Result<ExitCode> {
    let source: std::sync::Arc<dyn yibao_web_viewer::Source> = match (source, bundle) {
        (_, Some(path)) => {
            let bundle = yibao_web_viewer::bundle::BundleSource::open(&path)?;
            let (logs, entries) = bundle.counts();
            println!(
                "bundle verified: {logs} logs, {entries} entries ({})",
                path.display()
            );
            std::sync::Arc::new(bundle)
        }
        (Some(url), None) => std::sync::Arc::new(yibao_web_viewer::HttpSource::new(url)?),
        (None, None) => anyhow::bail!("give --source URL or --bundle FILE"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(yibao_web_viewer::serve(source, listen))?;
    Ok(ExitCode::SUCCESS)
}

/// The error and its causes on one line, leaving out a cause whose text its parent already
/// includes (library errors often print their source as part of their own message).
fn describe_error(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
