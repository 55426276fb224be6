//! Unit tests of the order store on real redb files in temp dirs.

use super::*;
use async_nats::HeaderMap;
use bazaar_nats::messages::TermStart;
use bazaar_nats::order_log::{order_message_id, term_message_id, EPOCH_HEADER, MESSAGE_ID_HEADER};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_TERM};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

/// The epoch the tests' leader appends under.
const EPOCH: u64 = 7;

fn record(number: u64, key: &str) -> OrderRecord {
    OrderRecord {
        number,
        key: IdempotencyKey::parse(key).unwrap(),
        name: StockName::parse("FishCo").unwrap(),
        side: Side::Buy,
        quantity: Quantity::parse(2).unwrap(),
        version: number + 2,
    }
}

/// An order of term `epoch` as the leader appends it.
fn order_of(epoch: u64, sequence: u64, number: u64, key: &str) -> LogEntry {
    let mut headers = HeaderMap::new();
    headers.insert(EPOCH_HEADER, epoch.to_string().as_str());
    headers.insert(MESSAGE_ID_HEADER, order_message_id(epoch, number).as_str());
    let raw = serde_json::to_vec(&record(number, key)).unwrap().into();
    LogEntry::decode(ORDERS_NEW, sequence, Some(&headers), raw)
}

fn order(sequence: u64, number: u64, key: &str) -> LogEntry {
    order_of(EPOCH, sequence, number, key)
}

/// A term marker of `epoch` claiming `next_number`.
fn term_of(epoch: u64, sequence: u64, next_number: u64) -> LogEntry {
    let mut headers = HeaderMap::new();
    headers.insert(
        MESSAGE_ID_HEADER,
        term_message_id(epoch, sequence - 1).as_str(),
    );
    let marker = TermStart {
        leader: 1,
        epoch,
        next_number,
    };
    let raw = serde_json::to_vec(&marker).unwrap().into();
    LogEntry::decode(ORDERS_TERM, sequence, Some(&headers), raw)
}

fn raw(subject: &str, sequence: u64, payload: &'static [u8]) -> LogEntry {
    LogEntry::decode(subject, sequence, None, bytes::Bytes::from_static(payload))
}

fn temp_store() -> (tempfile::TempDir, OrderStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = OrderStore::open(&dir.path().join("o.redb")).unwrap();
    (dir, store)
}

fn skipped(appended: &Appended) -> Vec<u64> {
    appended.skipped.iter().map(|s| s.0).collect()
}

#[test]
fn appended_orders_can_be_read_back_by_number_and_key() {
    let (_dir, store) = temp_store();
    store
        .append(
            &[term_of(EPOCH, 1, 0), order(2, 0, "a"), order(3, 1, "b")],
            Commit::Durable,
        )
        .unwrap();
    assert_eq!(store.get(1).unwrap().unwrap().number, 1);
    assert_eq!(store.get(2).unwrap(), None);
    assert_eq!(
        store
            .find_logged(["b", "a", "zz"])
            .unwrap()
            .iter()
            .map(|found| found.map(|l| (l.number, l.version)))
            .collect::<Vec<_>>(),
        vec![Some((1, 3)), Some((0, 2)), None]
    );
    let digest = store.digest().unwrap();
    assert_eq!((digest.sequence, digest.count), (3, 2));
    let position = store.position().unwrap();
    assert_eq!(position.epoch, Some(EPOCH));
    assert_eq!(position.last_id, Some(order_message_id(EPOCH, 1)));
}

#[test]
fn replaying_applied_messages_changes_nothing() {
    let (_dir, store) = temp_store();
    let first = store
        .append(&[order(1, 0, "a"), order(2, 1, "b")], Commit::Durable)
        .unwrap();
    let again = store.append(&[order(2, 1, "b")], Commit::Durable).unwrap();
    assert_eq!(first.digest, again.digest);
}

#[test]
fn a_gap_in_the_stream_is_refused_and_nothing_of_the_batch_is_stored() {
    let (_dir, store) = temp_store();
    let err = store
        .append(&[order(1, 0, "a"), order(3, 1, "c")], Commit::Durable)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::OutOfOrder {
            expected: 2,
            got: 3
        }
    ));
    assert_eq!(store.digest().unwrap().count, 0);
}

#[test]
fn a_message_that_is_not_valid_json_is_skipped_and_numbering_goes_on() {
    let (_dir, store) = temp_store();
    let appended = store
        .append(
            &[
                term_of(EPOCH, 1, 0),
                order(2, 0, "a"),
                raw(ORDERS_NEW, 3, b"hello"),
                raw(ORDERS_TERM, 4, b"{not json"),
                raw("orders.other", 5, b"{}"),
                order(6, 1, "b"),
            ],
            Commit::Durable,
        )
        .unwrap();
    assert_eq!(skipped(&appended), [3, 4, 5]);
    assert_eq!((appended.digest.sequence, appended.digest.count), (6, 2));
    assert_eq!(store.get(1).unwrap().unwrap().number, 1);
}

#[test]
fn orders_out_of_step_are_skipped_whether_behind_or_ahead_of_the_count() {
    let (_dir, store) = temp_store();
    let appended = store
        .append(
            &[
                term_of(EPOCH, 1, 0),
                order(2, 0, "a"),
                order(3, 1, "b"),
                order(4, 1, "copy-of-b"),
                order(5, 9, "far-ahead"),
                order(6, 2, "c"),
            ],
            Commit::Durable,
        )
        .unwrap();
    assert_eq!(skipped(&appended), [4, 5]);
    assert_eq!((appended.digest.sequence, appended.digest.count), (6, 3));
    assert_eq!(
        store.find_logged(["copy-of-b"]).unwrap(),
        vec![None],
        "never taken as an order"
    );
}

#[test]
fn an_order_of_another_term_is_skipped_even_with_the_next_number() {
    let (_dir, store) = temp_store();
    let mut no_epoch = order(3, 1, "unsigned");
    if let EntryKind::Order { epoch, .. } = &mut no_epoch.kind {
        *epoch = None;
    }
    let appended = store
        .append(
            &[
                term_of(EPOCH, 1, 0),
                order(2, 0, "a"),
                no_epoch,
                order_of(EPOCH + 1, 4, 1, "other-term"),
                order(5, 1, "b"),
            ],
            Commit::Durable,
        )
        .unwrap();
    assert_eq!(skipped(&appended), [3, 4]);
    assert_eq!(appended.digest.count, 2);
    assert_eq!(store.get(1).unwrap().unwrap().number, 1);
}

#[test]
fn a_marker_out_of_step_starts_no_term_and_a_marker_in_step_does() {
    let (_dir, store) = temp_store();
    let appended = store
        .append(
            &[
                term_of(EPOCH, 1, 0),
                order(2, 0, "a"),
                term_of(99, 3, 5),
                order(4, 1, "b"),
                term_of(EPOCH + 1, 5, 2),
                order_of(EPOCH + 1, 6, 2, "c"),
                order(7, 3, "stale-leader"),
            ],
            Commit::Durable,
        )
        .unwrap();
    assert_eq!(skipped(&appended), [3, 7]);
    assert_eq!(appended.digest.count, 3);
    assert_eq!(appended.position.epoch, Some(EPOCH + 1));
}

#[test]
fn equal_logs_give_equal_digests_and_order_matters() {
    let (_d1, one) = temp_store();
    let (_d2, two) = temp_store();
    let (_d3, three) = temp_store();
    one.append(&[order(1, 0, "a"), order(2, 1, "b")], Commit::Durable)
        .unwrap();
    two.append(&[order(1, 0, "a")], Commit::Lazy).unwrap();
    two.append(&[order(2, 1, "b")], Commit::Durable).unwrap();
    three
        .append(&[order(1, 0, "b"), order(2, 1, "a")], Commit::Durable)
        .unwrap();
    assert_eq!(one.digest().unwrap(), two.digest().unwrap());
    assert_ne!(one.digest().unwrap().hash, three.digest().unwrap().hash);
}

#[test]
fn a_lazy_commit_is_visible_at_once_and_on_disk_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.redb");
    let store = OrderStore::open(&path).unwrap();
    store
        .append(&[order(1, 0, "a"), order(2, 1, "b")], Commit::Lazy)
        .unwrap();
    assert_eq!(store.digest().unwrap().count, 2, "visible before any flush");
    store.flush().unwrap();
    drop(store);
    let reopened = OrderStore::open(&path).unwrap();
    assert_eq!(reopened.digest().unwrap().count, 2);
    assert_eq!(reopened.get(1).unwrap().unwrap().number, 1);
}

#[test]
fn a_store_set_aside_keeps_its_history_in_the_old_file_and_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order-1.redb");
    let store = OrderStore::open(&path).unwrap();
    store
        .append(&[order(1, 0, "a"), order(2, 1, "b")], Commit::Lazy)
        .unwrap();
    let before = store.digest().unwrap();
    let clone = store.clone();
    let aside = store.set_aside("ahead").unwrap();
    let name = aside.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("order-1.redb.ahead-20"), "{name}");
    assert!(name.ends_with('Z'), "{name}");
    // Every handle sees the new, empty store at the old path.
    assert_eq!(clone.digest().unwrap(), Digest::default());
    assert_eq!(clone.path(), path.as_path());
    clone.append(&[order(1, 0, "a")], Commit::Durable).unwrap();
    // The old file holds the whole old history, lazy commits included.
    drop((store, clone));
    let old = OrderStore::open(&aside).unwrap();
    assert_eq!(old.digest().unwrap(), before);
    assert_eq!(old.raw_orders(1, 10).unwrap().len(), 1);
}
