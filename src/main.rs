//! The `leaktap` command: parses the command line, loads configuration and session files,
//! runs the pipeline, and reports errors with context. The only user of `anyhow`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use leaktap::capture::{FileSource, Step};
use leaktap::config;
use leaktap::output::{Format, RecordWriter, Summary};
use leaktap::pipeline::{EventSet, Worker};
use leaktap::proto::ResolvedNames;
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

    /// TLS key log (NSS SSLKEYLOGFILE format) used to decrypt TLS 1.2/1.3;
    /// repeat for several files. Example: --keylog phone3-keys.log
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<PathBuf>,

    /// Do not show a progress bar even when standard error is a terminal.
    #[arg(long)]
    no_progress: bool,

    /// Capture files (pcap or pcapng), read in the order given.
    #[arg(value_name = "CAPTURE", required = true)]
    captures: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Analyze(args) => analyze(args),
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
        .try_init();
}

/// A problem with an input file: reported as "file:line: reason", exit status 2.
fn bad_input(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("leaktap: {message}");
    Ok(ExitCode::from(EXIT_BAD_INPUT))
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let events = match args.events.as_deref().map(EventSet::parse).transpose() {
        Ok(events) => events.unwrap_or_default(),
        Err(reason) => return bad_input(format_args!("--events: {reason}")),
    };
    let runtime = match &args.config {
        Some(path) => match config::load(path) {
            Ok(runtime) => runtime,
            Err(err) => return bad_input(err),
        },
        None => config::Runtime::default(),
    };
    let known = session::KnownIds::builtin();
    let mut sessions = Vec::new();
    for path in &args.sessions {
        match session::load(path, &known) {
            Ok(s) => sessions.push(s),
            Err(err) => return bad_input(err),
        }
    }
    let sessions = match SessionSet::new(sessions) {
        Ok(set) => Arc::new(set),
        Err(err) => return bad_input(err),
    };
    let mut settings = runtime.pipeline_settings();
    settings.events = events;
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
    let mut worker = Worker::new(settings, sessions, names, 0);

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
    let mut source = FileSource::new(args.captures.clone());
    let progress = (!args.no_progress && io::stderr().is_terminal())
        .then(|| progress_bar(source.total_bytes()));

    let mut write_error: Option<io::Error> = None;
    let mut file_errors = Vec::new();
    let mut unopenable = false;
    let mut emit = |record| {
        if write_error.is_none() {
            if let Err(err) = writer.write(record) {
                write_error = Some(err);
            }
        }
    };
    let mut frames: u64 = 0;
    loop {
        match source.next_step() {
            Step::Frame(frame) => {
                worker.process(&frame, &mut emit);
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
            Step::FileDone => {}
            Step::Finished => break,
        }
    }
    worker.finish(&mut emit);
    drop(emit);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(err) = write_error {
        return Err(anyhow::Error::new(err).context("cannot write records"));
    }
    let summary = Summary::new(&worker.stats(), args.captures.len(), &file_errors);
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
    if unopenable {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
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
