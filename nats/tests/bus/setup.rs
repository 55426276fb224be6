//! The setup step: only the operator may make the stream and bucket; the services then find
//! them with their own, smaller rights, and say clearly when the step has not run.

use crate::helpers::SecuredBus;
use async_nats::jetstream;
use bazaar_nats::setup::{ensure_leader_bucket, ensure_orders_stream, Replication, SetupError};
use bazaar_nats::subjects::ORDERS_STREAM;
use bazaar_nats::testing::Role;
use std::time::Duration;

/// The order role's JetStream context, with a short timeout: a refused create goes unanswered.
async fn order_js(bus: &SecuredBus) -> jetstream::Context {
    let mut js = jetstream::new(bus.connect(Role::Order).await.client);
    js.set_timeout(Duration::from_secs(1));
    js
}

#[tokio::test]
async fn a_service_finds_what_the_operators_setup_made_without_the_right_to_create_it() {
    let bus = SecuredBus::start_without_setup();
    let js = order_js(&bus).await;

    let refused = ensure_orders_stream(&js, Replication::default()).await;
    assert!(
        matches!(&refused, Err(SetupError::NeedsSetup { .. })),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("bazaar-setup"));
    let operator = bus.operator_js().await;
    assert!(
        operator.get_stream(ORDERS_STREAM).await.is_err(),
        "made without rights"
    );

    bus.run_setup(Role::Operator).expect("the operator's setup");
    ensure_orders_stream(&js, Replication::default())
        .await
        .expect("the order role finds the stream");
    ensure_leader_bucket(&js, Replication::default())
        .await
        .expect("the order role finds the bucket");
    bus.run_setup(Role::Operator)
        .expect("running the setup again changes nothing and succeeds");
}

#[tokio::test]
async fn the_setup_step_run_as_a_service_fails_and_says_why() {
    let bus = SecuredBus::start_without_setup();
    let error = bus
        .run_setup(Role::Order)
        .expect_err("only the operator may");
    assert!(error.contains("run the setup step"), "{error}");
    assert!(error.contains("Permissions Violation"), "{error}");
}
