//! Small documents made in the test, for AI indexing and chat: a minimal valid PDF (one line
//! of Helvetica text per entry, a page per slice), and the text of each page as a reader
//! should find it. Reusable by the emulator tests and the gateway tests.

/// Escapes a PDF literal string.
fn pdf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('(');
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

/// A PDF with one page per element of `pages`, each line of a page drawn on its own line
/// (ASCII text; other characters become `?`). Objects: catalog, pages, font, then a page and
/// its content stream per page; the cross-reference table has the real byte offsets.
pub fn pdf(pages: &[&[&str]]) -> Vec<u8> {
    let n = pages.len();
    let font = 3;
    let page_obj = |i: usize| 4 + 2 * i;
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", page_obj(i))).collect();
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    ];
    for (i, lines) in pages.iter().enumerate() {
        let mut content = String::from("BT /F1 12 Tf 16 TL 72 720 Td\n");
        for line in lines.iter() {
            content.push_str(&format!("{} Tj T*\n", pdf_string(line)));
        }
        content.push_str("ET\n");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /Font << /F1 {font} 0 R >> >> /Contents {} 0 R >>",
            page_obj(i) + 1
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// The text of one page as written: its lines joined by single spaces.
pub fn page_text(lines: &[&str]) -> String {
    squash(&lines.join(" "))
}

/// Collapses runs of whitespace to one space.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A three-page report; page 2 holds the geothermal wells.
pub const REPORT_PAGES: [&[&str]; 3] = [
    &[
        "Quarterly report of the Northwind cooperative.",
        "This report covers the first quarter of the year.",
    ],
    &[
        "The new greenhouse in Lisbon was completed in April.",
        "Its heating system uses geothermal wells drilled to 180 metres.",
    ],
    &[
        "Staff training continues next year.",
        "Questions go to the secretary of the board.",
    ],
];

/// Sales notes in Markdown: February and March under their own headings.
pub const NOTES_MD: &str = "# Sales notes\n\n## February\n\nRevenue in February was 41,000 euros, \
mostly from seed sales.\n\n## March\n\nRevenue in March was 57,500 euros after the spring fair.\n";

/// Suppliers as CSV; row 2 delivers irrigation pipes.
pub const SUPPLIERS_CSV: &str = "supplier,city,product,delivery day\n\
Alder & Sons,Porto,compost,Monday\n\
Birchwood Ltd,Braga,irrigation pipes,Thursday\n\
Cedar Farms,Faro,tomato seedlings,Tuesday\n";
