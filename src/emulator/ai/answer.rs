//! The answer engine (§8): honest, extractive, offline. It never writes a sentence of its own
//! about the files; it quotes them.
//!
//! 1. **Content terms.** The question's words minus a stop-word list (English function words
//!    plus words that only point at the files: "tell", "about", "files", "summarize", …),
//!    stemmed like the index. None left → `needs_input` with a clarifying question. A short
//!    follow-up ("and in March?") borrows the previous question's terms ([`Terms::follow_up`]).
//! 2. **Retrieval.** BM25 over the `ready` passages of the files in scope.
//! 3. **Honesty gate.** The best passage must score at least `min_score` *and* contain enough
//!    of the question's own terms (all of one or two, `min_coverage` of more; at least half of
//!    the borrowed ones). Otherwise: `Not found in the N files in scope (M still indexing).`
//! 4. **Quote.** From each passing passage (at most three, all as good as the best), the
//!    sentence covering most terms is quoted verbatim with an `[n]` marker; citation `n` is that
//!    passage (`snippet`) with its node, version and page (PDF) or row (CSV).
//!
//! Attachments (`subjects`) are read whole, scored the same way without BM25, and answered with
//! the file named beside each quote and no citations (as the real service does, §8).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::extract;
use super::index::{Hit, Passage, stems};

/// Words that carry no content of their own in a question about files.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "doc",
    "docs",
    "document",
    "documents",
    "down",
    "during",
    "each",
    "else",
    "every",
    "everything",
    "explain",
    "few",
    "file",
    "files",
    "find",
    "for",
    "from",
    "further",
    "give",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "info",
    "information",
    "into",
    "is",
    "it",
    "its",
    "just",
    "know",
    "let",
    "list",
    "look",
    "me",
    "mention",
    "mentioned",
    "mentions",
    "more",
    "most",
    "my",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "please",
    "same",
    "say",
    "says",
    "said",
    "see",
    "shall",
    "she",
    "should",
    "show",
    "so",
    "some",
    "something",
    "stuff",
    "such",
    "summarise",
    "summarize",
    "summary",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "describe",
    "content",
    "contents",
    "contain",
    "contains",
    "written",
    "write",
    "folder",
    "folders",
    "ok",
    "okay",
    "hi",
    "hello",
    "thanks",
    "s",
    "t",
    "d",
    "ll",
    "re",
    "ve",
    "m",
];

/// Words that open a follow-up ("and in March?", "what about March?").
const FOLLOW_UP_OPENERS: &[&str] = &["and", "or", "also", "but", "what about", "how about"];

/// The lower-cased words of `text`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The question's content terms: stems of its non-stop words, first occurrence order.
pub fn content_terms(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(question) {
        if STOP_WORDS.contains(&w.as_str()) {
            continue;
        }
        for s in stems(&w) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// What one question looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    /// The question's own content terms (the gate counts these).
    pub own: Vec<String>,
    /// Terms borrowed from the previous question of the chat (a follow-up).
    pub borrowed: Vec<String>,
}

impl Terms {
    /// The terms of `question`, borrowing `previous` (the chat's last question's terms) when
    /// the question is a short follow-up: at most three content terms, and either opening with
    /// "and", "or", "also", "but", "what/how about" or at most five words long.
    pub fn follow_up(question: &str, previous: &[String]) -> Self {
        let own = content_terms(question);
        let ws = words(question);
        let lower = ws.join(" ");
        let opens = FOLLOW_UP_OPENERS
            .iter()
            .any(|o| lower == *o || lower.starts_with(&format!("{o} ")));
        let short = !own.is_empty() && own.len() <= 3 && (opens || ws.len() <= 5);
        let borrowed = if short {
            previous
                .iter()
                .filter(|t| !own.contains(t))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Self { own, borrowed }
    }

    /// Every term, own first.
    pub fn all(&self) -> Vec<String> {
        self.own.iter().chain(&self.borrowed).cloned().collect()
    }
}

/// How many of `n` terms a passage must contain.
fn need(n: usize, share: f32) -> usize {
    if n <= 2 {
        n
    } else {
        ((n as f32 * share).ceil() as usize).clamp(1, n)
    }
}

/// How well one passage covers the terms: (own, borrowed) counts.
fn coverage(terms: &Terms, text: &str) -> (usize, usize) {
    let have: HashSet<String> = stems(text).into_iter().collect();
    let own = terms.own.iter().filter(|t| have.contains(*t)).count();
    let borrowed = terms.borrowed.iter().filter(|t| have.contains(*t)).count();
    (own, borrowed)
}

fn passes(terms: &Terms, cov: (usize, usize), share: f32) -> bool {
    cov.0 >= need(terms.own.len(), share)
        && (terms.borrowed.is_empty() || cov.1 >= terms.borrowed.len().div_ceil(2))
}

/// The sentence of `passage` covering most terms (the first of equals), verbatim.
pub fn best_sentence(terms: &Terms, passage: &str) -> String {
    let mut best: Option<(usize, String)> = None;
    for s in extract::sentences(passage) {
        let (a, b) = coverage(terms, &s);
        if best.as_ref().is_none_or(|(n, _)| a + b > *n) {
            best = Some((a + b, s));
        }
    }
    best.map(|(_, s)| s).unwrap_or_else(|| passage.to_owned())
}

/// A finished answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `complete` or `needs_input`.
    pub state: &'static str,
    /// `response.text`.
    pub text: String,
    /// `response.citations`.
    pub citations: Vec<Value>,
    /// `clarification` on `needs_input`.
    pub clarification: Option<Value>,
    /// The terms a later follow-up may borrow.
    pub terms: Vec<String>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `needs_input`: the question names nothing to look for.
pub fn clarify(files: usize, attached: bool) -> Outcome {
    let where_ = if attached {
        format!("the {} attached", plural(files, "file", "files"))
    } else {
        format!("the {} in scope", plural(files, "file", "files"))
    };
    let q =
        format!("What should I look for in {where_}? Name a topic, a name, a figure or a date.");
    Outcome {
        state: "needs_input",
        text: q.clone(),
        citations: Vec::new(),
        clarification: Some(json!({"type": "question", "question": q})),
        terms: Vec::new(),
    }
}

/// The answer over the workspace index: `hits` are BM25 results restricted to the `ready`
/// files in scope; `files` is how many files the scope holds and `indexing` how many of them
/// are still `pending` or `in_progress`.
pub fn from_index(
    terms: &Terms,
    hits: &[Hit],
    files: usize,
    indexing: usize,
    min_score: f32,
    share: f32,
) -> Outcome {
    let mut passing: Vec<(&Hit, (usize, usize))> = hits
        .iter()
        .map(|h| (h, coverage(terms, &h.passage.text)))
        .filter(|(_, cov)| passes(terms, *cov, share))
        .collect();
    passing.sort_by(|a, b| {
        (b.1.0, b.1.1)
            .cmp(&(a.1.0, a.1.1))
            .then(b.0.score.total_cmp(&a.0.score))
    });
    let best = passing.first().map(|(h, cov)| (h.score, *cov));
    let Some((top, best_cov)) = best.filter(|(score, _)| *score >= min_score) else {
        return Outcome {
            state: "complete",
            text: format!(
                "Not found in the {} in scope ({} still indexing).",
                plural(files, "file", "files"),
                indexing
            ),
            citations: Vec::new(),
            clarification: None,
            terms: terms.all(),
        };
    };
    let _ = top;
    let mut quotes: Vec<String> = Vec::new();
    let mut citations = Vec::new();
    for (h, cov) in passing.iter().filter(|(_, c)| *c == best_cov).take(3) {
        let _ = cov;
        let quote = best_sentence(terms, &h.passage.text);
        if quotes.contains(&quote) {
            continue;
        }
        quotes.push(quote);
        citations.push(json!({
            "nodeId": h.node, "versionId": h.version,
            "entries": [entry(&h.passage)],
        }));
    }
    let mut text = String::from("Quoted verbatim from the files in scope:\n");
    for (i, q) in quotes.iter().enumerate() {
        text.push_str(&format!("\n\"{q}\" [{}]", i + 1));
    }
    Outcome {
        state: "complete",
        text,
        citations,
        clarification: None,
        terms: terms.all(),
    }
}

/// A citation entry (§8 "Citations"): `page` (PDF, else null), `snippet` (the whole passage),
/// `timestamp` (null: no media is read), and `row` for CSV (an emulator addition).
fn entry(p: &Passage) -> Value {
    let mut e = json!({"page": p.page, "snippet": p.text, "timestamp": null});
    if let Some(row) = p.row {
        e["row"] = json!(row);
    }
    e
}

/// One attached file's passages.
pub struct Attached {
    /// The file name (named beside each quote).
    pub name: String,
    /// Its passages.
    pub passages: Vec<Passage>,
}

/// The answer from attachments read whole: quotes name their file (and page or row); no
/// citations.
pub fn from_attachments(terms: &Terms, files: &[Attached], share: f32) -> Outcome {
    let mut passing: Vec<(&Attached, &Passage, (usize, usize), usize)> = Vec::new();
    for f in files {
        for p in &f.passages {
            let cov = coverage(terms, &p.text);
            if passes(terms, cov, share) {
                let all = terms.all();
                let freq = stems(&p.text).iter().filter(|s| all.contains(s)).count();
                passing.push((f, p, cov, freq));
            }
        }
    }
    passing.sort_by(|a, b| (b.2.0, b.2.1, b.3).cmp(&(a.2.0, a.2.1, a.3)));
    let Some(best) = passing.first().map(|p| p.2) else {
        return Outcome {
            state: "complete",
            text: format!(
                "Not found in the {} attached.",
                plural(files.len(), "file", "files")
            ),
            citations: Vec::new(),
            clarification: None,
            terms: terms.all(),
        };
    };
    let mut text = String::from("Quoted verbatim from the attached files:\n");
    let mut seen = Vec::new();
    for (f, p, _, _) in passing.iter().filter(|p| p.2 == best).take(3) {
        let quote = best_sentence(terms, &p.text);
        if seen.contains(&quote) {
            continue;
        }
        let place = match (p.page, p.row) {
            (Some(page), _) => format!("{}, page {page}", f.name),
            (_, Some(row)) => format!("{}, row {row}", f.name),
            _ => f.name.clone(),
        };
        text.push_str(&format!("\n\"{quote}\" ({place})"));
        seen.push(quote);
    }
    Outcome {
        state: "complete",
        text,
        citations: Vec::new(),
        clarification: None,
        terms: terms.all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_the_files_themselves_have_no_content_terms() {
        assert!(content_terms("Tell me about these files").is_empty());
        assert!(content_terms("What's in this folder?").is_empty());
        assert_eq!(content_terms("What was the revenue in February?").len(), 2);
    }

    #[test]
    fn a_short_follow_up_borrows_the_previous_terms_and_a_full_question_does_not() {
        let prev = content_terms("What was the revenue in February?");
        let t = Terms::follow_up("and in March?", &prev);
        assert_eq!(t.own, content_terms("March"));
        assert_eq!(t.borrowed.len(), 2);
        let t = Terms::follow_up("Which supplier delivered the turbine blades late?", &prev);
        assert!(t.borrowed.is_empty());
    }

    #[test]
    fn the_gate_wants_every_term_of_a_two_term_question() {
        let t = Terms::follow_up("revenue February", &[]);
        assert!(!passes(&t, coverage(&t, "Revenue rose in March."), 0.6));
        assert!(passes(
            &t,
            coverage(&t, "In February the revenue rose."),
            0.6
        ));
    }
}
