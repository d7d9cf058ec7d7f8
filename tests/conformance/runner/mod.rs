//! The differential runner: every scenario against the reference server and
//! the server under test, a fresh process of each per scenario, transcripts
//! compared connection by connection.

pub mod script;
pub mod server;
pub mod session;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transcript;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use script::{Role, Scenario};
use server::ServerProcess;
use session::Outcome;
use transcript::{display, escape};

/// The two binaries a run compares, how clients reach them, and whether to
/// print every transcript (for writing `expect` lines), not only failures.
pub struct Servers {
    pub reference: PathBuf,
    pub tested: PathBuf,
    pub mode: Mode,
    pub show: bool,
}

/// How the scenarios' connections reach the servers.
pub enum Mode {
    /// Plain TCP, the servers as each scenario configures them.
    Plain,
    /// Both servers get a `tls {}` block added to their configuration
    /// (a configuration made for a scenario without one), and every
    /// connection does the TLS handshake after the INFO greeting.
    #[cfg(feature = "tls")]
    Tls(tls::Tls),
}

impl Mode {
    /// Where servers log and configurations are written:
    /// `target/tmp/conformance`, and its `tls` directory for the TLS mode,
    /// so that both modes can run at once.
    pub fn scratch_dir(&self) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance");
        match self {
            Mode::Plain => dir,
            #[cfg(feature = "tls")]
            Mode::Tls(_) => dir.join("tls"),
        }
    }

    /// The configuration file a scenario's servers get, if any.
    fn config(&self, scenario: &Scenario) -> Option<Vec<u8>> {
        match self {
            Mode::Plain => scenario.config.clone(),
            #[cfg(feature = "tls")]
            Mode::Tls(tls) => Some(tls.config(scenario.config.as_deref())),
        }
    }

    /// What an `expect` line's text (written for plain TCP) means in this
    /// mode.
    pub fn expected<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Mode::Plain => Cow::Borrowed(text),
            #[cfg(feature = "tls")]
            Mode::Tls(_) => tls::expected(text),
        }
    }
}

/// Every `*.nats` file in `root/dir`, parsed, in file-name order. Reports
/// name files as `dir/file`.
pub fn load_scenarios(root: &Path, dir: &Path) -> Result<Vec<Scenario>, String> {
    let full = root.join(dir);
    let entries = std::fs::read_dir(&full).map_err(|e| format!("{}: {e}", full.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| dir.join(e.file_name())))
        .filter(|p| p.extension().is_some_and(|x| x == "nats"))
        .collect();
    files.sort();
    let mut all: Vec<Scenario> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(root.join(&file))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let scenarios = script::parse(&file, &text).map_err(|e| e.to_string())?;
        for s in scenarios {
            if let Some(first) = all.iter().find(|o| o.name == s.name) {
                return Err(format!(
                    "{}: scenario name {} is already used at {}",
                    s.location(),
                    s.name,
                    first.location()
                ));
            }
            all.push(s);
        }
    }
    Ok(all)
}

/// Run `scenarios` on `jobs` threads; returns one report per failed
/// scenario, in scenario order.
pub fn run_all(servers: &Servers, scenarios: &[Scenario], jobs: usize) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(scenario) = scenarios.get(i) else {
                    return;
                };
                if let Some(report) = run_one(servers, scenario) {
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, report));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort();
    failures.into_iter().map(|(_, report)| report).collect()
}

/// Play one scenario on both servers; `Some(report)` when it fails.
fn run_one(servers: &Servers, scenario: &Scenario) -> Option<String> {
    let reference = play_on(servers, Role::Reference, scenario);
    let tested = play_on(servers, Role::Tested, scenario);
    if servers.show {
        show(scenario, &reference, &tested);
    }
    // In a `difference` scenario the tested server may behave as its
    // `expect-tested` lines say, or simply as the reference does.
    let agrees = match (&reference, &tested) {
        (Ok(r), Ok(t)) => r.transcripts == t.transcripts,
        _ => false,
    };
    let mut report = String::new();
    for (role, outcome) in [(Role::Reference, &reference), (Role::Tested, &tested)] {
        match outcome {
            Err(e) => {
                let _ = writeln!(report, "  {role} server: {e}");
            }
            Ok(o) => {
                let check_expects = role == Role::Reference || !agrees;
                report_own_failures(&mut report, role, scenario, o, check_expects);
            }
        }
    }
    if let (Ok(reference), Ok(tested), None) = (&reference, &tested, &scenario.difference) {
        report_differences(&mut report, reference, tested);
    }
    if report.is_empty() {
        return None;
    }
    let difference = match &scenario.difference {
        Some(reason) => format!("  (a deliberate difference: {reason})\n"),
        None => String::new(),
    };
    Some(format!(
        "scenario {} ({}):\n{difference}{report}",
        scenario.name,
        scenario.location()
    ))
}

/// A server that could not bind its port exits at once, but a probe may
/// first reach whatever holds the port: a scenario whose server is gone by
/// its end is played again on a new port.
const PLAY_ATTEMPTS: usize = 3;

fn play_on(servers: &Servers, role: Role, scenario: &Scenario) -> Result<Outcome, String> {
    let binary = match role {
        Role::Reference => &servers.reference,
        Role::Tested => &servers.tested,
    };
    let scratch = servers.mode.scratch_dir();
    let log = server::log_path(&scratch, &role.to_string(), &scenario.name);
    let config = match servers.mode.config(scenario) {
        Some(text) => {
            let path = server::config_path(&scratch, &role.to_string(), &scenario.name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    for _ in 0..PLAY_ATTEMPTS {
        let mut process =
            ServerProcess::start(binary, &scenario.server_flags, config.as_deref(), &log)?;
        let outcome = session::play(scenario, process.addr, role, &servers.mode);
        if !process.exited() {
            return Ok(outcome);
        }
    }
    Err(format!(
        "the server exited during the scenario {PLAY_ATTEMPTS} times; see {}",
        log.display()
    ))
}

/// Every connection's transcript on both servers, in one write so that
/// parallel scenarios do not interleave.
fn show(
    scenario: &Scenario,
    reference: &Result<Outcome, String>,
    tested: &Result<Outcome, String>,
) {
    let mut text = format!("scenario {} ({}):\n", scenario.name, scenario.location());
    for (role, outcome) in [(Role::Reference, reference), (Role::Tested, tested)] {
        let _ = writeln!(text, "  {role}:");
        match outcome {
            Err(e) => {
                let _ = writeln!(text, "    {e}");
            }
            Ok(o) => {
                for (name, events) in &o.transcripts {
                    let _ = write!(text, "    connection {name}:\n{}", display(events));
                }
            }
        }
    }
    eprintln!("{text}");
}

/// Steps that could not run and (if `check_expects`) `expect`s that did
/// not hold.
fn report_own_failures(
    report: &mut String,
    role: Role,
    scenario: &Scenario,
    o: &Outcome,
    check_expects: bool,
) {
    for e in &o.errors {
        let _ = writeln!(report, "  {role} server: {e}");
    }
    let failed_expects = if check_expects {
        &o.failed_expects[..]
    } else {
        &[]
    };
    for f in failed_expects {
        let _ = writeln!(
            report,
            "  {role} server, {}:{}, expect {}:\n    expected: {}\n    got:      {}",
            scenario.file.display(),
            f.line,
            f.conn,
            escape(&f.expected),
            escape(&f.got)
        );
    }
}

/// Connections whose transcripts differ, both shown in full.
fn report_differences(report: &mut String, reference: &Outcome, tested: &Outcome) {
    let names = reference
        .transcripts
        .iter()
        .chain(&tested.transcripts)
        .map(|(name, _)| name);
    let mut seen: Vec<&String> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let of = |o: &'_ Outcome| {
            o.transcripts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, events)| events.clone())
                .unwrap_or_default()
        };
        let (want, got) = (of(reference), of(tested));
        if want != got {
            let _ = write!(
                report,
                "  connection {name} differs\n    reference:\n{}    tested:\n{}",
                display(&want),
                display(&got)
            );
        }
    }
}
