use crate::helpers::spawn_app_with_stocks;
use bazaar_nats::messages::Reply;

const STOCKS: &str = r#"[
    {"name": "Obelix", "price": 3.5, "quantity": 7},
    {"name": "Dogmatix", "price": 0.25, "quantity": 1000}
]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_stocks_file_seeds_exactly_those_stocks() {
    let app = spawn_app_with_stocks(STOCKS).await;

    let Reply::Ok { data: stocks } = app.list().await else {
        panic!("list failed");
    };

    let names: Vec<_> = stocks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Dogmatix", "Obelix"]);
    let obelix = app.stock("Obelix").await;
    assert_eq!((obelix.price, obelix.quantity, obelix.version), (3.5, 7, 1));
    assert_eq!(
        app.lookup("GameStart").await,
        Reply::not_found("stock not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_stocks_file_stops_the_catalog_with_a_clear_error() {
    let data_dir = tempfile::tempdir().unwrap();
    let stocks_dir = tempfile::tempdir().unwrap();
    let path = stocks_dir.path().join("stocks.json");
    std::fs::write(
        &path,
        r#"[{"name": "bad name", "price": 1, "quantity": 1}]"#,
    )
    .unwrap();
    let config = bazaar_catalog::Config {
        nats_url: "nats://127.0.0.1:1".into(),
        nats_auth: Default::default(),
        data_dir: data_dir.path().to_path_buf(),
        stocks: Some(path),
        ..bazaar_catalog::Config::default()
    };

    let err = bazaar_catalog::run(config, std::future::pending())
        .await
        .unwrap_err();

    assert!(err.to_string().contains("stock #1"), "{err:#}");
}
