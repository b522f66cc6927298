//! The gateway starts against the emulator and answers on its pages and health routes.

#[tokio::test(flavor = "multi_thread")]
async fn gateway_starts_in_front_of_the_emulator_and_serves_static_files() {
    let gw = crate::common::spawn_app().await;
    let css = gw.get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert!(gw.scanned() >= 1);
}

#[test]
fn env_example_file_matches_the_documented_variables() {
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example"))
        .expect(".env.example exists");
    assert_eq!(
        file,
        fastgate::config::ENV_EXAMPLE,
        "regenerate .env.example from config::ENV_EXAMPLE"
    );
}
