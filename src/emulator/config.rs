//! What the emulator is told at start: plan limits (§7.1, §7.2) and every *(cfg)* knob of §11.
//!
//! `args.rs` builds an [`EmulatorConfig`] from the `fastgate emulator` flags; tests and the
//! embedded start-up build one with [`EmulatorConfig::new`] and adjust fields.

use std::path::PathBuf;
use std::time::Duration;

use super::transport::envelope::EnvelopeStyle;
use super::transport::faults::Faults;
use super::transport::ratelimit::HeaderStyle;

/// Plan limits reported by `/upload/limits/` and enforced on uploads (§7.1, §7.2).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest chunk accepted (`chunk_size` in `/upload/limits/`).
    pub chunk_size: u64,
    /// Smallest chunk except the final one (1 MiB per §7.1; not reported by the API).
    pub min_chunk_size: u64,
    /// Largest file (`size`).
    pub max_file_size: u64,
    /// Most chunks per session (`chunks`).
    pub max_chunks: u64,
    /// Most open sessions per key (`sessions`).
    pub sessions: u64,
    /// Total declared bytes of open sessions (`sessions_size_max`).
    pub sessions_size_max: u64,
    /// Largest single-call upload (4 MiB, §7.4).
    pub single_call_max: u64,
    /// Chunk requests allowed in flight per session; one more gets 429 (§11).
    pub parallel_chunks: usize,
    /// Most files in one batch (§7.12).
    pub batch_max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Pro/Business-like figures (SK-old "Upload Limits API") so 1 GiB benchmarks fit.
        Self {
            chunk_size: 100 * 1024 * 1024,
            min_chunk_size: 1024 * 1024,
            max_file_size: 50 * 1024 * 1024 * 1024,
            max_chunks: 550,
            sessions: 7500,
            sessions_size_max: 500 * 1024 * 1024 * 1024,
            single_call_max: 4 * 1024 * 1024,
            parallel_chunks: 3,
            batch_max_files: 200,
        }
    }
}

/// Everything the emulator needs to run. Build with [`EmulatorConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where SQLite and blob files live; created if missing.
    pub data_dir: PathBuf,
    /// The one API key accepted as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Plan limits.
    pub limits: Limits,
    /// Initial fault injection settings (changeable at runtime through
    /// [`FaultControls`](super::FaultControls)).
    pub faults: Faults,
    /// Delay range for each asynchronous upload step (§11 "State machine and timings").
    pub step_delay: (Duration, Duration),
    /// Envelope shape switches (legacy `"yes"`/`"no"`, `response` wrapping, string codes).
    pub envelope: EnvelopeStyle,
    /// Rate-limit header names and `expires` format.
    pub headers: HeaderStyle,
    /// Lifetime of `requestread/` tokens (about 2 h upstream).
    pub download_token_ttl: Duration,
    /// Origin used in `web_url` links; defaults to `http://<local addr>`.
    pub public_base: Option<String>,
    /// The "second origin" `read/` redirects to when `Faults::redirect_reads` is on; defaults to
    /// the public base with `127.0.0.1` replaced by `localhost` (same server, other origin).
    pub cdn_base: Option<String>,
    /// Name of the workspace seeded on first start.
    pub seed_workspace_name: String,
    /// Delay before a stored file's previews go `not generated → in progress` (§11 "Previews and
    /// transforms"; the work itself takes what it takes).
    pub preview_delay: Duration,
    /// Drop the payload of update, move, copy, restore and restore-version (§11 "Trash, rename,
    /// move, copy"), to prove that a client re-reads instead of depending on it.
    pub bare_storage_answers: bool,
    /// Search answer switches (§11 "Search").
    pub search: SearchStyle,
    /// The offline answer engine's knobs (§8, `ai/`).
    pub ai: AiConfig,
}

/// Timings and limits of AI indexing and chat (§8; every one is an emulator choice).
#[derive(Debug, Clone)]
pub struct AiConfig {
    /// How long a stored file stays `pending` before indexing starts.
    pub index_delay: Duration,
    /// Pause before each message step (`ready → in_progress → post_processing → done`).
    pub answer_delay: Duration,
    /// Files larger than this are not read: `ai.state` `failed`.
    pub max_file_bytes: u64,
    /// Longest one extraction may take before the file is marked `failed`.
    pub extract_timeout: Duration,
    /// Lowest BM25 score of the best passage for an answer (the first half of the honesty
    /// gate; the second is the share of the question's content terms the passage covers).
    pub min_score: f32,
    /// Share (0–1) of a question's content terms a passage must contain (at least one, and all
    /// of them for one- or two-term questions).
    pub min_coverage: f32,
    /// Most messages in one chat; a follow-up beyond it answers 409/168116.
    pub max_messages: usize,
    /// Most bytes of attachments one question may carry, a stand-in for "the conversation is
    /// too large": beyond it, 409 (153795 on a new chat, 168116 on a follow-up).
    pub max_conversation_bytes: u64,
    /// Most files attached to one question (§8: 20).
    pub max_attachments: usize,
    /// Most bytes attached to one question (§8: 200 MB).
    pub max_attachment_bytes: u64,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            index_delay: Duration::from_millis(200),
            answer_delay: Duration::from_millis(150),
            max_file_bytes: 64 * 1024 * 1024,
            extract_timeout: Duration::from_secs(30),
            min_score: 0.05,
            min_coverage: 0.6,
            max_messages: 100,
            max_conversation_bytes: 100 * 1000 * 1000,
            max_attachments: 20,
            max_attachment_bytes: 200 * 1000 * 1000,
        }
    }
}

/// Which search response shape answers (§6.6 shapes A and B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SearchShape {
    /// Shape A (`files` map) by default, shape B (`results[]`) for `details=true`.
    #[default]
    ByRequest,
    /// Always shape A.
    Files,
    /// Always shape B.
    Results,
}

/// Search answer switches (§11 "Search"). Wrapping in `response:{…}` is the envelope's switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchStyle {
    /// Which shape answers.
    pub shape: SearchShape,
    /// Leave out `pagination`, so clients fall back to "a full page means more".
    pub drop_pagination: bool,
}

impl EmulatorConfig {
    /// A config with the contract's defaults: step delays 20–200 ms, 2 h download tokens.
    pub fn new(data_dir: impl Into<PathBuf>, api_key: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            api_key: api_key.into(),
            limits: Limits::default(),
            faults: Faults::default(),
            step_delay: (Duration::from_millis(20), Duration::from_millis(200)),
            envelope: EnvelopeStyle::default(),
            headers: HeaderStyle::default(),
            download_token_ttl: Duration::from_secs(2 * 3600),
            public_base: None,
            cdn_base: None,
            seed_workspace_name: "General".to_owned(),
            preview_delay: Duration::from_millis(50),
            bare_storage_answers: false,
            search: SearchStyle::default(),
            ai: AiConfig::default(),
        }
    }
}
