//! The upload domain, free of any HTTP framework type (DESIGN §2): it takes byte streams and
//! names, and answers with parts, digests and verdicts, so it can be tested and benchmarked alone.
//!
//! Data flow of one file: [`names`] cleans the name the browser sent → [`rules`] decides from the
//! name and the first bytes whether the type is allowed, before anything goes upstream →
//! [`chunker`] cuts the stream into fixed-size parts over a bounded channel, hashing each part and
//! the whole, holding a [`budget`] permit per part so memory stays bounded across all uploads →
//! [`pipeline`] hands the parts to `fastio::Client`. The JS path ([`chunked`]) is stateless on the
//! gateway: the browser holds a [`token`] that binds its Fast.io session to one file and folder,
//! and [`chunk_plan`] decides from it alone how long each chunk must be and checks it on the way.
//! Both paths end in [`stored`]: wait until Fast.io has stored the file, then verify the stored
//! node against what was sent; both fail with the one [`error::FileError`].

pub mod batch;
pub mod budget;
pub mod chunk_plan;
pub mod chunked;
pub mod chunker;
pub mod digest;
pub mod error;
pub mod names;
pub mod one_call;
pub mod orphans;
pub mod pipeline;
pub mod registry;
pub mod rules;
mod session;
pub mod stored;
pub mod token;
