//! What does not swing on a shared machine: CPU seconds (user + system, from `/proc/PID/stat`)
//! and peak RSS (`VmHWM`, reset through `clear_refs`, plus 10 ms `VmRSS` sampling) of each
//! process of a measurement — the client (this bench process, or a `curl` child), the gateway
//! and the emulator — next to the wall time; and the floors they are compared with, measured in
//! the same run: one SHA-256 pass over as many bytes, `curl` into a discard sink and a loopback
//! relay. Beside them, how busy the machine's cores were: on two cores with three processes
//! working, a throughput ratio is a ratio of CPU seconds once the cores are full.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::payload::{BLOCK, File};
use crate::procs::RssSampler;

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// User + system CPU seconds of the process (or thread) whose stat file is `path`.
fn cpu_at(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// CPU seconds of `pid` so far (a zombie still reports its own).
pub fn cpu_seconds(pid: u32) -> f64 {
    cpu_at(&format!("/proc/{pid}/stat")).unwrap_or(0.0)
}

/// CPU seconds of the calling thread so far.
fn thread_cpu() -> f64 {
    cpu_at("/proc/thread-self/stat").unwrap_or(0.0)
}

/// Seconds all the machine's CPUs together have spent idle (or waiting on I/O) since boot, from
/// the `cpu` line of `/proc/stat`, and how many CPUs its `cpuN` lines count: the machine's, which
/// may be more than this process may use.
fn machine_idle() -> Option<(f64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let fields: Vec<f64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let cpus = lines
        .take_while(|line| line.starts_with("cpu"))
        .filter(|line| line.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    // user nice system idle iowait …
    Some((
        (fields.get(3)? + fields.get(4)?) / ticks_per_second(),
        cpus.max(1),
    ))
}

/// The share of `cores` that was busy over `wall`, given the idle seconds at its two ends.
fn busy_share(idle_before: f64, idle_after: f64, wall: Duration, cores: usize) -> f64 {
    let capacity = wall.as_secs_f64() * cores as f64;
    if capacity <= 0.0 {
        return 0.0;
    }
    (1.0 - (idle_after - idle_before) / capacity).clamp(0.0, 1.0)
}

/// The CPUs this run may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One process of a measurement.
struct Watched {
    role: &'static str,
    pid: u32,
    cpu: f64,
    rss: RssSampler,
}

/// Measures every named process from [`Meter::start`] to [`Meter::finish`].
pub struct Meter {
    started: Instant,
    idle: Option<(f64, usize)>,
    watched: Vec<Watched>,
}

/// One process's share of a measurement.
#[derive(Clone, Debug)]
pub struct ProcUsage {
    /// `client`, `gateway` or `emulator`.
    pub role: &'static str,
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident memory in bytes.
    pub peak_rss: u64,
}

/// What a measurement cost.
#[derive(Clone, Debug)]
pub struct Usage {
    /// Wall time.
    pub wall: Duration,
    /// Per process, in the order given.
    pub procs: Vec<ProcUsage>,
    /// How busy the machine's cores were (with anything), when `/proc/stat` tells.
    pub cores_busy: Option<CoresBusy>,
}

/// The share of the machine's cores that was busy over a measurement.
#[derive(Clone, Copy, Debug)]
pub struct CoresBusy {
    /// 0 to 1.
    pub share: f64,
    /// The machine's CPUs.
    pub cores: usize,
}

impl Meter {
    /// Starts measuring `procs` (role, pid).
    pub fn start(procs: &[(&'static str, u32)]) -> Self {
        let watched = procs
            .iter()
            .map(|&(role, pid)| Watched {
                role,
                pid,
                cpu: cpu_seconds(pid),
                rss: RssSampler::start(pid),
            })
            .collect();
        Self {
            started: Instant::now(),
            idle: machine_idle(),
            watched,
        }
    }

    /// Stops and reports.
    pub fn finish(self) -> Usage {
        let wall = self.started.elapsed();
        let cores_busy = self
            .idle
            .zip(machine_idle())
            .map(|((before, cores), (after, _))| CoresBusy {
                share: busy_share(before, after, wall, cores),
                cores,
            });
        let procs = self
            .watched
            .into_iter()
            .map(|w| ProcUsage {
                role: w.role,
                cpu_s: (cpu_seconds(w.pid) - w.cpu).max(0.0),
                peak_rss: w.rss.finish(),
            })
            .collect();
        Usage {
            wall,
            procs,
            cores_busy,
        }
    }
}

impl Usage {
    /// The CPU seconds of `role` (0 when not measured).
    pub fn cpu(&self, role: &str) -> f64 {
        self.of(role).map_or(0.0, |p| p.cpu_s)
    }

    /// The peak RSS of `role` in bytes.
    pub fn peak(&self, role: &str) -> u64 {
        self.of(role).map_or(0, |p| p.peak_rss)
    }

    fn of(&self, role: &str) -> Option<&ProcUsage> {
        self.procs.iter().find(|p| p.role == role)
    }

    /// Every figure, per GiB of `bytes` where that means something.
    pub fn json(&self, bytes: u64, floors: &Floors) -> Value {
        let gib = gib(bytes);
        let mut procs = serde_json::Map::new();
        for p in &self.procs {
            procs.insert(
                p.role.to_owned(),
                json!({
                    "cpu_s": p.cpu_s,
                    "cpu_s_per_gib": p.cpu_s / gib,
                    "cpu_vs_sha256": p.cpu_s / gib / floors.sha256_s_per_gib,
                    "peak_rss": p.peak_rss,
                }),
            );
        }
        json!({
            "wall_s": self.wall.as_secs_f64(),
            "bytes": bytes,
            "procs": procs,
            "cores_busy": self.cores_busy.map(|b| b.share),
            "cores": self.cores_busy.map(|b| b.cores),
        })
    }

    /// A compact cell: `wall, cores busy; client/gateway/emulator CPU s per GiB (× SHA-256 floor)`.
    pub fn cell(&self, bytes: u64, floors: &Floors) -> String {
        let gib = gib(bytes);
        let parts: Vec<String> = self
            .procs
            .iter()
            .map(|p| {
                format!(
                    "{} {:.2} s/GiB ({:.2}×)",
                    p.role,
                    p.cpu_s / gib,
                    p.cpu_s / gib / floors.sha256_s_per_gib
                )
            })
            .collect();
        format!(
            "{:.2} s wall{}; CPU {}",
            self.wall.as_secs_f64(),
            self.busy_text(),
            parts.join(", ")
        )
    }

    /// `, 96 % of 2 cores busy`, or nothing when `/proc/stat` did not tell.
    pub fn busy_text(&self) -> String {
        self.cores_busy.map_or(String::new(), |b| {
            format!(", {:.0} % of {} cores busy", b.share * 100.0, b.cores)
        })
    }
}

/// GiB in `bytes` (never zero, so a ratio stays finite).
pub fn gib(bytes: u64) -> f64 {
    (bytes as f64 / (1u64 << 30) as f64).max(1e-9)
}

/// The floors of this run.
#[derive(Clone, Debug)]
pub struct Floors {
    /// CPU seconds per GiB of one SHA-256 pass (this crate's `sha2`) over bytes in cache, as
    /// the gateway's are when it hashes what it has just received.
    pub sha256_s_per_gib: f64,
    /// `openssl dgst -sha256` CPU seconds per GiB, when openssl is installed.
    pub openssl_s_per_gib: Option<f64>,
    /// `curl -T` into a discard sink: curl's CPU seconds per GiB and its wall throughput.
    pub curl: Option<(f64, f64)>,
    /// CPU seconds per GiB of a thread that only receives bytes on one loopback socket and sends
    /// them on another, 64 KiB at a time (the gateway's read-ahead): what passing a GiB through
    /// a process costs here before any HTTP, parsing or hashing.
    pub relay_s_per_gib: Option<f64>,
}

impl Floors {
    /// Measures the floors over `file` (the scenarios' big file); `dir` holds a copy for the
    /// command-line tools.
    pub async fn measure(file: File, dir: &Path) -> Self {
        let bytes = file.size;
        // The gateway hashes each piece just after receiving it, while it is in cache, so the
        // floor hashes one block of the file again and again up to the file's size (SHA-256
        // costs the same whatever the bytes). Cycling through 64 MiB of distinct blocks read
        // them from memory instead, and cost 45 % more on one VM (docs/perf, "Ninth round").
        let block = file.range(0, BLOCK);
        let sha = tokio::task::spawn_blocking(move || {
            let before = thread_cpu();
            let wall = Instant::now();
            let mut hasher = Sha256::new();
            let mut done = 0u64;
            while done < bytes {
                let take = block
                    .len()
                    .min(usize::try_from(bytes - done).unwrap_or(usize::MAX));
                hasher.update(&block[..take]);
                done += take as u64;
            }
            std::hint::black_box(hasher.finalize());
            let cpu = thread_cpu() - before;
            // Tick resolution is 10 ms: fall back on the wall time of a single thread then.
            cpu.max(wall.elapsed().as_secs_f64().min(cpu + 0.01))
        })
        .await
        .unwrap_or(0.0);
        let path = dir.join("floor.bin");
        let written = file.write_to(&path).is_ok();
        let openssl = written.then(|| openssl_cpu(&path)).flatten();
        let curl = if written {
            curl_discard(&path).await
        } else {
            None
        };
        let _ = std::fs::remove_file(&path);
        let relay = tokio::task::spawn_blocking(move || relay_cpu(bytes))
            .await
            .ok()
            .flatten();
        Self {
            sha256_s_per_gib: (sha / gib(bytes)).max(1e-6),
            openssl_s_per_gib: openssl.map(|s| s / gib(bytes)),
            curl: curl.map(|(cpu, wall)| (cpu / gib(bytes), bytes as f64 / 1e6 / wall)),
            relay_s_per_gib: relay.map(|s| s / gib(bytes)),
        }
    }

    /// The JSON of the floors.
    pub fn json(&self) -> Value {
        json!({
            "sha256_s_per_gib": self.sha256_s_per_gib,
            "openssl_sha256_s_per_gib": self.openssl_s_per_gib,
            "curl_discard_cpu_s_per_gib": self.curl.map(|c| c.0),
            "curl_discard_mb_s": self.curl.map(|c| c.1),
            "relay_s_per_gib": self.relay_s_per_gib,
        })
    }
}

/// Relays `bytes` over loopback: a sender thread writes them to one socket, the relay thread
/// reads them (64 KiB at a time) and writes them to another, which a sink thread drains. Returns
/// the relay thread's CPU seconds, once the sink has seen every byte.
fn relay_cpu(bytes: u64) -> Option<f64> {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let inbound = TcpListener::bind("127.0.0.1:0").ok()?;
    let outbound = TcpListener::bind("127.0.0.1:0").ok()?;
    let (in_addr, out_addr) = (inbound.local_addr().ok()?, outbound.local_addr().ok()?);
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut socket = TcpStream::connect(in_addr)?;
        let block = vec![0x5au8; BLOCK];
        let mut left = bytes;
        while left > 0 {
            let n = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            socket.write_all(&block[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut socket, _) = outbound.accept()?;
        let mut buf = vec![0u8; BLOCK];
        let mut seen = 0u64;
        loop {
            match socket.read(&mut buf)? {
                0 => return Ok(seen),
                n => seen += n as u64,
            }
        }
    });
    let relay = std::thread::spawn(move || -> std::io::Result<f64> {
        let (from, _) = inbound.accept()?;
        let to = TcpStream::connect(out_addr)?;
        let before = thread_cpu();
        crate::relay::pass(from, to, 64 * 1024)?;
        Ok(thread_cpu() - before)
    });
    let cpu = relay.join().ok()?.ok()?;
    sender.join().ok()?.ok()?;
    let seen = sink.join().ok()?.ok()?;
    (seen == bytes).then_some(cpu)
}

/// Runs `program args`, and returns its CPU seconds (read from its zombie before reaping it).
pub fn child_cpu(command: &mut Command) -> Option<(f64, std::process::ExitStatus)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    let mut cpu = 0.0;
    while let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].chars().next())
            .unwrap_or('?');
        cpu = cpu_seconds(pid).max(cpu);
        if state == 'Z' {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait().ok()?;
    Some((cpu, status))
}

fn openssl_cpu(path: &Path) -> Option<f64> {
    let (cpu, status) = child_cpu(Command::new("openssl").args(["dgst", "-sha256"]).arg(path))?;
    status.success().then_some(cpu)
}

/// `curl -T file` into a local sink that reads and drops every byte: (curl CPU s, wall s).
async fn curl_discard(path: &Path) -> Option<(f64, f64)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    let addr = listener.local_addr().ok()?;
    let sink = tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 256 * 1024];
            let mut head = Vec::new();
            // Read the request head, then everything to the end of the announced body.
            let mut body_left: Option<u64> = None;
            let mut seen = 0u64;
            while let Ok(n) = socket.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                match body_left {
                    None => {
                        head.extend_from_slice(&buf[..n]);
                        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                            let len = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0u64);
                            seen = (head.len() - end - 4) as u64;
                            body_left = Some(len);
                            head.clear();
                        }
                    }
                    Some(_) => seen += n as u64,
                }
                if body_left.is_some_and(|len| seen >= len) {
                    break;
                }
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let path = path.to_owned();
    let url = format!("http://{addr}/discard");
    let ran = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut command = Command::new("curl");
        command
            .args(["-s", "-o", "/dev/null", "-H", "Expect:", "-T"])
            .arg(&path)
            .arg(&url);
        child_cpu(&mut command).map(|(cpu, status)| (cpu, started.elapsed(), status))
    })
    .await
    .ok()
    .flatten();
    sink.abort();
    let (cpu, wall, status) = ran?;
    status
        .success()
        .then_some((cpu, wall.as_secs_f64().max(1e-6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_share_is_the_capacity_not_spent_idle() {
        let wall = Duration::from_secs(2);
        // Two cores for 2 s is 4 core-seconds; 1 s idle leaves 75 % busy.
        assert!((busy_share(10.0, 11.0, wall, 2) - 0.75).abs() < 1e-9);
        assert_eq!(busy_share(10.0, 10.0, wall, 2), 1.0);
        // Tick rounding can report more idle than the wall allows: never below zero.
        assert_eq!(busy_share(10.0, 14.5, wall, 2), 0.0);
        assert_eq!(busy_share(0.0, 0.0, Duration::ZERO, 2), 0.0);
    }

    #[test]
    fn the_machine_reports_idle_time() {
        let (first, cpus) = machine_idle().expect("/proc/stat has a cpu line");
        assert!(first >= 0.0);
        assert!(cpus >= cores(), "{cpus} CPU lines, {} usable", cores());
        std::thread::sleep(Duration::from_millis(50));
        assert!(machine_idle().expect("cpu line").0 >= first);
    }
}
