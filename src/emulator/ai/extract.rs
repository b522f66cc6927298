//! Text extraction (§8 "Indexing on upload"): a stored file's bytes become passages of a few
//! sentences (at most [`PASSAGE_MAX`] characters) that keep their PDF page or CSV row.
//!
//! PDF per page (`pdf-extract`), DOCX paragraphs and tables (`word/document.xml` read with
//! `zip` + `quick-xml`; a table's first row names the columns of the others, like CSV), Markdown
//! (`pulldown-cmark`; a heading starts a new passage), HTML (`html2text`), plain text and code,
//! CSV one row per passage as `column: value; …`. Everything here is synchronous and bounded:
//! the caller runs it on the blocking pool under a timeout, and a panic inside a parser is
//! caught and becomes an error (`ai.state` `failed`), never a crash.

use std::io::Read;

use super::index::Passage;
use crate::emulator::storage::nodes::DocKind;

/// Longest passage, in characters.
pub const PASSAGE_MAX: usize = 600;
/// Most passages kept per file (the rest is not indexed).
const MAX_PASSAGES: usize = 50_000;
/// Largest `word/document.xml` read from a DOCX (a zip bomb stops here).
const DOCX_XML_MAX: u64 = 64 * 1024 * 1024;

/// A run of text and whether it starts a new section (a heading): the passage builder never
/// joins a section's first block to the one before.
struct Block {
    text: String,
    section: bool,
}

/// The passages of a file of kind `kind`. `Err` carries a short reason (logged; the file ends
/// `failed`).
pub fn passages(kind: DocKind, bytes: &[u8]) -> Result<Vec<Passage>, String> {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
        DocKind::Pdf => pdf(bytes),
        DocKind::Docx => docx(bytes),
        DocKind::Markdown => Ok(group(&markdown(&utf8(bytes)), None)),
        DocKind::Html => html(bytes),
        DocKind::Csv => Ok(csv(&utf8(bytes))),
        DocKind::Text => Ok(group(&plain_blocks(&utf8(bytes)), None)),
    }));
    let mut out = caught.map_err(|_| "the document could not be parsed".to_owned())??;
    out.truncate(MAX_PASSAGES);
    Ok(out)
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Collapses every run of whitespace to one space and trims.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pdf(bytes: &[u8]) -> Result<Vec<Passage>, String> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, text) in pages.iter().enumerate() {
        let page = u32::try_from(i + 1).unwrap_or(u32::MAX);
        out.extend(group(&plain_blocks(text), Some(page)));
    }
    Ok(out)
}

fn html(bytes: &[u8]) -> Result<Vec<Passage>, String> {
    let text = html2text::config::plain_no_decorate()
        .string_from_read(bytes, 10_000)
        .map_err(|e| e.to_string())?;
    Ok(group(&plain_blocks(&text), None))
}

/// Paragraphs of plain text (separated by blank lines).
fn plain_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.trim().is_empty() {
                blocks.push(Block {
                    text: std::mem::take(&mut cur),
                    section: false,
                });
            }
            cur.clear();
        } else {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    if !cur.trim().is_empty() {
        blocks.push(Block {
            text: cur,
            section: false,
        });
    }
    blocks
}

fn markdown(text: &str) -> Vec<Block> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut blocks = Vec::new();
    let mut cur = String::new();
    let mut section = false;
    let flush = |cur: &mut String, section: &mut bool, blocks: &mut Vec<Block>| {
        if !cur.trim().is_empty() {
            blocks.push(Block {
                text: std::mem::take(cur),
                section: *section,
            });
            *section = false;
        }
        cur.clear();
    };
    for ev in Parser::new(text) {
        match ev {
            Event::Start(Tag::Heading { .. }) => {
                flush(&mut cur, &mut section, &mut blocks);
                section = true;
            }
            Event::Text(t) | Event::Code(t) => cur.push_str(&t),
            Event::SoftBreak | Event::HardBreak => cur.push(' '),
            Event::End(TagEnd::Heading(_)) => {
                // A heading reads as a sentence of its own.
                if !cur.trim_end().ends_with(['.', '!', '?', ':']) {
                    cur.push('.');
                }
                cur.push(' ');
            }
            Event::End(TagEnd::TableCell) => cur.push_str("; "),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow)
            | Event::End(TagEnd::TableHead) => flush(&mut cur, &mut section, &mut blocks),
            _ => {}
        }
    }
    flush(&mut cur, &mut section, &mut blocks);
    blocks
}

fn docx(bytes: &[u8]) -> Result<Vec<Passage>, String> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|e| e.to_string())?
        .take(DOCX_XML_MAX)
        .read_to_string(&mut xml)
        .map_err(|e| e.to_string())?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut blocks = Vec::new();
    let (mut para, mut in_text) = (String::new(), false);
    // Tables: cells of the current row, the header row of the current table.
    let (mut table_depth, mut cell, mut row, mut header) = (
        0usize,
        String::new(),
        Vec::<String>::new(),
        None::<Vec<String>>,
    );
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tbl" => {
                    table_depth += 1;
                    header = None;
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" | b"br" => para.push(' '),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let s = t.decode().map_err(|e| e.to_string())?;
                para.push_str(&quick_xml::escape::unescape(&s).map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) if in_text => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let entity = format!("&{name};");
                para.push_str(&quick_xml::escape::unescape(&entity).unwrap_or_default());
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let p = squash(&std::mem::take(&mut para));
                    if table_depth > 0 {
                        if !cell.is_empty() && !p.is_empty() {
                            cell.push(' ');
                        }
                        cell.push_str(&p);
                    } else if !p.is_empty() {
                        blocks.push(Block {
                            text: p,
                            section: false,
                        });
                    }
                }
                b"tc" => row.push(std::mem::take(&mut cell)),
                b"tr" => {
                    let cells = std::mem::take(&mut row);
                    match &header {
                        None => header = Some(cells),
                        Some(h) => blocks.push(Block {
                            text: labelled(h, &cells),
                            section: true,
                        }),
                    }
                }
                b"tbl" => table_depth = table_depth.saturating_sub(1),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(group(&blocks, None))
}

/// `column: value; …` for one row under `header` (unnamed columns are `column N`).
fn labelled(header: &[String], cells: &[String]) -> String {
    let parts: Vec<String> = cells
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(i, v)| {
            let name = header
                .get(i)
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("column {}", i + 1));
            format!("{name}: {}", squash(v))
        })
        .collect();
    parts.join("; ")
}

/// One passage per data row; the first row is the header. Quoted fields (RFC 4180) may hold
/// commas, quotes and line breaks.
fn csv(text: &str) -> Vec<Passage> {
    let rows = csv_rows(text);
    let Some((header, data)) = rows.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, cells) in data.iter().enumerate() {
        let text = labelled(header, cells);
        if text.is_empty() {
            continue;
        }
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        for piece in split_long(&text) {
            out.push(Passage {
                page: None,
                row: Some(row),
                text: piece,
            });
        }
        if out.len() >= MAX_PASSAGES {
            break;
        }
    }
    out
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r: &Vec<String>| r.iter().any(|f| !f.trim().is_empty()));
    rows
}

/// The sentences of `text` (whitespace collapsed): a sentence ends at `.`, `!` or `?` followed
/// by a space.
pub fn sentences(text: &str) -> Vec<String> {
    let text = squash(text);
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ') {
            out.push(text[start..=i].to_owned());
            start = i + 2;
        }
    }
    if start < text.len() {
        out.push(text[start..].to_owned());
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Splits a text over [`PASSAGE_MAX`] characters at word boundaries.
fn split_long(text: &str) -> Vec<String> {
    if text.chars().count() <= PASSAGE_MAX {
        return vec![text.to_owned()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > PASSAGE_MAX {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        // A single word longer than a passage is cut.
        cur.push_str(&word.chars().take(PASSAGE_MAX).collect::<String>());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Groups the sentences of `blocks` into passages of at most [`PASSAGE_MAX`] characters; a
/// section block starts a new passage.
fn group(blocks: &[Block], page: Option<u32>) -> Vec<Passage> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let push = |cur: &mut String, out: &mut Vec<Passage>| {
        if !cur.is_empty() {
            out.push(Passage {
                page,
                row: None,
                text: std::mem::take(cur),
            });
        }
    };
    for b in blocks {
        if b.section {
            push(&mut cur, &mut out);
        }
        for s in sentences(&b.text) {
            for piece in split_long(&s) {
                if !cur.is_empty() && cur.chars().count() + 1 + piece.chars().count() > PASSAGE_MAX
                {
                    push(&mut cur, &mut out);
                }
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(&piece);
            }
        }
    }
    push(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_labelled_passages_with_their_row() -> Result<(), String> {
        let ps = passages(
            DocKind::Csv,
            b"month,revenue,note\nJanuary,100,\"flat, calm\"\nFebruary,250,\"said \"\"up\"\"\"\n",
        )?;
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].text, "month: January; revenue: 100; note: flat, calm");
        assert_eq!(ps[1].row, Some(2));
        assert_eq!(
            ps[1].text,
            "month: February; revenue: 250; note: said \"up\""
        );
        Ok(())
    }

    #[test]
    fn markdown_headings_start_passages_and_long_text_is_cut_at_600() -> Result<(), String> {
        let long = "Word ".repeat(400);
        let md = format!("# Plan\n\nFirst part. Second part.\n\n## Later\n\n{long}\n");
        let ps = passages(DocKind::Markdown, md.as_bytes())?;
        assert_eq!(ps[0].text, "Plan. First part. Second part.");
        assert!(ps[1].text.starts_with("Later."));
        assert!(ps.iter().all(|p| p.text.chars().count() <= PASSAGE_MAX));
        Ok(())
    }

    #[test]
    fn a_broken_pdf_is_an_error_not_a_panic() {
        assert!(passages(DocKind::Pdf, b"%PDF-1.4\n garbage").is_err());
        assert!(passages(DocKind::Docx, b"not a zip").is_err());
    }

    #[test]
    fn html_becomes_text() -> Result<(), String> {
        let ps = passages(
            DocKind::Html,
            b"<html><body><h1>Title</h1><p>The boiler is serviced in May.</p></body></html>",
        )?;
        assert!(
            ps.iter()
                .any(|p| p.text.contains("The boiler is serviced in May."))
        );
        Ok(())
    }
}
