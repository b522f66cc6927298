//! The passage index (§8 "Retrieval"): one in-memory `tantivy` index per workspace, BM25 over
//! passage bodies, with the node, its version and the passage's page (PDF) or row (CSV) stored
//! beside each body. A leaf: it knows tantivy and nothing of the emulator, so `state.rs` can
//! hold it.
//!
//! The index lives in memory only. A restart rebuilds it from the stored blobs
//! (`indexing.rs` re-reads every `ready` file at start). Scope filtering, trash and deletion are
//! decided by the caller from the live tree at question time (only `ready`, live node ids are
//! passed to [`Library::search`]), so a move or a trash needs no reindex; a new version replaces
//! the node's passages ([`Library::replace`]).
//!
//! Words are analysed the same way at indexing and at question time ([`stems`]): split on
//! non-alphanumerics, lower-cased, English-stemmed ("invoices" finds "invoice").

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

/// The analyzer's name in every index.
const ANALYZER: &str = "en_stem";

/// Writer memory per workspace index (tantivy's minimum).
const WRITER_BYTES: usize = 15_000_000;

/// One passage to index: a few sentences (≤ 600 characters) with where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// 1-based PDF page.
    pub page: Option<u32>,
    /// 1-based CSV data row (the header is row 0 and is not a passage).
    pub row: Option<u32>,
    /// The text, whitespace collapsed.
    pub text: String,
}

/// A passage found by [`Library::search`], best first.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The node it belongs to.
    pub node: String,
    /// The version it was indexed from.
    pub version: String,
    /// Where it came from and what it says.
    pub passage: Passage,
    /// BM25 score.
    pub score: f32,
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The analysed terms of `text` (lower-cased English stems), in order, repeats kept.
pub fn stems(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[derive(Clone, Copy)]
struct Fields {
    node: Field,
    version: Field,
    page: Field,
    row: Field,
    body: Field,
}

struct WsIndex {
    fields: Fields,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    reader: IndexReader,
}

impl WsIndex {
    fn new() -> Result<Self, String> {
        let mut b = Schema::builder();
        let node = b.add_text_field("node", STRING | STORED);
        let version = b.add_text_field("version", STRING | STORED);
        let page = b.add_u64_field("page", STORED | INDEXED);
        let row = b.add_u64_field("row", STORED | INDEXED);
        let body_opts = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let body = b.add_text_field("body", body_opts);
        let index = Index::create_in_ram(b.build());
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = index
            .writer_with_num_threads(1, WRITER_BYTES)
            .map_err(|e| e.to_string())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| e.to_string())?;
        Ok(Self {
            fields: Fields {
                node,
                version,
                page,
                row,
                body,
            },
            writer: Mutex::new(writer),
            reader,
        })
    }
}

/// Every workspace's index, created on first use.
#[derive(Default)]
pub struct Library {
    indexes: Mutex<HashMap<String, Arc<WsIndex>>>,
}

impl Library {
    fn get(&self, ws: &str) -> Result<Arc<WsIndex>, String> {
        let mut map = self.indexes.lock();
        if let Some(i) = map.get(ws) {
            return Ok(i.clone());
        }
        let i = Arc::new(WsIndex::new()?);
        map.insert(ws.to_owned(), i.clone());
        Ok(i)
    }

    /// Replaces every passage of `node` with `passages` of `version` and makes them searchable.
    /// Blocking (a commit): call it on the blocking pool.
    pub fn replace(
        &self,
        ws: &str,
        node: &str,
        version: &str,
        passages: &[Passage],
    ) -> Result<(), String> {
        let i = self.get(ws)?;
        let f = i.fields;
        {
            let mut w = i.writer.lock();
            w.delete_term(Term::from_field_text(f.node, node));
            for p in passages {
                w.add_document(doc!(
                    f.node => node,
                    f.version => version,
                    f.page => u64::from(p.page.unwrap_or(0)),
                    f.row => u64::from(p.row.unwrap_or(0)),
                    f.body => p.text.as_str(),
                ))
                .map_err(|e| e.to_string())?;
            }
            w.commit().map_err(|e| e.to_string())?;
        }
        i.reader.reload().map_err(|e| e.to_string())
    }

    /// Drops every passage of `node` (a failed re-read). Blocking.
    pub fn remove(&self, ws: &str, node: &str) -> Result<(), String> {
        self.replace(ws, node, "", &[])
    }

    /// The best `limit` passages of `nodes` matching any of `terms` (analysed stems), by BM25.
    /// Blocking.
    pub fn search(
        &self,
        ws: &str,
        terms: &[String],
        nodes: &[String],
        limit: usize,
    ) -> Result<Vec<Hit>, String> {
        if terms.is_empty() || nodes.is_empty() {
            return Ok(Vec::new());
        }
        let i = self.get(ws)?;
        let f = i.fields;
        let words: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(f.body, t),
                    IndexRecordOption::WithFreqs,
                ));
                (Occur::Should, q)
            })
            .collect();
        // The scope is a filter: boosted to 0 so only the words score.
        let scope = TermSetQuery::new(nodes.iter().map(|n| Term::from_field_text(f.node, n)));
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::new(words)) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(BoostQuery::new(Box::new(scope), 0.0))),
        ]);
        let searcher = i.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit))
            .map_err(|e| e.to_string())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(|e| e.to_string())?;
            let text = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let num = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_u64())
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n > 0)
            };
            hits.push(Hit {
                node: text(f.node),
                version: text(f.version),
                passage: Passage {
                    page: num(f.page),
                    row: num(f.row),
                    text: text(f.body),
                },
                score,
            });
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Passage {
        Passage {
            page: None,
            row: None,
            text: text.into(),
        }
    }

    #[test]
    fn search_finds_stemmed_words_only_in_the_given_nodes_and_replace_drops_old_passages()
    -> Result<(), String> {
        let lib = Library::default();
        lib.replace("w", "a", "v1", &[p("The invoices were paid in March.")])?;
        lib.replace("w", "b", "v1", &[p("An invoice from February.")])?;
        let terms = stems("invoice");
        let hits = lib.search("w", &terms, &["a".into()], 10)?;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].node, "a");
        assert!(hits[0].score > 0.0);
        lib.replace("w", "a", "v2", &[p("Nothing about payments.")])?;
        assert!(lib.search("w", &terms, &["a".into()], 10)?.is_empty());
        assert_eq!(
            lib.search("w", &terms, &["a".into(), "b".into()], 10)?
                .len(),
            1
        );
        Ok(())
    }
}
