//! Bad input, one table: malformed multipart, hostile file names, invalid UTF-8, lying lengths,
//! transfer-encoding tricks, bad chunk numbers, forged and misused upload tokens, tampered
//! cursors, path traversal in every path parameter, huge queries and header floods, slowloris
//! and a crowd of idle connections. Every row gets its precise status (or, where HTTP says so, a
//! closed connection); after each the server still serves, and at the end the folder holds
//! exactly the files the rows meant to store and no upload session is left open (the
//! [`Gateway`] drop check).
//!
//! The rows go through the real server loop ([`fastgate::server::serve_app`], with its
//! header-read timeout) over the test gateway's own state, emulator and database.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use fastgate::upload::token::{TokenKey, UploadClaims};
use fastgate::web::cursor::{Cursor, CursorKey};
use fastgate::web::routes::table;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Gateway, TestApp, bearer_client, spawn_app};

/// The header-read timeout of the server under test (short, so the slowloris row is quick).
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// What a row sends.
enum Request {
    /// An HTTP request through reqwest (admin token, our Origin, `Accept: application/json`).
    Http {
        method: Method,
        path: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Bytes written to a fresh TCP connection as they are; with `true`, the client then closes
    /// its sending side (a client that stops sending mid-body).
    Raw(Vec<u8>, bool),
}

/// What a row must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// This status.
    Status(u16),
    /// The connection closed without an answer (or with nothing but the close).
    Closed,
    /// This status or a closed connection: for a message the client leaves incomplete, the
    /// server may answer the broken body or drop the connection, whichever it sees first.
    StatusOrClosed(u16),
}

impl Expect {
    fn admits(self, got: Expect) -> bool {
        match self {
            Expect::StatusOrClosed(code) => got == Expect::Closed || got == Expect::Status(code),
            other => other == got,
        }
    }
}

struct Row {
    name: String,
    request: Request,
    expect: Expect,
}

fn http(
    name: impl Into<String>,
    method: Method,
    path: impl Into<String>,
    expect: u16,
) -> RowBuilder {
    RowBuilder(Row {
        name: name.into(),
        request: Request::Http {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        },
        expect: Expect::Status(expect),
    })
}

fn raw(name: impl Into<String>, bytes: impl Into<Vec<u8>>, expect: Expect) -> Row {
    Row {
        name: name.into(),
        request: Request::Raw(bytes.into(), false),
        expect,
    }
}

/// A raw row whose client stops sending after `bytes`.
fn raw_cut(name: impl Into<String>, bytes: impl Into<Vec<u8>>, expect: Expect) -> Row {
    Row {
        name: name.into(),
        request: Request::Raw(bytes.into(), true),
        expect,
    }
}

struct RowBuilder(Row);

impl RowBuilder {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Request::Http { headers, .. } = &mut self.0.request {
            headers.push((name, value.into()));
        }
        self
    }

    fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Request::Http { body, .. } = &mut self.0.request {
            *body = bytes.into();
        }
        self
    }

    fn json(self, value: Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    fn done(self) -> Row {
        self.0
    }
}

/// A multipart body with `boundary` of `parts` (already formatted part texts).
fn multipart(boundary: &str, parts: &[String]) -> Vec<u8> {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("--{boundary}\r\n{part}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

fn file_part(filename: &str, content: &str) -> String {
    format!(
        "Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: text/plain\r\n\r\n{content}"
    )
}

/// A form upload of `body` (multipart with boundary `B`) to the root folder.
fn upload(name: impl Into<String>, ws: &str, body: Vec<u8>, expect: u16) -> Row {
    http(name, Method::POST, format!("/w/{ws}/root?/upload"), expect)
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .done()
}

/// A one-file form upload named `filename`.
fn upload_named(name: &str, ws: &str, filename: &str) -> Row {
    upload(
        format!("file name {name}"),
        ws,
        multipart("B", &[file_part(filename, "bad-input")]),
        200,
    )
}

/// A raw HTTP/1.1 request head to `addr` (with `Connection: close`) and `rest` after it.
fn head(addr: &str, lines: &[&str], rest: &[u8]) -> Vec<u8> {
    let mut out = format!("{}\r\nHost: {addr}\r\nConnection: close\r\n", lines[0]);
    for l in &lines[1..] {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(rest);
    bytes
}

/// Sends `bytes` on a new connection to `addr` and reads the answer's status (or `Closed`).
fn send_raw(addr: &str, bytes: &[u8], half_close: bool) -> Expect {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // A server may answer (and close) before it has read everything; a failed write is fine.
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    status_of(&mut stream)
}

fn status_of(stream: &mut TcpStream) -> Expect {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    match text.strip_prefix("HTTP/1.1 ").and_then(|t| t.get(..3)) {
        Some(code) => Expect::Status(code.parse().expect("status code")),
        None => Expect::Closed,
    }
}

/// An upload ticket of `gw` for a `size`-byte file.
async fn ticket(gw: &Gateway, name: &str, size: u64) -> Value {
    let r = gw
        .send(
            gw.client
                .post(format!("{}/api/uploads", gw.url))
                .json(&json!({
                    "workspace": gw.workspace, "folder": "root", "name": name, "size": size,
                })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

/// The test's own server: the gateway's app through `serve_app`, on a new port.
async fn real_server(gw: &Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = fastgate::web::app(gw.state.clone());
    tokio::spawn(fastgate::server::serve_app(
        listener,
        app,
        HEADER_TIMEOUT,
        std::future::pending(),
    ));
    addr
}

/// Every path parameter of every GET route, filled with a traversal (`{param}` → `..%2F..`).
fn traversal_rows(ws: &str) -> Vec<Row> {
    const EVIL: &str = "..%2F..%2F..%2Fetc%2Fpasswd";
    let mut rows = Vec::new();
    for route in table() {
        if route.method != Method::GET || !route.path.contains('{') {
            continue;
        }
        let params: Vec<&str> = route
            .path
            .split('/')
            .filter(|seg| seg.starts_with('{'))
            .collect();
        for evil in &params {
            let path: String = route
                .path
                .split('/')
                .map(|seg| match seg {
                    s if s == *evil => EVIL.to_owned(),
                    "{workspace}" => ws.to_owned(),
                    "{folder}" => "root".to_owned(),
                    "{file}" => "app.css".to_owned(),
                    other if other.starts_with('{') => "x1".to_owned(),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let expect = traversal_status(route.path, evil);
            rows.push(
                http(
                    format!("traversal in {evil} of GET {}", route.path),
                    Method::GET,
                    path,
                    expect,
                )
                .done(),
            );
        }
    }
    rows
}

/// What a traversal in `param` of `path` answers.
fn traversal_status(path: &str, param: &str) -> u16 {
    match (path, param) {
        // An upload token names its upload: another id is not the token's.
        (p, "{id}") if p.starts_with("/api/uploads/") => 401,
        // Ids of tokens and links are numbers.
        (p, "{id}") if p.starts_with("/api/links/") || p.starts_with("/links/") => 400,
        // Routes that ask Fast.io for a node at once: an id with slashes is refused before.
        ("/api/files/{workspace}/{folder}/versions" | "/api/search/{workspace}", "{workspace}") => {
            400
        }
        // The move picker and delete confirm pages need the nodes they act on (`?node=`): without
        // it they answer 400 before anything is looked up.
        ("/w/{workspace}/{folder}/move" | "/w/{workspace}/{folder}/delete", _) => 400,
        // Anything else names nothing here.
        _ => 404,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_gets_its_precise_answer_and_leaves_nothing_behind() {
    let gw = spawn_app().await;
    let addr = real_server(&gw).await;
    let url = format!("http://{addr}");
    let app =
        TestApp::attach(&url, vec![gw.key.clone()]).with_client(bearer_client(&gw.admin.token));
    let ws = gw.workspace.clone();
    let origin = gw.origin().to_owned();

    // Fixtures: a stored file to rename, an open upload (its chunks and token), a signed cursor.
    let file_ticket = ticket(&gw, "fixture.txt", 7).await;
    let (fid, ftoken) = (s(&file_ticket, "id"), s(&file_ticket, "token"));
    let put = gw
        .send(
            gw.client
                .put(format!("{}/api/uploads/{fid}/chunks/1", gw.url))
                .header("upload-token", &ftoken)
                .body("fixture"),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let done = gw
        .send(
            gw.client
                .post(format!("{}/api/uploads/{fid}/complete", gw.url))
                .header("upload-token", &ftoken),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let node = s(&done.json(), "node_id");
    let open = ticket(&gw, "open.bin", 3 * 1024 * 1024).await;
    let (uid, utoken) = (s(&open, "id"), s(&open, "token"));
    let other = ticket(&gw, "other.bin", 10).await;
    let (oid, otoken) = (s(&other, "id"), s(&other, "token"));
    let key = TokenKey::new(gw.state.config.secret.clone());
    let now = chrono::Utc::now().timestamp();
    let mut claims = key
        .verify(&utoken, &uid, now)
        .expect("the ticket's token verifies");
    claims.expires = now - 60;
    let expired = key.sign(&claims);
    let forged = {
        let foreign = TokenKey::new(secrecy::SecretSlice::from(vec![7u8; 32]));
        foreign.sign(&UploadClaims {
            expires: now + 3600,
            ..claims.clone()
        })
    };
    let cursor_key = CursorKey::new(gw.state.config.secret.clone());
    let cursor = Cursor {
        workspace: ws.clone(),
        folder: "root".into(),
        sort: "name".into(),
        order: "asc".into(),
        page_size: 100,
        upstream: None,
        offset: 1,
    };
    let good_cursor = cursor_key.encode(&cursor);
    let tampered = {
        let mut c: Vec<char> = good_cursor.chars().collect();
        c[3] = if c[3] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    let foreign_cursor = CursorKey::new(secrecy::SecretSlice::from(vec![9u8; 32])).encode(&cursor);
    let other_folder_cursor = cursor_key.encode(&Cursor {
        folder: "elsewhere".into(),
        ..cursor.clone()
    });
    let chunk = |n: &str, token: &str, id: &str, expect: u16| {
        http(
            format!("chunk number {n}"),
            Method::PUT,
            format!("/api/uploads/{id}/chunks/{n}"),
            expect,
        )
        .header("upload-token", token.to_owned())
        .body(vec![0u8; 16])
        .done()
    };
    let long_name = "n".repeat(2000) + ".txt";
    let mut ten_thousand = String::new();
    for _ in 0..10_000 {
        ten_thousand.push_str("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n");
    }
    ten_thousand.push_str("--B--\r\n");
    let big_part_header = format!(
        "Content-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\
         X-Padding: {}\r\n\r\nbig",
        "p".repeat(64 * 1024)
    );
    let nested = "Content-Disposition: form-data; name=\"file\"\r\n\
         Content-Type: multipart/mixed; boundary=inner\r\n\r\n\
         --inner\r\nContent-Disposition: attachment; filename=\"inner.txt\"\r\n\r\ninner\r\n--inner--"
        .to_owned();
    let truncated = {
        let mut body = multipart("B", &[file_part("cut.txt", &"c".repeat(10_000))]);
        body.truncate(5_000);
        body
    };
    let json_create = json!({"workspace": ws, "folder": "root", "name": "x.txt", "size": 4});
    let create_body = json_create.to_string();
    let many_headers: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();

    let mut rows = vec![
        // Multipart.
        http(
            "multipart without a boundary",
            Method::POST,
            format!("/w/{ws}/root?/upload"),
            400,
        )
        .header("content-type", "multipart/form-data")
        .body(multipart("B", &[file_part("a.txt", "a")]))
        .done(),
        upload("multipart body cut off", &ws, truncated, 400),
        // A part's headers are at most 8 KiB (a browser sends ~150 bytes).
        upload(
            "multipart part with 64 KiB of headers",
            &ws,
            multipart("B", &[big_part_header]),
            400,
        ),
        upload("10,000 empty parts", &ws, ten_thousand.into_bytes(), 400),
        upload("nested multipart", &ws, multipart("B", &[nested]), 400),
        // File names: each stored under its sanitised name (checked in the listing below).
        // A raw NUL or line break inside the part header is not a header: the form is refused.
        upload(
            "file name with NUL",
            &ws,
            multipart("B", &[file_part("nul\0byte.txt", "x")]),
            400,
        ),
        upload(
            "file name with CR/LF",
            &ws,
            multipart("B", &[file_part("cr\r\nlf.txt", "x")]),
            400,
        ),
        // A tab is legal in a header, and a control character in a name: dropped.
        upload_named("with a tab", &ws, "tab\tname.txt"),
        upload_named("with an RTL override", &ws, "evil\u{202E}fdp.exe"),
        upload_named("of 2,000 characters", &ws, &long_name),
        upload_named("of only dots", &ws, "..."),
        upload_named("CON", &ws, "CON"),
        upload_named("with percent-encoded slashes", &ws, "..%2F..%2Fescape.txt"),
        // Renames to names that cannot be.
        http(
            "rename to a name with NUL",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": "a\u{0}b"}))
        .done(),
        http(
            "rename to a name with CR/LF",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": "a\r\nb"}))
        .done(),
        http(
            "rename to a name with an RTL override",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": "evil\u{202E}fdp.exe"}))
        .done(),
        http(
            "rename to 2,000 characters",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": long_name}))
        .done(),
        http(
            "rename to ..",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": ".."}))
        .done(),
        http(
            "rename to a path",
            Method::PATCH,
            format!("/api/files/{ws}/{node}"),
            400,
        )
        .json(json!({"name": "../../x"}))
        .done(),
        // Invalid UTF-8.
        http(
            "invalid UTF-8 in a path",
            Method::GET,
            format!("/api/files/{ws}/%FF%FE"),
            400,
        )
        .done(),
        http(
            "invalid UTF-8 in a query",
            Method::GET,
            format!("/api/files/{ws}/root?cursor=%FF"),
            400,
        )
        .done(),
        http(
            "invalid UTF-8 in a search query",
            Method::GET,
            format!("/api/search/{ws}?q=ab%FF%FE"),
            400,
        )
        .done(),
        http(
            "invalid UTF-8 in the search page's query",
            Method::GET,
            format!("/w/{ws}/search?q=ab%C3"),
            400,
        )
        .done(),
        http(
            "invalid UTF-8 in a form field",
            Method::POST,
            format!("/w/{ws}/root?/mkdir"),
            400,
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=%FF%FE")
        .done(),
        http(
            "invalid UTF-8 in a JSON body",
            Method::POST,
            "/api/uploads",
            400,
        )
        .header("content-type", "application/json")
        .body(b"{\"workspace\":\"\xff\"}".to_vec())
        .done(),
        // Chunk numbers.
        chunk("0", &utoken, &uid, 404),
        chunk("-1", &utoken, &uid, 400),
        chunk("99999999999", &utoken, &uid, 400),
        chunk("4294967295", &utoken, &uid, 404),
        chunk("abc", &utoken, &uid, 400),
        // Upload tokens.
        http(
            "a forged upload token",
            Method::GET,
            format!("/api/uploads/{uid}"),
            401,
        )
        .header("upload-token", forged)
        .done(),
        http(
            "an expired upload token",
            Method::GET,
            format!("/api/uploads/{uid}"),
            401,
        )
        .header("upload-token", expired)
        .done(),
        http(
            "another upload's token",
            Method::GET,
            format!("/api/uploads/{uid}"),
            401,
        )
        .header("upload-token", otoken.clone())
        .done(),
        http(
            "a token replayed after its upload was stored",
            Method::PUT,
            format!("/api/uploads/{fid}/chunks/1"),
            400,
        )
        .header("upload-token", ftoken.clone())
        // Other bytes: the same bytes sent again get the same receipt (a retried one-call chunk).
        .body("FIXTURE")
        .done(),
        http(
            "a garbage upload token",
            Method::GET,
            format!("/api/uploads/{uid}"),
            401,
        )
        .header("upload-token", "not.a.token")
        .done(),
        // Cursors.
        http(
            "a tampered cursor",
            Method::GET,
            format!("/api/files/{ws}/root?cursor={tampered}"),
            400,
        )
        .done(),
        http(
            "a cursor signed with another secret",
            Method::GET,
            format!("/api/files/{ws}/root?cursor={foreign_cursor}"),
            400,
        )
        .done(),
        http(
            "a cursor of another folder",
            Method::GET,
            format!("/api/files/{ws}/root?cursor={other_folder_cursor}"),
            400,
        )
        .done(),
        http(
            "a cursor that is not one",
            Method::GET,
            format!("/api/files/{ws}/root?cursor=%7B%7D"),
            400,
        )
        .done(),
        // Sizes of the request itself.
        raw(
            "a 1 MiB query string",
            head(
                &addr,
                &[&format!(
                    "GET /api/files/{ws}/root?q={} HTTP/1.1",
                    "q".repeat(1024 * 1024)
                )],
                b"",
            ),
            Expect::Status(431),
        ),
        raw(
            "10,000 headers",
            head(
                &addr,
                &["GET /healthz HTTP/1.1", many_headers.trim_end()],
                b"",
            ),
            Expect::Status(431),
        ),
        // Lying lengths and transfer-encoding tricks (raw, as a client cannot send them otherwise).
        raw(
            "Content-Length shorter than the body",
            head(
                &addr,
                &[
                    "POST /api/uploads HTTP/1.1",
                    &format!("Authorization: Bearer {}", gw.admin.token),
                    "Content-Type: application/json",
                    "Content-Length: 10",
                ],
                create_body.as_bytes(),
            ),
            Expect::Status(400),
        ),
        raw_cut(
            "Content-Length longer than the body",
            head(
                &addr,
                &[
                    "POST /api/uploads HTTP/1.1",
                    &format!("Authorization: Bearer {}", gw.admin.token),
                    "Content-Type: application/json",
                    "Content-Length: 100000",
                ],
                create_body.as_bytes(),
            ),
            Expect::StatusOrClosed(400),
        ),
        // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3): the whole chunked body is
        // read (a JSON object without the token's fields: 422), and the connection then closed.
        raw(
            "Content-Length and chunked together",
            head(
                &addr,
                &[
                    "POST /api/tokens HTTP/1.1",
                    &format!("Authorization: Bearer {}", gw.admin.token),
                    "Content-Type: application/json",
                    "Content-Length: 4",
                    "Transfer-Encoding: chunked",
                ],
                b"4\r\n{}{}\r\n0\r\n\r\n",
            ),
            Expect::Status(422),
        ),
        raw(
            "chunked not the last transfer coding",
            head(
                &addr,
                &[
                    "POST /api/tokens HTTP/1.1",
                    "Transfer-Encoding: chunked, gzip",
                ],
                b"0\r\n\r\n",
            ),
            Expect::Status(400),
        ),
        raw(
            "an unknown transfer coding",
            head(
                &addr,
                &["POST /api/tokens HTTP/1.1", "Transfer-Encoding: xchunked"],
                b"0\r\n\r\n",
            ),
            Expect::Status(400),
        ),
        raw(
            "a chunk size that is not hex",
            head(
                &addr,
                &[
                    "POST /api/tokens HTTP/1.1",
                    &format!("Authorization: Bearer {}", gw.admin.token),
                    "Content-Type: application/json",
                    "Transfer-Encoding: chunked",
                ],
                b"zz\r\n{}\r\n0\r\n\r\n",
            ),
            Expect::Status(400),
        ),
        raw(
            "two Content-Lengths that disagree",
            head(
                &addr,
                &[
                    "POST /api/tokens HTTP/1.1",
                    "Content-Length: 2",
                    "Content-Length: 3",
                ],
                b"{}",
            ),
            Expect::Status(400),
        ),
        raw(
            "a request line that is not HTTP",
            b"HELLO\r\n\r\n".to_vec(),
            Expect::Status(400),
        ),
    ];
    rows.extend(traversal_rows(&ws));
    assert!(rows.len() >= 40, "{} rows", rows.len());
    eprintln!("bad input: {} rows", rows.len());

    let mut wrong = Vec::new();
    for row in &rows {
        let got = match &row.request {
            Request::Http {
                method,
                path,
                headers,
                body,
            } => {
                let mut request = app
                    .client
                    .request(method.clone(), format!("{url}{path}"))
                    .header("origin", &origin)
                    .header("accept", "application/json")
                    .header("connection", "close")
                    .body(body.clone());
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                match request.send().await {
                    Ok(r) => Expect::Status(r.status().as_u16()),
                    Err(_) => Expect::Closed,
                }
            }
            Request::Raw(bytes, half_close) => {
                let (addr, bytes, half_close) = (addr.clone(), bytes.clone(), *half_close);
                tokio::task::spawn_blocking(move || send_raw(&addr, &bytes, half_close))
                    .await
                    .expect("join")
            }
        };
        if !row.expect.admits(got) {
            wrong.push(format!(
                "{}: expected {:?}, got {got:?}",
                row.name, row.expect
            ));
        }
        let health = app.get("/healthz").await;
        assert_eq!(
            health.status, 200,
            "the server stopped serving after {}",
            row.name
        );
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows answered wrongly:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );

    // Only the files the name rows stored are there, under their sanitised names.
    let listing = app
        .get(&format!("/api/files/{ws}/root?limit=500"))
        .await
        .json();
    let mut names: Vec<String> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| s(i, "name"))
        .collect();
    names.sort();
    let mut expected = vec![
        "fixture.txt".to_owned(),
        "tabname.txt".to_owned(),
        "evilfdp.exe".to_owned(),
        fastgate::upload::names::sanitize_filename(&long_name),
        "unnamed".to_owned(),
        "CON".to_owned(),
        "..%2F..%2Fescape.txt".to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let long = names
        .iter()
        .find(|n| n.starts_with("nnn"))
        .expect("the long name");
    assert!(long.len() <= 255 && long.ends_with(".txt"), "{long}");

    // The uploads opened for the rows are cancelled by their client, as a browser would.
    for (id, token) in [(&uid, &utoken), (&oid, &otoken)] {
        let r = app
            .send(
                app.client
                    .delete(format!("{url}/api/uploads/{id}"))
                    .header("upload-token", token.as_str()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_trickling_its_headers_is_disconnected_after_the_header_timeout() {
    let gw = spawn_app().await;
    let addr = real_server(&gw).await;
    let started = Instant::now();
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let line = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n");
        // One byte every 300 ms: the headers would take minutes to end.
        for byte in line.bytes().chain(std::iter::repeat(b'x')) {
            if stream.write_all(&[byte]).is_err() {
                return Some(Expect::Closed);
            }
            let mut buf = [0u8; 512];
            match stream.read(&mut buf) {
                Ok(0) => return Some(Expect::Closed),
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    return text
                        .strip_prefix("HTTP/1.1 ")
                        .and_then(|t| t.get(..3)?.parse().ok())
                        .map(Expect::Status);
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Some(Expect::Closed),
            }
            if started.elapsed() > Duration::from_secs(30) {
                return None;
            }
        }
        None
    })
    .await
    .expect("join");
    let took = started.elapsed();
    assert!(
        matches!(closed, Some(Expect::Closed) | Some(Expect::Status(408))),
        "the trickling connection was not closed: {closed:?}"
    );
    assert!(
        took >= HEADER_TIMEOUT && took < HEADER_TIMEOUT * 4,
        "closed after {took:?}, with a header timeout of {HEADER_TIMEOUT:?}"
    );
}

/// The file descriptors the test may use: the soft limit raised to the hard one if needed.
fn open_files_limit() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_idle_connections_do_not_stop_the_server_answering_healthz() {
    // 2,000 client sockets and their 2,000 server ends live in this one process.
    let limit = open_files_limit();
    assert!(
        limit >= 4_500,
        "the open-files limit ({limit}) is too low for 2,000 connections each way: raise `ulimit -n`"
    );
    let gw = spawn_app().await;
    let addr = real_server(&gw).await;
    let mut idle = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("an idle connection"),
        );
    }
    let app = TestApp::attach(&format!("http://{addr}"), vec![gw.key.clone()]);
    let started = Instant::now();
    for _ in 0..5 {
        let r = app.get("/healthz").await;
        assert_eq!(r.status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "/healthz took {:?} for 5 answers beside 2,000 idle connections",
        started.elapsed()
    );
    drop(idle);
}
