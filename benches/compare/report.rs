//! What a scenario run yields, the medians over rounds, and the table
//! printed to the terminal and written as markdown.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::{Kind, ServerBin};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One number a scenario run measured.
pub struct Figure {
    pub label: String,
    pub unit: &'static str,
    pub value: f64,
    pub better: Better,
}

impl Figure {
    pub fn new(label: impl Into<String>, unit: &'static str, value: f64, better: Better) -> Self {
        Figure {
            label: label.into(),
            unit,
            value,
            better,
        }
    }
}

/// CPU used during a scenario's measured stretch, in cores (1.0 = one core
/// busy the whole time).
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub server: f64,
    /// The other server of a cluster of two (the subscriber's), where
    /// `server` is the publisher's.
    pub peer: Option<f64>,
    /// The whole load generator (all its threads).
    pub loadgen: f64,
    /// Its busiest thread: each client is one thread, so near 1.0 means a
    /// client, not the server, set the pace.
    pub busiest_thread: f64,
}

pub struct Outcome {
    pub figures: Vec<Figure>,
    /// None where CPU use says nothing (footprint, binary size).
    pub cpu: Option<CpuUse>,
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Natsd => 0,
        Kind::Go => 1,
    }
}

/// Every run's figures, grouped by figure, one column per server.
struct Row {
    scenario: &'static str,
    label: String,
    unit: &'static str,
    better: Better,
    values: [Vec<f64>; 2],
}

struct CpuRow {
    scenario: &'static str,
    runs: [Vec<CpuUse>; 2],
}

#[derive(Default)]
pub struct Results {
    rows: Vec<Row>,
    cpu: Vec<CpuRow>,
    failures: Vec<(&'static str, Kind, String)>,
}

impl Results {
    pub fn record(&mut self, scenario: &'static str, kind: Kind, outcome: Outcome) {
        for figure in outcome.figures {
            let at = match self.rows.iter().position(|r| r.label == figure.label) {
                Some(at) => at,
                None => {
                    self.rows.push(Row {
                        scenario,
                        label: figure.label,
                        unit: figure.unit,
                        better: figure.better,
                        values: [Vec::new(), Vec::new()],
                    });
                    self.rows.len() - 1
                }
            };
            self.rows[at].values[slot(kind)].push(figure.value);
        }
        if let Some(cpu) = outcome.cpu {
            let at = match self.cpu.iter().position(|r| r.scenario == scenario) {
                Some(at) => at,
                None => {
                    self.cpu.push(CpuRow {
                        scenario,
                        runs: [Vec::new(), Vec::new()],
                    });
                    self.cpu.len() - 1
                }
            };
            self.cpu[at].runs[slot(kind)].push(cpu);
        }
    }

    pub fn fail(&mut self, scenario: &'static str, kind: Kind, error: String) {
        self.failures.push((scenario, kind, error));
    }

    fn has_failed(&self, scenario: &str, kind: Kind) -> bool {
        self.failures
            .iter()
            .any(|(s, k, _)| *s == scenario && *k == kind)
    }

    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// The comparison, one line per figure, as a markdown table (which
    /// also reads well in a terminal).
    fn table(&self) -> String {
        let mut lines = vec![[
            "scenario",
            "unit",
            Kind::Natsd.label(),
            Kind::Go.label(),
            "natsd/Go",
            "better",
        ]
        .map(String::from)
        .to_vec()];
        for row in &self.rows {
            let [natsd, go] = [median(&row.values[0]), median(&row.values[1])];
            let ratio = match (natsd, go) {
                (Some(n), Some(g)) if g > 0.0 => format!("{:.2}", n / g),
                _ => "-".into(),
            };
            let cell = |kind: Kind, value: Option<f64>| {
                if self.has_failed(row.scenario, kind) {
                    "FAILED".into()
                } else {
                    show(value)
                }
            };
            lines.push(vec![
                row.label.clone(),
                row.unit.into(),
                cell(Kind::Natsd, natsd),
                cell(Kind::Go, go),
                ratio,
                match row.better {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                }
                .into(),
            ]);
        }
        // A scenario that never produced a figure still gets its line.
        let mut silent: Vec<&'static str> = self.failures.iter().map(|f| f.0).collect();
        silent.dedup();
        for scenario in silent {
            if self.rows.iter().any(|r| r.scenario == scenario) {
                continue;
            }
            let cell = |kind| {
                if self.has_failed(scenario, kind) {
                    "FAILED"
                } else {
                    "-"
                }
            };
            lines.push(
                [scenario, "-", cell(Kind::Natsd), cell(Kind::Go), "-", "-"]
                    .map(String::from)
                    .to_vec(),
            );
        }
        markdown(&lines, &[false, false, true, true, true, false])
    }

    /// CPU use of each server and of the load generator against it (all
    /// of it, and its busiest client thread). A client thread near 100%
    /// while the server has CPU to spare means the figure measures the
    /// client. natsd has one thread, so 100% is all it can use; Go can use
    /// every core.
    fn cpu_table(&self) -> String {
        let mut lines = vec![[
            "scenario",
            "natsd",
            "its loadgen",
            "busiest client",
            "nats-server",
            "its loadgen",
            "busiest client",
        ]
        .map(String::from)
        .to_vec()];
        for row in &self.cpu {
            let mut line = vec![row.scenario.to_owned()];
            for runs in &row.runs {
                let percent = |of: fn(&CpuUse) -> Option<f64>| {
                    let v: Vec<f64> = runs.iter().filter_map(of).collect();
                    median(&v).map(|m| format!("{:.0}%", m * 100.0))
                };
                // A cluster's two servers: the publisher's + the subscriber's.
                let server = match (percent(|c| Some(c.server)), percent(|c| c.peer)) {
                    (Some(a), Some(b)) => format!("{a} + {b}"),
                    (a, _) => a.unwrap_or_else(|| "-".into()),
                };
                line.push(server);
                let readings: [fn(&CpuUse) -> Option<f64>; 2] =
                    [|c| Some(c.loadgen), |c| Some(c.busiest_thread)];
                for of in readings {
                    line.push(percent(of).unwrap_or_else(|| "-".into()));
                }
            }
            lines.push(line);
        }
        markdown(&lines, &[false, true, true, true, true, true, true])
    }

    /// Whether a CPU row holds a cluster's two servers.
    fn has_peers(&self) -> bool {
        self.cpu
            .iter()
            .any(|r| r.runs.iter().flatten().any(|c| c.peer.is_some()))
    }

    /// The whole report in markdown: `header`, the comparison, the CPU
    /// table, how to reproduce.
    pub fn document(&self, header: &str) -> String {
        let mut doc = format!("## natsd vs nats-server\n\n{header}\n{}\n", self.table());
        if !self.cpu.is_empty() {
            doc += "CPU during the measured stretch (100% = one core busy all along):\n\n";
            doc += &self.cpu_table();
            if self.has_peers() {
                doc += "\nIn a cluster's rows, \"A + B\": the publisher's server, then the \
                        subscriber's.\n";
            }
            doc += "\n";
        }
        doc + "Reproduce with `cargo bench --bench compare`.\n"
    }

    pub fn failure_report(&self) -> String {
        let mut out = String::new();
        for (scenario, kind, error) in &self.failures {
            let _ = writeln!(out, "FAILED {scenario} on {}: {error}", kind.label());
        }
        out
    }
}

/// The median of the runs; None when every run failed.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Large figures as grouped integers, small ones with the decimals that
/// matter.
fn show(value: Option<f64>) -> String {
    let Some(v) = value else {
        return "FAILED".into();
    };
    if v >= 100.0 {
        let digits = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A markdown table with padded columns; `right` aligns numbers.
fn markdown(lines: &[Vec<String>], right: &[bool]) -> String {
    let widths: Vec<usize> = (0..right.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .zip(right)
            .map(|((cell, &w), &r)| {
                if r {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths
                .iter()
                .zip(right)
                .map(|(&w, &r)| {
                    if r {
                        format!("{}:", "-".repeat(w - 1))
                    } else {
                        "-".repeat(w)
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

/// The lines that head the markdown report: when, on what, which versions.
pub fn header(bins: &[ServerBin], rounds: usize, smoke: bool) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mut out = String::new();
    let _ = writeln!(out, "- date: {}", utc_now());
    let _ = writeln!(
        out,
        "- machine: {cores} cores ({cpu}), Linux {kernel}, loopback TCP"
    );
    for bin in bins {
        let _ = writeln!(out, "- {}: {}", bin.kind.label(), bin.version);
    }
    let _ = writeln!(
        out,
        "- median of {rounds} round(s), servers alternating, a fresh server per run{}",
        if smoke {
            " (SMOKE: tiny counts, numbers meaningless)"
        } else {
            ""
        }
    );
    out
}

/// `YYYY-MM-DD HH:MM UTC`, from the system clock.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = natsd::logging::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}
