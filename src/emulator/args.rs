//! The `fastgate emulator` command-line options and their translation into an
//! [`EmulatorConfig`] (§11: every *(cfg)* knob is reachable from here).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::config::{EmulatorConfig, SearchShape, SearchStyle};
use super::transport::envelope::EnvelopeStyle;
use super::transport::error::EmulatorError;
use super::transport::faults::RateLimit;
use super::transport::ids;
use super::transport::ratelimit::{ExpiresFormat, HeaderStyle};

/// Options of `fastgate emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Directory for SQLite and blob files.
    #[arg(long, default_value = "./data/emulator")]
    pub data_dir: PathBuf,
    /// API key to accept; if absent one is generated and printed once to stdout.
    #[arg(long, env = "FASTGATE_EMULATOR_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0–1) of a random 502/503/504.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Rate limit as N/SECS per key and endpoint family, e.g. `120/60`.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// Make every assembly fail (`assembly_failed`).
    #[arg(long)]
    pub fail_assembly: bool,
    /// Make every storage import fail (`store_failed`).
    #[arg(long)]
    pub fail_store: bool,
    /// Largest chunk accepted, in bytes (`chunk_size` of `/upload/limits/`).
    #[arg(long)]
    pub chunk_size: Option<u64>,
    /// Largest file, in bytes.
    #[arg(long)]
    pub max_file_size: Option<u64>,
    /// Most chunks per session.
    #[arg(long)]
    pub max_chunks: Option<u64>,
    /// Chunk requests allowed in flight per session.
    #[arg(long)]
    pub parallel_chunks: Option<usize>,
    /// Delay of each asynchronous upload step, `MS` or `MIN-MAX` (default 20-200).
    #[arg(long)]
    pub step_delay_ms: Option<String>,
    /// Answer with the legacy envelope (`"yes"`/`"no"`, `response:{}`, string codes, `message`).
    #[arg(long)]
    pub legacy_envelope: bool,
    /// Send the legacy `X-Rate-Limit-*` header names.
    #[arg(long)]
    pub legacy_rate_headers: bool,
    /// Format of the rate-limit `expires` header.
    #[arg(long, value_enum, default_value_t = ExpiresFormat::Epoch)]
    pub expires_format: ExpiresFormat,
    /// Lifetime of download tokens, in seconds.
    #[arg(long, default_value_t = 7200)]
    pub download_token_ttl: u64,
    /// Origin used in share links (`web_url`), e.g. `http://localhost:8787`.
    #[arg(long)]
    pub public_base: Option<String>,
    /// Make `read/` answer 302 to a second origin (clients must not forward Authorization).
    #[arg(long)]
    pub redirect_reads: bool,
    /// Answer 500 after a single-call or stream upload was already stored (no-replay check).
    #[arg(long)]
    pub fail_after_store: bool,
    /// Probability (0–1) that a single-call upload answers without `new_file_id`.
    #[arg(long, default_value_t = 0.0)]
    pub defer_new_file_id_rate: f64,
    /// Drop the connection (no answer) once more than BYTES of a chunk or stream body arrived.
    #[arg(long, value_name = "BYTES")]
    pub reset_body_after: Option<u64>,
    /// Delay before response headers are sent, after the request was handled, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub slow_first_byte_ms: u64,
    /// Workspace ids that answer 401/10545 (not a member); repeatable.
    #[arg(long = "not-member")]
    pub not_member: Vec<String>,
    /// Delay before a stored file's previews start generating, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub preview_delay_ms: u64,
    /// Answer rename, move, copy, restore and restore-version with a bare `{"result":true}`.
    #[arg(long)]
    pub bare_storage_answers: bool,
    /// Which search answer shape to send (§6.6): by request, always `files`, always `results`.
    #[arg(long, value_enum, default_value_t = SearchShape::ByRequest)]
    pub search_shape: SearchShape,
    /// Leave `pagination` out of search answers.
    #[arg(long)]
    pub search_without_pagination: bool,
    /// How long a stored file stays AI `pending` before indexing starts, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub ai_index_delay_ms: u64,
    /// Pause before each AI message step, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub ai_answer_delay_ms: u64,
    /// Most messages in one AI chat (a follow-up beyond it answers 409/168116).
    #[arg(long, default_value_t = 100)]
    pub ai_max_messages: usize,
    /// AI chat answers 402/1688 (credits exhausted).
    #[arg(long)]
    pub ai_credits_exhausted: bool,
    /// Workspace ids whose intelligence is off (scoped chat answers 400/1605); repeatable.
    #[arg(long = "intelligence-off")]
    pub intelligence_off: Vec<String>,
}

fn bad(msg: impl Into<String>) -> EmulatorError {
    EmulatorError::Config(msg.into())
}

impl EmulatorArgs {
    /// Whether no `--key` was given, so [`Self::into_config`] generates one (which the caller
    /// then shows: its clients need it).
    pub fn generates_key(&self) -> bool {
        self.key.as_ref().is_none_or(|k| k.trim().is_empty())
    }

    /// Validates the options; without `--key`, a random key is generated
    /// (`config.api_key`, see [`Self::generates_key`]).
    pub fn into_config(self) -> Result<(SocketAddr, EmulatorConfig), EmulatorError> {
        let key = match self.key.filter(|k| !k.trim().is_empty()) {
            Some(k) => k,
            None => format!("emu_{}", ids::token()),
        };
        let mut c = EmulatorConfig::new(self.data_dir, key);
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(bad("--error-rate must be between 0 and 1"));
        }
        c.faults.latency_ms = self.latency_ms;
        c.faults.error_rate = self.error_rate;
        c.faults.fail_assembly = self.fail_assembly;
        c.faults.fail_store = self.fail_store;
        c.faults.not_member_workspaces = self.not_member;
        c.faults.redirect_reads = self.redirect_reads;
        c.faults.fail_after_store = self.fail_after_store;
        c.faults.reset_body_after = self.reset_body_after;
        c.faults.slow_first_byte_ms = self.slow_first_byte_ms;
        c.faults.ai_credits_exhausted = self.ai_credits_exhausted;
        c.faults.intelligence_off_workspaces = self.intelligence_off;
        c.ai.index_delay = Duration::from_millis(self.ai_index_delay_ms);
        c.ai.answer_delay = Duration::from_millis(self.ai_answer_delay_ms);
        if self.ai_max_messages == 0 {
            return Err(bad("--ai-max-messages must be at least 1"));
        }
        c.ai.max_messages = self.ai_max_messages;
        if !(0.0..=1.0).contains(&self.defer_new_file_id_rate) {
            return Err(bad("--defer-new-file-id-rate must be between 0 and 1"));
        }
        c.faults.defer_new_file_id_rate = self.defer_new_file_id_rate;
        if let Some(rl) = self.rate_limit {
            let (n, secs) = rl
                .split_once('/')
                .ok_or_else(|| bad("--rate-limit must look like N/SECS"))?;
            let max = n.trim().parse().map_err(|_| bad("--rate-limit: bad N"))?;
            let secs: u64 = secs
                .trim()
                .parse()
                .map_err(|_| bad("--rate-limit: bad SECS"))?;
            if secs == 0 {
                return Err(bad("--rate-limit: SECS must be positive"));
            }
            c.faults.rate_limit = RateLimit {
                max,
                window: Duration::from_secs(secs),
            };
        }
        if let Some(v) = self.chunk_size {
            c.limits.chunk_size = v;
        }
        if let Some(v) = self.max_file_size {
            c.limits.max_file_size = v;
        }
        if let Some(v) = self.max_chunks {
            c.limits.max_chunks = v;
        }
        if let Some(v) = self.parallel_chunks {
            if v == 0 {
                return Err(bad("--parallel-chunks must be at least 1"));
            }
            c.limits.parallel_chunks = v;
        }
        if let Some(d) = self.step_delay_ms {
            let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| bad("--step-delay-ms"));
            let (lo, hi) = match d.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => (parse(&d)?, parse(&d)?),
            };
            if hi < lo {
                return Err(bad("--step-delay-ms: MIN must not exceed MAX"));
            }
            c.step_delay = (Duration::from_millis(lo), Duration::from_millis(hi));
        }
        if self.legacy_envelope {
            c.envelope = EnvelopeStyle::legacy();
        }
        c.headers = HeaderStyle {
            legacy_names: self.legacy_rate_headers,
            expires: self.expires_format,
        };
        c.download_token_ttl = Duration::from_secs(self.download_token_ttl);
        c.public_base = self.public_base;
        c.preview_delay = Duration::from_millis(self.preview_delay_ms);
        c.bare_storage_answers = self.bare_storage_answers;
        c.search = SearchStyle {
            shape: self.search_shape,
            drop_pagination: self.search_without_pagination,
        };
        Ok((self.bind, c))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> Result<(SocketAddr, EmulatorConfig), EmulatorError> {
        let cli = Cli::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied()))
            .map_err(|e| EmulatorError::Config(e.to_string()))?;
        cli.args.into_config()
    }

    #[test]
    fn options_become_a_config() -> Result<(), EmulatorError> {
        let (addr, c) = parse(&[
            "--key",
            "k",
            "--rate-limit",
            "5/10",
            "--step-delay-ms",
            "1-3",
            "--expires-format",
            "datetime",
            "--legacy-envelope",
            "--chunk-size",
            "2097152",
            "--reset-body-after",
            "65536",
            "--slow-first-byte-ms",
            "250",
        ])?;
        assert_eq!(addr.to_string(), "127.0.0.1:8787");
        assert_eq!(c.api_key, "k");
        assert_eq!(c.faults.rate_limit.max, 5);
        assert_eq!(c.faults.rate_limit.window, Duration::from_secs(10));
        assert_eq!(
            c.step_delay,
            (Duration::from_millis(1), Duration::from_millis(3))
        );
        assert_eq!(c.headers.expires, ExpiresFormat::Datetime);
        assert!(c.envelope.legacy_result);
        assert_eq!(c.limits.chunk_size, 2 * 1024 * 1024);
        assert_eq!(c.faults.reset_body_after, Some(65536));
        assert_eq!(c.faults.slow_first_byte_ms, 250);
        Ok(())
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--key", "k", "--rate-limit", "5"]).is_err());
        assert!(parse(&["--key", "k", "--error-rate", "2"]).is_err());
        assert!(parse(&["--key", "k", "--step-delay-ms", "9-1"]).is_err());
    }
}
