//! The store's one write path: a batch of stream messages, each judged against the history
//! so far (an order of the current term with the next number, a marker starting a term at the
//! current count, or skipped with a reason), applied in one write transaction.

use super::file::begin_write;
use super::meta::{self, META};
use super::{db_err, Appended, Commit, EntryKind, LogEntry, OrderStore, StoreError, KEYS, ORDERS};
use bazaar_nats::messages::OrderRecord;

impl OrderStore {
    /// Applies stream messages in one transaction committed as `commit` says. Messages the
    /// store already applied (sequence not above its own) are skipped, so replaying is
    /// harmless. Of the rest, only an order of the current term carrying the next number, and
    /// a marker that starts a term at the current count, change the history; anything else
    /// (not valid JSON, out of step, of another term) is skipped and reported, and numbering
    /// goes on from the last valid order. The same log thus gives every replica the same
    /// history, whatever was published on the order subjects.
    ///
    /// # Errors
    /// [`StoreError::OutOfOrder`] when a message would leave a gap in the sequence;
    /// [`StoreError`] on a write failure (then nothing of the batch is stored).
    pub fn append(&self, entries: &[LogEntry], commit: Commit) -> Result<Appended, StoreError> {
        let db = self.current();
        let tx = begin_write(&db, commit)?;
        let appended = {
            let mut orders = tx.open_table(ORDERS).map_err(db_err)?;
            let mut keys = tx.open_table(KEYS).map_err(db_err)?;
            let mut meta = tx.open_table(META).map_err(db_err)?;
            let mut appended = Appended {
                digest: meta::read(&meta)?,
                position: meta::read_position(&meta)?,
                skipped: Vec::new(),
                terms: 0,
            };
            for entry in entries {
                if entry.sequence <= appended.digest.sequence {
                    continue;
                }
                apply(entry, &mut appended, &mut orders, &mut keys)?;
            }
            meta::write(&mut meta, &appended.digest).map_err(db_err)?;
            meta::write_position(&mut meta, &appended.position).map_err(db_err)?;
            appended
        };
        tx.commit().map_err(db_err)?;
        Ok(appended)
    }
}

/// Applies one message that continues the stream, or records why it is skipped.
fn apply(
    entry: &LogEntry,
    appended: &mut Appended,
    orders: &mut redb::Table<u64, &[u8]>,
    keys: &mut redb::Table<&str, u64>,
) -> Result<(), StoreError> {
    let digest = &mut appended.digest;
    if entry.sequence != digest.sequence + 1 {
        return Err(StoreError::OutOfOrder {
            expected: digest.sequence + 1,
            got: entry.sequence,
        });
    }
    match judge(entry, digest.count, appended.position.epoch) {
        Ok(Verdict::Order(record)) => {
            orders
                .insert(record.number, entry.raw.as_ref())
                .map_err(db_err)?;
            keys.insert(record.key.as_str(), record.number)
                .map_err(db_err)?;
            digest.chain(&entry.raw);
        }
        Ok(Verdict::Term(epoch)) => {
            appended.position.epoch = Some(epoch);
            appended.terms += 1;
        }
        Err(reason) => appended.skipped.push((entry.sequence, reason)),
    }
    digest.sequence = entry.sequence;
    appended.position.last_id.clone_from(&entry.message_id);
    Ok(())
}

/// What a message that continues the log does.
enum Verdict<'a> {
    /// Stores this order.
    Order(&'a OrderRecord),
    /// Starts the term with this epoch.
    Term(u64),
}

/// Whether `entry` continues a log holding `count` orders whose current term is `epoch`, or
/// why it is skipped.
fn judge(entry: &LogEntry, count: u64, epoch: Option<u64>) -> Result<Verdict<'_>, String> {
    match &entry.kind {
        EntryKind::Order { record, .. } if record.number != count => Err(format!(
            "order claims number {} where {count} is next: out of step",
            record.number
        )),
        EntryKind::Order {
            record,
            epoch: claimed,
        } => match epoch {
            Some(current) if *claimed != Some(current) => Err(format!(
                "order {} claims term {claimed:?}, not the current term {current}",
                record.number
            )),
            _ => Ok(Verdict::Order(record)),
        },
        EntryKind::Term(marker) if marker.next_number != count => Err(format!(
            "term marker of epoch {} claims next number {} where {count} is next: out of step",
            marker.epoch, marker.next_number
        )),
        EntryKind::Term(marker) => Ok(Verdict::Term(marker.epoch)),
        EntryKind::Void(reason) => Err(reason.clone()),
    }
}
