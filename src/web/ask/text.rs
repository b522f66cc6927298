//! Display pieces of an answer, pure so they are tested alone: the answer text split at its
//! `[n]` citation markers, and a snippet split so the question's words can be marked. The
//! templates render each piece escaped; no HTML is built here.

use std::collections::BTreeSet;

/// A piece of an answer: plain text, or the marker of citation `n` (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerPiece {
    /// Text as written.
    Text(String),
    /// `[n]`.
    Cite(usize),
}

/// A piece of a snippet; `marked` when it is one of the question's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnippetPiece {
    /// The text.
    pub text: String,
    /// Whether to show it marked.
    pub marked: bool,
}

/// Words too common to mark.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had",
    "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "our", "that", "the", "their",
    "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "with",
    "you", "your", "about", "tell", "me", "many", "much",
];

/// Splits `answer` at `[n]` markers with `1 ≤ n ≤ citations`; other brackets stay text.
pub fn answer_pieces(answer: &str, citations: usize) -> Vec<AnswerPiece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let (before, from) = rest.split_at(open);
        text.push_str(before);
        let number = from[1..]
            .find(']')
            .map(|close| &from[1..1 + close])
            .filter(|inner| !inner.is_empty() && inner.len() <= 3)
            .and_then(|inner| inner.parse::<usize>().ok())
            .filter(|n| (1..=citations).contains(n));
        match number {
            Some(n) => {
                if !text.is_empty() {
                    pieces.push(AnswerPiece::Text(std::mem::take(&mut text)));
                }
                pieces.push(AnswerPiece::Cite(n));
                rest = &from[n.to_string().len() + 2..];
            }
            None => {
                text.push('[');
                rest = &from[1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(AnswerPiece::Text(text));
    }
    pieces
}

/// The words of `question` worth marking: lower-cased, at least 2 characters, no stop words.
pub fn question_words(question: &str) -> BTreeSet<String> {
    question
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 2 && !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Splits `snippet` into runs, marking whole words found in `words` (case-insensitively).
pub fn snippet_pieces(snippet: &str, words: &BTreeSet<String>) -> Vec<SnippetPiece> {
    let mut pieces: Vec<SnippetPiece> = Vec::new();
    let mut push = |text: &str, marked: bool| match pieces.last_mut() {
        Some(last) if last.marked == marked && !marked => last.text.push_str(text),
        _ => pieces.push(SnippetPiece {
            text: text.to_owned(),
            marked,
        }),
    };
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in snippet.char_indices() {
        let word_char = c.is_alphanumeric();
        if word_char != in_word {
            if i > start {
                let run = &snippet[start..i];
                push(run, in_word && words.contains(&run.to_lowercase()));
            }
            start = i;
            in_word = word_char;
        }
    }
    if start < snippet.len() {
        let run = &snippet[start..];
        push(run, in_word && words.contains(&run.to_lowercase()));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citation_markers_are_split_out_and_other_brackets_stay_text() {
        let pieces = answer_pieces("Revenue was 4.2M [1], costs [2][9] and [x].", 2);
        assert_eq!(
            pieces,
            vec![
                AnswerPiece::Text("Revenue was 4.2M ".into()),
                AnswerPiece::Cite(1),
                AnswerPiece::Text(", costs ".into()),
                AnswerPiece::Cite(2),
                AnswerPiece::Text("[9] and [x].".into()),
            ]
        );
        assert_eq!(
            answer_pieces("no markers", 0),
            vec![AnswerPiece::Text("no markers".into())]
        );
        assert_eq!(answer_pieces("[", 1), vec![AnswerPiece::Text("[".into())]);
    }

    #[test]
    fn question_words_leave_out_short_and_common_words() {
        let words = question_words("What was the Q3 revenue in Berlin?");
        assert_eq!(
            words.into_iter().collect::<Vec<_>>(),
            ["berlin", "q3", "revenue"]
        );
    }

    #[test]
    fn snippets_mark_whole_words_only_and_keep_every_character() {
        let words = question_words("revenue Berlin");
        let pieces = snippet_pieces("Revenue in BERLIN <b>grew</b>; revenues fell.", &words);
        let marked: Vec<&str> = pieces
            .iter()
            .filter(|p| p.marked)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, ["Revenue", "BERLIN"]);
        let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, "Revenue in BERLIN <b>grew</b>; revenues fell.");
    }
}
