//! The order leader's lease value: what the elected replica writes under
//! [`LEADER_KEY`](crate::subjects::LEADER_KEY) and how every reader (the replicas' election, the
//! frontend's routing, the tools) reads it back.
//!
//! The value is the holder's replica id in decimal ASCII, nothing else. A reader takes anything
//! else (a value put by hand, a forged write, an id out of range) as naming no one, so the
//! replicas treat the lease as vacant and the frontend knows no leader: both read it the same way.

use bytes::Bytes;

/// The lease value replica `id` writes when it wins or renews.
pub fn encode(id: u32) -> Bytes {
    Bytes::from(id.to_string())
}

/// The replica id a lease value names, if it is a positive id written exactly as [`encode`]
/// writes it.
pub fn decode(value: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(value).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|id| *id > 0)
}

/// The holder a lease value names among `replicas` replicas (ids `1..=replicas`).
pub fn holder(value: &[u8], replicas: u32) -> Option<u32> {
    decode(value).filter(|id| *id <= replicas)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, holder};

    #[test]
    fn what_a_replica_writes_reads_back_as_its_id() {
        for id in [1, 3, 12, u32::MAX] {
            assert_eq!(decode(&encode(id)), Some(id));
        }
    }

    #[test]
    fn only_a_replica_id_in_range_names_a_holder() {
        assert_eq!(holder(b"3", 3), Some(3));
        assert_eq!(holder(b"1", 3), Some(1));
        for garbage in [
            &b"0"[..],
            b"4",
            b"-1",
            b"+2",
            b"three",
            b"",
            b" 2",
            b"12\n",
            &[0xff],
        ] {
            assert_eq!(holder(garbage, 3), None, "{garbage:?}");
        }
    }
}
