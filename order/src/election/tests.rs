//! Unit tests of the election's decisions: every case of a follower's round, probes,
//! campaigns, step-downs and renewals, on a clock the tests move by hand.

use super::decide::{lease_until, Action, Campaign, LeaseRead, ProbeAnswer, Renewal, Rounds};
use super::{DEAD_AFTER_PROBES, STAGGER, STEPDOWN_COOLDOWN};
use std::time::{Duration, Instant};

/// The replica the tests decide for, the lowest of three, so it staggers by two steps.
const ME: u32 = 1;
const REPLICAS: u32 = 3;

fn rounds(start: Instant) -> Rounds {
    Rounds::new(ME, REPLICAS, start)
}

#[test]
fn a_follower_that_reads_another_holder_probes_it() {
    let now = Instant::now();
    let read = LeaseRead::Held {
        holder: 3,
        revision: 9,
    };
    assert_eq!(
        rounds(now).decide(read, now),
        Action::Probe {
            holder: 3,
            revision: 9
        }
    );
    assert_eq!(read.leader(), Some(Some(3)));
}

#[test]
fn a_follower_that_finds_its_own_id_in_the_key_releases_it() {
    let now = Instant::now();
    let read = LeaseRead::Held {
        holder: ME,
        revision: 4,
    };
    assert_eq!(
        rounds(now).decide(read, now),
        Action::Release {
            revision: 4,
            holder: Some(ME)
        }
    );
}

#[test]
fn a_holder_is_taken_for_gone_after_enough_no_responder_probes_in_a_row() {
    let mut rounds = rounds(Instant::now());
    for _ in 1..DEAD_AFTER_PROBES {
        assert!(!rounds.probed(ProbeAnswer::NoResponders));
    }
    assert!(rounds.probed(ProbeAnswer::NoResponders));
    // The count starts over, so the next holder gets as many probes.
    assert!(!rounds.probed(ProbeAnswer::NoResponders));
}

#[test]
fn any_other_probe_answer_starts_the_count_over() {
    let mut rounds = rounds(Instant::now());
    for _ in 1..DEAD_AFTER_PROBES {
        assert!(!rounds.probed(ProbeAnswer::NoResponders));
    }
    assert!(!rounds.probed(ProbeAnswer::Other));
    for _ in 1..DEAD_AFTER_PROBES {
        assert!(!rounds.probed(ProbeAnswer::NoResponders));
    }
    assert!(rounds.probed(ProbeAnswer::NoResponders));
}

#[test]
fn a_value_naming_no_replica_is_released_as_vacant() {
    let now = Instant::now();
    let read = LeaseRead::Garbage { revision: 6 };
    assert_eq!(
        rounds(now).decide(read, now),
        Action::Release {
            revision: 6,
            holder: None
        }
    );
    assert_eq!(read.leader(), Some(None));
}

#[test]
fn an_unreadable_key_waits_and_keeps_the_leader_known() {
    let now = Instant::now();
    assert_eq!(rounds(now).decide(LeaseRead::Unreadable, now), Action::Wait);
    assert_eq!(LeaseRead::Unreadable.leader(), None);
}

#[test]
fn a_vacant_key_waits_until_the_stagger_of_a_lower_id_has_run() {
    let start = Instant::now();
    let mut rounds = rounds(start);
    let stagger = STAGGER * (REPLICAS - ME);
    assert_eq!(LeaseRead::Vacant.leader(), Some(None));
    assert_eq!(rounds.decide(LeaseRead::Vacant, start), Action::Wait);
    let almost = start + stagger - Duration::from_millis(1);
    assert_eq!(rounds.decide(LeaseRead::Vacant, almost), Action::Wait);
    assert_eq!(
        rounds.decide(LeaseRead::Vacant, start + stagger),
        Action::Campaign
    );
}

#[test]
fn the_highest_id_campaigns_at_once_on_a_vacant_key() {
    let now = Instant::now();
    let mut highest = Rounds::new(REPLICAS, REPLICAS, now);
    assert_eq!(highest.decide(LeaseRead::Vacant, now), Action::Campaign);
}

#[test]
fn a_holder_seen_in_between_starts_the_stagger_over() {
    let start = Instant::now();
    let mut rounds = rounds(start);
    let stagger = STAGGER * (REPLICAS - ME);
    assert_eq!(rounds.decide(LeaseRead::Vacant, start), Action::Wait);
    let held = LeaseRead::Held {
        holder: 2,
        revision: 3,
    };
    rounds.decide(held, start + stagger / 2);
    assert_eq!(
        rounds.decide(LeaseRead::Vacant, start + stagger),
        Action::Wait
    );
    assert_eq!(
        rounds.decide(LeaseRead::Vacant, start + stagger * 2),
        Action::Campaign
    );
}

#[test]
fn a_replica_that_stepped_down_on_request_waits_out_its_cooldown() {
    let start = Instant::now();
    let mut highest = Rounds::new(REPLICAS, REPLICAS, start);
    highest.stepped_down_on_request(start);
    let almost = start + STEPDOWN_COOLDOWN - Duration::from_millis(1);
    assert_eq!(highest.decide(LeaseRead::Vacant, almost), Action::Wait);
    assert_eq!(
        highest.decide(LeaseRead::Vacant, start + STEPDOWN_COOLDOWN),
        Action::Campaign
    );
}

#[test]
fn a_replica_not_caught_up_campaigns_as_soon_as_it_is_since_its_stagger_has_run() {
    let start = Instant::now();
    let mut rounds = rounds(start);
    let stagger = STAGGER * (REPLICAS - ME);
    rounds.decide(LeaseRead::Vacant, start);
    assert_eq!(
        rounds.decide(LeaseRead::Vacant, start + stagger),
        Action::Campaign
    );
    rounds.campaigned(Campaign::NotCaughtUp);
    let later = start + stagger + Duration::from_millis(1);
    assert_eq!(rounds.decide(LeaseRead::Vacant, later), Action::Campaign);
    rounds.campaigned(Campaign::Failed);
    assert_eq!(rounds.decide(LeaseRead::Vacant, later), Action::Campaign);
}

#[test]
fn a_campaign_another_replica_won_starts_the_stagger_over() {
    let start = Instant::now();
    let mut rounds = rounds(start);
    let stagger = STAGGER * (REPLICAS - ME);
    rounds.decide(LeaseRead::Vacant, start);
    let then = start + stagger;
    assert_eq!(rounds.decide(LeaseRead::Vacant, then), Action::Campaign);
    rounds.campaigned(Campaign::Taken);
    assert_eq!(rounds.decide(LeaseRead::Vacant, then), Action::Wait);
    assert_eq!(rounds.revision(), 0, "a lost campaign wrote nothing");
}

#[test]
fn a_won_campaign_is_renewed_and_resigned_at_its_revision() {
    let now = Instant::now();
    let mut rounds = rounds(now);
    rounds.campaigned(Campaign::Won { revision: 12 });
    assert_eq!(rounds.revision(), 12);
}

#[test]
fn a_renewal_in_time_extends_the_lease_from_its_send_time() {
    let sent = Instant::now();
    let mut rounds = rounds(sent);
    let until = sent + Duration::from_millis(100);
    let renewal = rounds.renewed(
        Ok::<u64, String>(13),
        sent,
        sent + Duration::from_millis(5),
        until,
    );
    assert_eq!(
        renewal,
        Renewal::Renewed {
            until: lease_until(sent)
        }
    );
    assert_eq!(rounds.revision(), 13);
}

#[test]
fn a_renewal_that_comes_back_after_the_lease_ran_out_steps_down() {
    let sent = Instant::now();
    let mut rounds = rounds(sent);
    rounds.campaigned(Campaign::Won { revision: 12 });
    let until = sent + Duration::from_millis(100);
    let renewal = rounds.renewed(Ok::<u64, String>(13), sent, until, until);
    assert!(
        matches!(&renewal, Renewal::StepDown(why) if why.contains("after the lease ran out")),
        "{renewal:?}"
    );
    assert_eq!(rounds.revision(), 12, "a late renewal is not renewed at");
}

#[test]
fn a_failed_renewal_steps_down_with_the_error() {
    let sent = Instant::now();
    let mut rounds = rounds(sent);
    let until = sent + Duration::from_millis(100);
    let renewal = rounds.renewed(Err("wrong last sequence"), sent, sent, until);
    assert_eq!(
        renewal,
        Renewal::StepDown("renewal failed: wrong last sequence".into())
    );
}
