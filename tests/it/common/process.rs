//! Running the real `fastgate` binary in tests: environment set exactly (nothing inherited),
//! output captured line by line, waiting on output instead of sleeping, SIGTERM, exit status.
//! A gateway process also has a Prometheus recorder of its own, which the metrics tests need.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::poll_until;

/// A running `fastgate` process with its stdout and stderr collected.
pub struct Process {
    child: Child,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Process {
    /// Starts `program args…` with exactly `env` (plus `PATH`) in `dir`.
    pub fn spawn(
        program: &str,
        args: &[&str],
        env: &[(String, String)],
        dir: &std::path::Path,
    ) -> Self {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("fastgate starts");
        let lines: Arc<(Mutex<Vec<String>>, Condvar)> = Arc::default();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for pipe in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let (store, ready) = &*lines;
                    store.lock().expect("lines").push(line);
                    ready.notify_all();
                }
            });
        }
        Self { child, lines }
    }

    /// Waits (up to `timeout`) for an output line for which `find` returns something.
    pub fn wait_for<T>(&self, timeout: Duration, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        let (store, ready) = &*self.lines;
        let mut lines = store.lock().expect("lines");
        loop {
            if let Some(found) = lines.iter().find_map(|l| find(l)) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out; output so far:\n{}",
                lines.join("\n")
            );
            lines = ready.wait_timeout(lines, left).expect("lines").0;
        }
    }

    /// Every line printed so far.
    pub fn output(&self) -> Vec<String> {
        self.lines.0.lock().expect("lines").clone()
    }

    /// Sends SIGTERM (through `kill`, as an orchestrator would).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Kills the process with SIGKILL (no graceful shutdown: a crash, an OOM kill, a lost node)
    /// and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id (to read `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/PID/status` in KiB (e.g. `VmHWM`, the peak resident set), if readable.
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Waits for the exit (killing the process after `timeout`).
    pub async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let child = &mut self.child;
        let exited = poll_until(timeout, || {
            let status = child.try_wait().expect("try_wait");
            async move { status.ok_or(()) }
        })
        .await;
        exited.unwrap_or_else(|()| {
            let _ = self.child.kill();
            panic!(
                "did not exit in time; output:\n{}",
                self.output().join("\n")
            )
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `fastgate args…` to completion with exactly `env`; returns status and all output.
pub fn run(args: &[&str], env: &[(String, String)], dir: &std::path::Path) -> (ExitStatus, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_fastgate"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("fastgate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

/// Extracts `addr=…`/`"addr":"…"` from the gateway's "fastgate listening" log line.
pub fn listening_addr(line: &str) -> Option<String> {
    if !line.contains("fastgate listening") {
        return None;
    }
    let rest = line
        .split_once("\"addr\":\"")
        .or_else(|| line.split_once("addr="))?
        .1;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// Starts `fastgate serve` on port 0 with exactly `env` (plus `FASTGATE_BIND`) in `dir`, and
/// returns it with its URL once it logs where it listens.
pub fn serve(env: &[(String, String)], dir: &std::path::Path) -> (Process, String) {
    let mut env = env.to_vec();
    env.push(("FASTGATE_BIND".to_owned(), "127.0.0.1:0".to_owned()));
    let process = Process::spawn(env!("CARGO_BIN_EXE_fastgate"), &["serve"], &env, dir);
    let addr = process.wait_for(Duration::from_secs(20), listening_addr);
    (process, format!("http://{addr}"))
}

/// Starts `fastgate emulator` on `bind` (e.g. `127.0.0.1:0`) with `key`, its data in `data_dir`,
/// quick asynchronous steps and `flags`; returns it with its API base (`…/current`) and seeded
/// workspace id once it prints them.
pub fn emulator(
    bind: &str,
    key: &str,
    data_dir: &std::path::Path,
    flags: &[&str],
) -> (Process, String, String) {
    let data = data_dir.display().to_string();
    let mut args = vec![
        "emulator",
        "--bind",
        bind,
        "--data-dir",
        &data,
        "--key",
        key,
        "--step-delay-ms",
        "5-20",
    ];
    args.extend_from_slice(flags);
    let process = Process::spawn(
        env!("CARGO_BIN_EXE_fastgate"),
        &args,
        &[("RUST_LOG".to_owned(), "warn".to_owned())],
        data_dir.parent().unwrap_or(data_dir),
    );
    let base = process.wait_for(Duration::from_secs(20), |l| {
        l.strip_prefix("Fast.io emulator listening at ")
            .map(str::to_owned)
    });
    let workspace = process.wait_for(Duration::from_secs(20), |l| {
        l.strip_prefix("seeded workspace: ").map(str::to_owned)
    });
    (process, base, workspace)
}
