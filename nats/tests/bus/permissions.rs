//! Each role is refused what it must not do, on the shipped configuration. A refused publish
//! or subscription shows as a permissions violation on the connection; the tests check the
//! effect too (nothing arrived, the stream and the lease are unchanged), and that the same
//! operation by a role that may do it works, so the checks can tell.

use crate::helpers::{leader_bucket, orders_in_stream, Probe, SecuredBus};
use async_nats::jetstream;
use bazaar_nats::subjects::{LEADER_KEY, ORDERS_NEW, ORDERS_STREAM};
use bazaar_nats::testing::Role;
use futures::StreamExt;
use std::time::Duration;

/// The roles that are not the operator.
const SERVICES: [Role; 4] = [Role::Frontend, Role::Catalog, Role::Order, Role::Health];

/// Publishes each role must not make: (role, subject).
const REFUSED_PUBLISHES: &[(Role, &str)] = &[
    (Role::Frontend, "orders.new"),
    (Role::Frontend, "orders.term"),
    (Role::Frontend, "$KV.order_leader.leader"),
    (Role::Frontend, "catalog.stock.trade"),
    (Role::Frontend, "catalog.trades.confirm"),
    (Role::Frontend, "stock.invalidate"),
    (Role::Frontend, "order.replica.1.digest"),
    (Role::Catalog, "orders.new"),
    (Role::Catalog, "$KV.order_leader.leader"),
    (Role::Catalog, "order.replica.1.trade"),
    (Role::Catalog, "_INBOX_frontend.unasked"),
    (Role::Order, "stock.invalidate"),
    (Role::Order, "order.replica.2.trade"),
    (Role::Order, "catalog.stock.lookup"),
    (Role::Health, "orders.new"),
    (Role::Health, "$KV.order_leader.leader"),
    (Role::Health, "catalog.stock.trade"),
    (Role::Health, "order.replica.1.trade"),
    // Fault injection is the operator's alone.
    (Role::Frontend, "admin.order.1.pause"),
    (Role::Frontend, "admin.catalog.crash"),
    (Role::Catalog, "admin.order.2.crash"),
    (Role::Catalog, "admin.catalog.pause"),
    (Role::Order, "admin.order.3.stepdown"),
    (Role::Order, "admin.catalog.delay"),
    (Role::Health, "admin.order.1.delay"),
];

/// JetStream administration no role but the operator may ask for.
const ADMIN_ONLY: &[&str] = &[
    "$JS.API.STREAM.DELETE.ORDERS",
    "$JS.API.STREAM.UPDATE.ORDERS",
    "$JS.API.STREAM.PURGE.ORDERS",
    "$JS.API.STREAM.MSG.DELETE.ORDERS",
    "$JS.API.STREAM.CREATE.ORDERS",
    "$JS.API.STREAM.DELETE.KV_order_leader",
    "$JS.API.STREAM.UPDATE.KV_order_leader",
    "$JS.API.STREAM.PURGE.KV_order_leader",
    "$JS.API.STREAM.CREATE.KV_other",
    "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.mine",
];

#[tokio::test]
async fn no_role_but_the_order_replicas_may_append_to_the_order_log() {
    let bus = SecuredBus::start();
    let js = bus.operator_js().await;
    let before = orders_in_stream(&js).await;
    for role in [Role::Frontend, Role::Catalog, Role::Health] {
        let mut probe = bus.connect(role).await;
        probe.publish(ORDERS_NEW, b"hello").await;
        probe.expect_violation(r#"Publish to "orders.new""#).await;
    }
    assert_eq!(
        orders_in_stream(&js).await,
        before,
        "a refused append landed"
    );

    let order = bus.connect(Role::Order).await;
    jetstream::new(order.client)
        .publish(ORDERS_NEW, "{}".into())
        .await
        .expect("the order role publishes")
        .await
        .expect("and JetStream acknowledges");
    assert_eq!(orders_in_stream(&js).await, before + 1);
}

#[tokio::test]
async fn no_role_but_the_order_replicas_may_write_the_leader_lease() {
    let bus = SecuredBus::start();
    let mut probes = Vec::new();
    for role in [Role::Frontend, Role::Catalog, Role::Health] {
        probes.push(bus.connect(role).await);
    }
    let lease = leader_bucket(&bus.operator_js().await).await;
    let order_js = jetstream::new(bus.connect(Role::Order).await.client);
    let order_lease = leader_bucket(&order_js).await;

    let won = order_lease
        .create(LEADER_KEY, "2".into())
        .await
        .expect("the order role wins the lease");
    let renewed = order_lease
        .update(LEADER_KEY, "2".into(), won)
        .await
        .expect("and renews it");
    for probe in &mut probes {
        probe.publish("$KV.order_leader.leader", b"garbage").await;
        probe
            .expect_violation(r#"Publish to "$KV.order_leader.leader""#)
            .await;
    }
    // The lease may have expired meanwhile (it lasts a second); it never holds the garbage.
    if let Some(entry) = lease.entry(LEADER_KEY).await.expect("read the lease") {
        assert_eq!(entry.revision, renewed, "a refused write changed the lease");
        assert_eq!(&entry.value[..], b"2");
    }
}

#[tokio::test]
async fn each_role_is_refused_the_publishes_it_does_not_need_and_nothing_arrives() {
    let bus = SecuredBus::start();
    let operator = bus.connect(Role::Operator).await;
    for (role, subject) in REFUSED_PUBLISHES {
        let mut watcher = operator
            .client
            .subscribe(subject.to_string())
            .await
            .expect("the operator subscribes anywhere");
        operator.client.flush().await.expect("flush");
        let mut probe = bus.connect(*role).await;
        probe.publish(subject, b"{}").await;
        probe
            .expect_violation(&format!("Publish to \"{subject}\""))
            .await;
        let arrived = tokio::time::timeout(Duration::from_millis(200), watcher.next()).await;
        assert!(
            arrived.is_err(),
            "{role:?}'s refused publish to {subject} arrived"
        );
    }
}

#[tokio::test]
async fn only_the_operator_may_create_change_purge_or_delete_streams_and_buckets() {
    let bus = SecuredBus::start();
    let js = bus.operator_js().await;
    let before = js
        .get_stream(ORDERS_STREAM)
        .await
        .expect("ORDERS")
        .cached_info()
        .clone();
    for role in SERVICES {
        let mut probe = bus.connect(role).await;
        for subject in ADMIN_ONLY {
            let inbox = probe.client.new_inbox();
            probe
                .client
                .publish_with_reply(subject.to_string(), inbox, r#"{"name":"ORDERS"}"#.into())
                .await
                .expect("publish");
            probe
                .expect_violation(&format!("Publish to \"{subject}\""))
                .await;
        }
    }
    let after = js
        .get_stream(ORDERS_STREAM)
        .await
        .expect("ORDERS is still there");
    assert_eq!(after.cached_info().config, before.config);
    assert_eq!(after.cached_info().state.messages, before.state.messages);
    leader_bucket(&js).await;
    assert!(
        js.get_stream("KV_other").await.is_err(),
        "a refused create made a bucket"
    );

    // The operator may: its update goes through.
    let changed = js
        .update_stream(jetstream::stream::Config {
            description: Some("changed by the operator".into()),
            ..before.config
        })
        .await
        .expect("the operator updates ORDERS");
    assert_eq!(
        changed.config.description.as_deref(),
        Some("changed by the operator")
    );
}

#[tokio::test]
async fn no_role_may_read_another_roles_replies_or_everything() {
    let bus = SecuredBus::start();
    let operator = bus.connect(Role::Operator).await;
    for role in SERVICES {
        let mut probe = bus.connect(role).await;
        let others = Role::ALL.into_iter().filter(|r| *r != role);
        let mut patterns: Vec<String> = others
            .map(|other| format!("{}.>", bazaar_nats::auth::inbox_prefix(other.user())))
            .collect();
        patterns.extend([">".to_string(), "_INBOX.>".to_string()]);
        for pattern in patterns {
            let mut subscription = probe
                .client
                .subscribe(pattern.clone())
                .await
                .expect("subscribe is sent");
            probe
                .expect_violation(&format!("Subscription to \"{pattern}\""))
                .await;
            let target = pattern.replace('>', "reply");
            operator
                .client
                .publish(target.clone(), "secret".into())
                .await
                .expect("publish");
            operator.client.flush().await.expect("flush");
            let arrived =
                tokio::time::timeout(Duration::from_millis(200), subscription.next()).await;
            assert!(
                !matches!(arrived, Ok(Some(_))),
                "{role:?} read {target} through {pattern}"
            );
        }
    }
}

#[tokio::test]
async fn a_request_is_answered_through_the_requesters_own_inbox() {
    let bus = SecuredBus::start();
    let mut catalog = bus.connect(Role::Catalog).await;
    let mut requests = catalog
        .client
        .subscribe("catalog.stock.lookup")
        .await
        .expect("the catalog serves lookups");
    catalog.client.flush().await.expect("flush");
    let responder = catalog.client.clone();
    let serving = tokio::spawn(async move {
        let request = requests.next().await.expect("a request");
        let reply = request.reply.expect("a reply subject");
        assert!(reply.starts_with("_INBOX_frontend."), "{reply}");
        responder
            .publish(reply, "found".into())
            .await
            .expect("reply");
        responder.flush().await.expect("flush");
    });

    let mut frontend = bus.connect(Role::Frontend).await;
    let answer = frontend
        .client
        .request("catalog.stock.lookup", "{}".into())
        .await
        .expect("the frontend gets its answer");
    assert_eq!(&answer.payload[..], b"found");
    serving.await.expect("the responder finished");
    frontend.expect_no_violation().await;
    catalog.expect_no_violation().await;
}

#[tokio::test]
async fn anonymous_clients_and_wrong_passwords_are_refused() {
    let bus = SecuredBus::start();
    let url = bus.server.url();
    let anonymous = async_nats::connect(url.as_str()).await;
    assert_eq!(
        anonymous.err().map(|e| e.kind()),
        Some(async_nats::ConnectErrorKind::AuthorizationViolation)
    );
    let wrong = async_nats::ConnectOptions::new()
        .user_and_password("operator".into(), "not-the-password".into())
        .connect(url.as_str())
        .await;
    assert_eq!(
        wrong.err().map(|e| e.kind()),
        Some(async_nats::ConnectErrorKind::AuthorizationViolation)
    );
    // The right password gets in.
    Probe::connect(&url, "operator", &bus.secrets.password(Role::Operator)).await;
}
