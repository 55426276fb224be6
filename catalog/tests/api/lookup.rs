use crate::helpers::spawn_app;
use bazaar_nats::messages::Reply;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_of_a_seeded_stock_returns_its_price_and_quantity() {
    let app = spawn_app().await;

    let stock = app.stock("GameStart").await;

    assert_eq!(stock.name.as_str(), "GameStart");
    assert_eq!(stock.price, 15.99);
    assert_eq!(stock.quantity, 100);
    assert_eq!(stock.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_of_an_unknown_stock_is_not_found() {
    let app = spawn_app().await;

    let reply = app.lookup("Rome").await;

    assert_eq!(reply, Reply::not_found("stock not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_returns_at_least_ten_stocks_sorted_by_name() {
    let app = spawn_app().await;

    let Reply::Ok { data: stocks } = app.list().await else {
        panic!("list failed");
    };

    assert!(stocks.len() >= 10, "{} stocks", stocks.len());
    let names: Vec<_> = stocks.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    for required in ["GameStart", "FishCo", "BoarCo", "MenhirCo"] {
        assert!(names.contains(&required), "{required} missing");
    }
}
