//! The `leaktap` command: parses the command line, loads configuration and session files,
//! runs the pipeline, and reports errors with context. The only user of `anyhow`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use leaktap::capture::{FileSource, Step};
use leaktap::config;
use leaktap::detect::SignatureSet;
use leaktap::finding::{CidrTable, CountryLookup, FindingEngine, RuleTable};
use leaktap::output::{Format, RecordWriter, Summary};
use leaktap::pipeline::{EventSet, Worker};
use leaktap::proto::ResolvedNames;
use leaktap::record::{Body, Chain, Record};
use leaktap::report::{InputFile, Lang, Note, Report, ReportInput, RunFacts};
use leaktap::session::{self, SessionSet};

/// Exit status for bad usage or a bad input file (cli.md).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status for a runtime failure.
const EXIT_FAILURE: u8 = 1;

#[derive(Parser)]
#[command(
    name = "leaktap",
    version,
    about = "Find personal information leaving test phones in mirror-port traffic (PIPL evidence work)",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect pcap/pcapng files offline and print records.
    ///
    /// Example: leaktap analyze --session phone3.toml --events http,dns,tls capture.pcapng
    Analyze(AnalyzeArgs),

    /// Re-check a data directory: the record chain, the store, every evidence file's hash.
    ///
    /// Prints OK and counts, or the first bad record (seq, file and line) or evidence file
    /// and why, and exits 1. Example: leaktap verify --data-dir /var/lib/leaktap
    Verify(VerifyArgs),

    /// Developer aid for crash tests: writes records through the store in a loop.
    #[command(hide = true, name = "debug-store-burst")]
    DebugStoreBurst(DebugStoreBurstArgs),

    /// Write the investigator report of one test session: report.html (self-contained,
    /// prints to PDF), report.json and records.jsonl (the hash-chained records it cites).
    ///
    /// Example: leaktap report --session lab3-reader.toml --out case-2026-031 capture.pcapng
    Report(ReportArgs),
    /// Work with signature files (PI types and third-party SDKs).
    Signatures {
        #[command(subcommand)]
        command: SignaturesCommand,
    },
}

#[derive(Subcommand)]
enum SignaturesCommand {
    /// Load and validate signature files; print counts per kind, or every error as
    /// file:line: reason (exit status 2).
    ///
    /// Example: leaktap signatures check /etc/leaktap/signatures
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Directory holding pi/*.toml and sdks/*.toml; without it, the signatures built into
    /// this binary are checked. Example: leaktap signatures check ./signatures
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Data directory holding records.jsonl, store.sqlite and evidence/.
    /// Example: --data-dir /var/lib/leaktap
    #[arg(long, value_name = "DIR", default_value = leaktap::store::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct DebugStoreBurstArgs {
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Records to write (0: until killed).
    #[arg(long, default_value_t = 0)]
    records: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    /// 简体中文 (default).
    Zh,
    /// English.
    En,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Test session file of the phone (TOML, see session-format.md).
    /// Example: --session lab3-reader.toml
    #[arg(long, value_name = "FILE", required = true)]
    session: PathBuf,

    /// TLS key log (NSS format) exported from the phone; repeat for several. Each is
    /// hashed into the report. Example: --keylog sslkeys.txt
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,

    /// Report language. Example: --lang en
    #[arg(long, value_enum, default_value = "zh")]
    lang: LangArg,

    /// Directory for report.html, report.json and records.jsonl (created if missing).
    /// Example: --out case-2026-031
    #[arg(long, value_name = "DIR", required = true)]
    out: PathBuf,

    /// Configuration file (limits and [findings] thresholds).
    /// Example: --config /etc/leaktap/leaktap.toml
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// CSV of CIDR,country_code lines; turns LT-CROSS-BORDER on.
    /// Example: --ip-country lab-geo.csv
    #[arg(long, value_name = "FILE")]
    ip_country: Option<PathBuf>,

    /// Signature directory (pi/*.toml, sdks/*.toml) to use instead of the signatures built
    /// into this binary. Example: --signatures /etc/leaktap/signatures
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,

    /// Do not show a progress bar even when standard error is a terminal.
    #[arg(long)]
    no_progress: bool,

    /// Capture files (pcap or pcapng), read in the order given.
    #[arg(value_name = "CAPTURE", required = true)]
    captures: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// One JSON record per line (schema leaktap/1), hash-chained.
    Jsonl,
    /// A readable table and a summary, for people.
    Table,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Test session file of one phone (TOML, see session-format.md); repeat for several
    /// phones in one capture. Example: --session lab3-reader.toml
    #[arg(long = "session", value_name = "FILE")]
    sessions: Vec<PathBuf>,

    /// Output format. Example: --format jsonl
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,

    /// Protocol records to add, comma separated: http,dns,tls,quic,flow (or all).
    /// Example: --events http,dns
    #[arg(long, value_name = "LIST")]
    events: Option<String>,

    /// Write records to this file instead of standard output. Example: --out records.jsonl
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Configuration file (the daemon's TOML format; only limits apply here).
    /// Example: --config /etc/leaktap/leaktap.toml
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Signature directory (pi/*.toml, sdks/*.toml) to use instead of the signatures built
    /// into this binary. Example: --signatures /etc/leaktap/signatures
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,
    /// TLS key log (NSS SSLKEYLOGFILE format) used to decrypt TLS 1.2/1.3;
    /// repeat for several files. Example: --keylog phone3-keys.log
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,

    /// Do not show a progress bar even when standard error is a terminal.
    #[arg(long)]
    no_progress: bool,

    /// Add `finding` records (the rules of findings.md), written after all other
    /// records once their evidence is complete. Example: --findings
    #[arg(long)]
    findings: bool,

    /// CSV of CIDR,country_code lines; turns LT-CROSS-BORDER on (with --findings).
    /// Example: --ip-country lab-geo.csv
    #[arg(long, value_name = "FILE")]
    ip_country: Option<PathBuf>,

    /// Capture files (pcap or pcapng), read in the order given.
    #[arg(value_name = "CAPTURE", required = true)]
    captures: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Verify(args) => verify(args),
        Command::DebugStoreBurst(args) => debug_store_burst(args),
        Command::Report(args) => report_command(args),
        Command::Signatures {
            command: SignaturesCommand::Check(args),
        } => signatures_check(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("leaktap: error: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEAKTAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

/// A problem with an input file: reported as "file:line: reason", exit status 2.
fn bad_input(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("leaktap: {message}");
    Ok(ExitCode::from(EXIT_BAD_INPUT))
}

/// Loads the signature directory, or the embedded set; `Err(code)` after printing every
/// problem as `file:line: reason`.
fn load_signatures(dir: Option<&PathBuf>) -> Result<Arc<SignatureSet>, ExitCode> {
    let loaded = match dir {
        Some(dir) => SignatureSet::load_dir(dir),
        None => SignatureSet::embedded(),
    };
    loaded.map(Arc::new).map_err(|errors| {
        for err in &errors.0 {
            eprintln!("{err}");
        }
        eprintln!("leaktap: {} signature problem(s)", errors.0.len());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn signatures_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let set = match load_signatures(args.dir.as_ref()) {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    let c = set.counts();
    let source = match &args.dir {
        Some(dir) => dir.display().to_string(),
        None => format!(
            "built-in ({} files)",
            leaktap::detect::embedded::file_count()
        ),
    };
    let mut out = io::stdout().lock();
    writeln!(out, "签名 signatures:        {source}")?;
    writeln!(
        out,
        "PI 类型 PI types:       {} ({} patterns, {} files)",
        c.pi_types, c.pi_patterns, c.pi_files
    )?;
    writeln!(
        out,
        "SDK:                   {} ({} files)",
        c.sdks, c.sdk_files
    )?;
    writeln!(out, "SDK 域名 SDK domains:   {}", c.sdk_domains)?;
    writeln!(out, "SDK 主机模式 host patterns: {}", c.sdk_host_patterns)?;
    writeln!(out, "SDK 类别 categories:    {}", c.sdk_categories)?;
    writeln!(out, "OK")?;
    Ok(ExitCode::SUCCESS)
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let events = match args.events.as_deref().map(EventSet::parse).transpose() {
        Ok(events) => events.unwrap_or_default(),
        Err(reason) => return bad_input(format_args!("--events: {reason}")),
    };
    let signatures = match load_signatures(args.signatures.as_ref()) {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    let (runtime, sessions) = match setup(args.config.as_deref(), &args.sessions, &signatures) {
        Ok(ok) => ok,
        Err(message) => return bad_input(message),
    };
    let mut engine = if args.findings {
        match findings_engine(&runtime, args.ip_country.as_deref()) {
            Ok(engine) => Some(engine),
            Err(message) => return bad_input(message),
        }
    } else {
        None
    };
    let mut settings = runtime.pipeline_settings();
    settings.events = events;
    settings.signatures = signatures;
    if !args.keylogs.is_empty() {
        let keylog = leaktap::keylog::KeyLog::new(runtime.tls_keylog_max_entries);
        for path in &args.keylogs {
            match keylog.load_file(path) {
                Ok(report) => {
                    if report.bad > 0 || report.stored == 0 {
                        eprintln!("leaktap: key log {report}");
                    }
                }
                Err(err) => return bad_input(err),
            }
        }
        settings.proto.keylog = Some(Arc::new(keylog));
    }
    let names = Arc::new(ResolvedNames::new(
        runtime.dns_names_max_entries,
        runtime.dns_names_lifetime_secs,
    ));
    let mut worker = Worker::new(settings, Arc::clone(&sessions), names, 0);

    let format = match args.format {
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Table => Format::Table,
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let mut writer = RecordWriter::new(BufWriter::with_capacity(1 << 16, sink), format);
    let mut write_error: Option<io::Error> = None;
    let outcome = {
        let mut emit = |mut record: Record| {
            if write_error.is_some() {
                return;
            }
            match writer.write_ref(&mut record) {
                Ok(()) => {
                    if let Some(engine) = engine.as_mut() {
                        engine.observe(&record, &sessions);
                    }
                }
                Err(err) => write_error = Some(err),
            }
        };
        run_captures(&args.captures, &mut worker, !args.no_progress, &mut emit)
    };
    if let Some(engine) = &engine {
        for record in engine.finish() {
            if write_error.is_none() {
                if let Err(err) = writer.write(record) {
                    write_error = Some(err);
                }
            }
        }
    }
    if write_error.is_none() {
        if let Err(err) = writer.finish() {
            write_error = Some(err);
        }
    }
    if let Some(err) = write_error {
        return Err(anyhow::Error::new(err).context("cannot write records"));
    }
    let mut summary = Summary::new(&worker.stats(), args.captures.len(), &outcome.file_errors);
    if let Some(engine) = &engine {
        summary = summary.with_findings(engine);
    }
    match format {
        Format::Table => {
            let mut out = writer.into_inner();
            writeln!(out)
                .and_then(|_| write!(out, "{summary}"))
                .context("cannot write the summary")?;
            out.flush().context("cannot write records")?;
        }
        Format::Jsonl => {
            writer.flush().context("cannot write records")?;
            eprint!("{summary}");
        }
    }
    if outcome.unopenable {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the configuration (or defaults) and the session files. `Err` is a bad-input
/// message naming the file (exit status 2).
fn setup(
    config_path: Option<&Path>,
    session_paths: &[PathBuf],
    signatures: &SignatureSet,
) -> Result<(config::Runtime, Arc<SessionSet>), String> {
    let runtime = match config_path {
        Some(path) => config::load(path).map_err(|e| e.to_string())?,
        None => config::Runtime::default(),
    };
    // Session files may name the PI types and SDK ids the signatures define.
    let mut known = session::KnownIds::builtin()
        .with_pi_types(signatures.pi_signatures().iter().map(|s| s.id.clone()));
    if !signatures.sdks().is_empty() {
        known = known.with_sdk_ids(signatures.sdks().iter().map(|s| s.id.clone()));
    }
    let mut sessions: Vec<session::Session> = Vec::new();
    for path in session_paths {
        let s = session::load(path, &known).map_err(|e| e.to_string())?;
        // Records and findings name sessions by id (the file stem): two files with the
        // same stem would merge their findings.
        if let Some(other) = sessions.iter().find(|o| o.id == s.id) {
            return Err(format!(
                "{}: session id '{}' is also the id of {} (rename one file: the id is the file name)",
                path.display(),
                s.id,
                other.path.display()
            ));
        }
        sessions.push(s);
    }
    let sessions = SessionSet::new(sessions).map_err(|e| e.to_string())?;
    Ok((runtime, Arc::new(sessions)))
}

/// The findings engine with the configured rule table, thresholds and (if any) the
/// IP-to-country table. `Err` is a bad-input message naming the file.
fn findings_engine(
    runtime: &config::Runtime,
    ip_country: Option<&Path>,
) -> Result<FindingEngine, String> {
    let rules = match &runtime.findings_rules_file {
        Some(path) => RuleTable::load(path),
        None => RuleTable::embedded(),
    }
    .map_err(|e| e.to_string())?;
    let csv = ip_country.or(runtime.findings_ip_country_csv.as_deref());
    let countries: Option<Arc<dyn CountryLookup>> = match csv {
        Some(path) => Some(Arc::new(CidrTable::load(path).map_err(|e| e.to_string())?)),
        None => None,
    };
    Ok(FindingEngine::new(
        rules,
        runtime.findings.clone(),
        countries,
    ))
}

/// What reading the captures went like.
struct RunOutcome {
    file_errors: Vec<String>,
    /// A capture file could not be opened at all (exit status 2).
    unopenable: bool,
}

/// Feeds every frame of the captures through the worker, then flushes it; records go to
/// `emit` in emission order. A bad file is reported and the run goes on.
fn run_captures(
    captures: &[PathBuf],
    worker: &mut Worker,
    progress: bool,
    emit: &mut dyn FnMut(Record),
) -> RunOutcome {
    let mut source = FileSource::new(captures.to_vec());
    let progress =
        (progress && io::stderr().is_terminal()).then(|| progress_bar(source.total_bytes()));
    let mut file_errors = Vec::new();
    let mut unopenable = false;
    let mut frames: u64 = 0;
    loop {
        match source.next_step() {
            Step::Frame(frame) => {
                worker.process(&frame, emit);
                frames += 1;
                if frames % 8192 == 0 {
                    if let Some(bar) = &progress {
                        bar.set_position(source.consumed_bytes());
                    }
                }
            }
            Step::FileError(err) => {
                if matches!(err, leaktap::capture::SourceError::Open { .. }) {
                    unopenable = true;
                }
                tracing::warn!(error = %err, "Capture file problem; continuing with the next file.");
                file_errors.push(err.to_string());
            }
            Step::FileDone | Step::Switched => {}
            Step::Finished => break,
        }
    }
    worker.finish(emit);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    RunOutcome {
        file_errors,
        unopenable,
    }
}

/// Records kept in memory for a report (the pi_leak and sdk_contact records findings
/// cite). A test session has hundreds; beyond this the report says how many it left
/// out, and records.jsonl still holds them all.
const MAX_REPORT_RECORDS: usize = 200_000;

fn report_command(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let signatures = match load_signatures(args.signatures.as_ref()) {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    let (runtime, sessions) = match setup(
        args.config.as_deref(),
        std::slice::from_ref(&args.session),
        &signatures,
    ) {
        Ok(ok) => ok,
        Err(message) => return bad_input(message),
    };
    let mut engine = match findings_engine(&runtime, args.ip_country.as_deref()) {
        Ok(engine) => engine,
        Err(message) => return bad_input(message),
    };
    let mut inputs = Vec::new();
    for path in &args.keylogs {
        match hash_file(path) {
            Ok((sha256, bytes)) => inputs.push(("keylog", path, sha256, bytes)),
            Err(err) => {
                return bad_input(format_args!(
                    "{}: cannot read key log: {err}",
                    path.display()
                ))
            }
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let records_path = args.out.join("records.jsonl");
    let records_file = File::create(&records_path)
        .with_context(|| format!("cannot create {}", records_path.display()))?;
    let mut records_out = BufWriter::with_capacity(1 << 16, records_file);

    let names = Arc::new(ResolvedNames::new(
        runtime.dns_names_max_entries,
        runtime.dns_names_lifetime_secs,
    ));
    let mut settings = runtime.pipeline_settings();
    settings.signatures = signatures;
    let mut worker = Worker::new(settings, Arc::clone(&sessions), names, 0);
    let mut chain = Chain::new();
    let mut kept: Vec<Record> = Vec::new();
    let mut not_kept: u64 = 0;
    let mut write_error: Option<io::Error> = None;
    let keep = |record: Record, kept: &mut Vec<Record>, not_kept: &mut u64| {
        if matches!(
            record.body,
            Body::PiLeak(_) | Body::SdkContact(_) | Body::Finding(_)
        ) {
            if kept.len() < MAX_REPORT_RECORDS || matches!(record.body, Body::Finding(_)) {
                kept.push(record);
            } else {
                *not_kept += 1;
            }
        }
    };
    let outcome = {
        let mut emit = |mut record: Record| {
            let line = chain.seal(&mut record);
            if write_error.is_none() {
                if let Err(err) = writeln!(records_out, "{line}") {
                    write_error = Some(err);
                }
            }
            engine.observe(&record, &sessions);
            keep(record, &mut kept, &mut not_kept);
        };
        run_captures(&args.captures, &mut worker, !args.no_progress, &mut emit)
    };
    for mut record in engine.finish() {
        let line = chain.seal(&mut record);
        if write_error.is_none() {
            if let Err(err) = writeln!(records_out, "{line}") {
                write_error = Some(err);
            }
        }
        keep(record, &mut kept, &mut not_kept);
    }
    if let Some(err) = write_error {
        return Err(
            anyhow::Error::new(err).context(format!("cannot write {}", records_path.display()))
        );
    }
    records_out
        .flush()
        .with_context(|| format!("cannot write {}", records_path.display()))?;
    drop(records_out);

    let mut files: Vec<InputFile> = Vec::new();
    for path in &args.captures {
        if let Ok((sha256, bytes)) = hash_file(path) {
            files.push(InputFile {
                role: "capture",
                path: path.display().to_string(),
                sha256,
                bytes,
            });
        }
    }
    for (role, path, sha256, bytes) in inputs {
        files.push(InputFile {
            role,
            path: path.display().to_string(),
            sha256,
            bytes,
        });
    }
    let (sha256, bytes) = hash_file(&args.session)
        .with_context(|| format!("cannot read {}", args.session.display()))?;
    files.push(InputFile {
        role: "session",
        path: args.session.display().to_string(),
        sha256,
        bytes,
    });
    let (sha256, bytes) = hash_file(&records_path)
        .with_context(|| format!("cannot read {}", records_path.display()))?;
    files.push(InputFile {
        role: "records",
        path: "records.jsonl".into(),
        sha256,
        bytes,
    });

    let stats = worker.stats();
    let mut notes = Vec::new();
    if !args.keylogs.is_empty() {
        notes.push(Note {
            zh: "已提供TLS密钥日志并计算其哈希；本版本尚不使用密钥日志解密TLS，加密流量中只能看到域名（SNI/DNS）。".into(),
            en: "TLS key logs were given and hashed; this build does not yet decrypt TLS with them, so encrypted traffic shows only names (SNI/DNS).".into(),
        });
    }
    if not_kept > 0 {
        notes.push(Note {
            zh: format!("另有 {not_kept} 条个人信息/SDK记录未载入报告（见 records.jsonl）。"),
            en: format!("{not_kept} more PI/SDK records were not loaded into the report (see records.jsonl)."),
        });
    }
    let session = sessions
        .sessions()
        .first()
        .context("the session set is empty")?;
    let rules_off = engine.rules_off();
    let lang = match args.lang {
        LangArg::En => Lang::En,
        LangArg::Zh => Lang::Zh,
    };
    let built = Report::build(ReportInput {
        session,
        records: &kept,
        rules: engine.rules(),
        rules_off: &rules_off,
        inputs: files,
        run: RunFacts {
            packets: stats.packets,
            bytes: stats.bytes,
            first_ts: stats.first_ts.map(|t| t.to_rfc3339()),
            last_ts: stats.last_ts.map(|t| t.to_rfc3339()),
            records: chain.next_seq().saturating_sub(1),
            chain_head: chain.last_hash().to_string(),
            file_problems: outcome.file_errors.clone(),
        },
        notes,
        generator: format!("leaktap {}", env!("CARGO_PKG_VERSION")),
        lang,
    });
    for (name, text) in [
        ("report.json", built.to_json()),
        ("report.html", built.to_html()),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let summary =
        Summary::new(&stats, args.captures.len(), &outcome.file_errors).with_findings(&engine);
    eprint!("{summary}");
    eprintln!(
        "报告 report: {} ({} findings)",
        args.out.join("report.html").display(),
        built.findings.len()
    );
    if outcome.unopenable {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// SHA-256 (lower-case hex) and size of a file, read in 64 KiB blocks.
fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or(&[]));
        total += n as u64;
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, total))
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match leaktap::store::verify::verify(&args.data_dir) {
        Ok(report) => {
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(leaktap::store::verify::Failure::Setup(reason)) => bad_input(reason),
        Err(failure) => {
            println!("FAILED: {failure}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// Writes synthetic DNS records through the store as fast as it takes them, printing
/// `ready <next-seq>` once the store is open; a crash test kills it mid-burst.
fn debug_store_burst(args: DebugStoreBurstArgs) -> anyhow::Result<ExitCode> {
    use leaktap::capture::Timestamp;
    use leaktap::record::{AppProto, Body, Common, DnsFields, FlowTuple, Record};
    use leaktap::store::{Limits, PendingRecord, StoreWriter};

    let writer = StoreWriter::open(&args.data_dir, &Limits::default(), None)
        .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
    let handle = writer.handle();
    println!("ready {}", writer.resume_report().next_seq);
    io::stdout().flush().context("cannot write to stdout")?;
    let mut i: u64 = 0;
    while args.records == 0 || i < args.records {
        let common = Common {
            session_id: Some("burst".into()),
            device: None,
            app: None,
            flow_id: i,
            community_id: "1:burst".into(),
            flow: FlowTuple {
                src_ip: std::net::IpAddr::from([192, 0, 2, 1]),
                src_port: 40_000,
                dst_ip: std::net::IpAddr::from([192, 0, 2, 53]),
                dst_port: 53,
                proto: "udp",
            },
            app_proto: AppProto::Dns,
            host: None,
            sdk: None,
            third_party: false,
            consent_phase: "no_session",
        };
        let dns = DnsFields {
            kind: "query",
            query: format!("burst{i}.example"),
            rrtype: "A".into(),
            ..DnsFields::default()
        };
        let record = Record::new(
            Timestamp::from_secs(1_772_442_040),
            common,
            Body::Dns { dns },
        );
        handle
            .submit_blocking(PendingRecord::new(record))
            .context("the store writer stopped")?;
        i += 1;
    }
    writer.shutdown().context("cannot close the store")?;
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}
