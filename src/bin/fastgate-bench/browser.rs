//! Scenario 9, the browser's two paths: one file through `upload.js` and the JSON API (JS on)
//! and one through the plain form post (JS off), in Debian's headless Chromium driven over
//! WebDriver, against a gateway whose public URL is its own address (a browser sends that
//! origin). Fails with what to install when Chromium or chromedriver is missing.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::procs::{Emulator, Gateway};
use crate::scenarios::{Ctx, Row, mb_s, row};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FILE_INPUT: &str = "form[data-upload] input[type=file][name=file]";
/// How long one upload may take.
const LIMIT: Duration = Duration::from_secs(1200);

/// chromedriver on a port it picks, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Result<Driver, String> {
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} is missing: scenario 9 needs Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver)"
            ));
        }
    }
    let mut child = Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{CHROMEDRIVER}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .ok_or("chromedriver exited before reporting its port")?
            .map_err(|e| e.to_string())?;
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest
                .trim_end_matches('.')
                .trim()
                .parse::<u16>()
                .map_err(|e| e.to_string())?;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Driver { child, port })
}

async fn browser(driver: &Driver, profile: &Path, javascript: bool) -> Result<Client, String> {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", format!("--user-data-dir={}", profile.display())],
    });
    if !javascript {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .map_err(|e| format!("no Chromium session: {e}"))
}

/// Runs `script` until it returns true (every 100 ms, up to [`LIMIT`]).
async fn wait_for(client: &Client, what: &str, script: &str) -> Result<(), String> {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

/// Picks `file` on the folder page; with JavaScript the pick starts the upload, without it the
/// form is submitted. Returns the time to the stored file (JS) or to the results page (form).
async fn upload(
    client: &Client,
    page: &str,
    file: &Path,
    javascript: bool,
) -> Result<Duration, String> {
    client.goto(page).await.map_err(|e| e.to_string())?;
    let input = client
        .find(Locator::Css(FILE_INPUT))
        .await
        .map_err(|e| format!("no file input: {e}"))?;
    let started = Instant::now();
    input
        .send_keys(&file.display().to_string())
        .await
        .map_err(|e| e.to_string())?;
    if javascript {
        wait_for(
            client,
            "the JS upload stored",
            "const s = document.querySelector('.upload-summary');
             return !!s && s.dataset.stored === '1' && s.dataset.total === '1';",
        )
        .await?;
    } else {
        client
            .execute(
                "document.querySelector('form[data-upload] button[type=submit]').click(); return true;",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        wait_for(
            client,
            "the form upload answered",
            "return document.readyState === 'complete' && !!document.querySelector('section.results');",
        )
        .await?;
    }
    Ok(started.elapsed())
}

/// Runs the scenario against a gateway `gw` in front of `emu` that browsers can load.
pub async fn paths(ctx: &Ctx, emu: &Emulator, gw: &Gateway) -> Result<(Vec<Row>, Value), String> {
    let driver = start_driver()?;
    let files = ctx.dir.join("browser-files");
    std::fs::create_dir_all(&files).map_err(|e| e.to_string())?;
    let (js_file, form_file) = (files.join("js.bin"), files.join("form.bin"));
    ctx.big.write_to(&js_file).map_err(|e| e.to_string())?;
    ctx.big.write_to(&form_file).map_err(|e| e.to_string())?;
    let page = format!("{}/w/{}/root", gw.url, emu.workspace);
    let mut took = Vec::new();
    for (javascript, file) in [(true, &js_file), (false, &form_file)] {
        let profile = ctx.dir.join(format!("chromium-profile-{javascript}"));
        let client = browser(&driver, &profile, javascript).await?;
        let result = upload(&client, &page, file, javascript).await;
        let _ = client.close().await;
        took.push(result?);
    }
    let _ = std::fs::remove_dir_all(&files);
    let (js, form) = (took[0], took[1]);
    let size = ctx.big.size;
    let s = "browser (headless Chromium)";
    let rows = vec![
        row(
            s,
            "JS path (upload.js, JSON API)",
            format!("{:.0} MB/s", mb_s(size, js)),
            "",
        ),
        row(
            s,
            "form path (JavaScript off)",
            format!("{:.0} MB/s", mb_s(size, form)),
            "",
        ),
    ];
    Ok((
        rows,
        json!({"bytes": size, "js_s": js.as_secs_f64(), "form_s": form.as_secs_f64()}),
    ))
}
