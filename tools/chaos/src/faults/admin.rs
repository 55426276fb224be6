//! The faults the runner injects over the operator's `admin.>` subjects: what signals cannot do
//! (a step-down, a reply delay) and what they can (a pause, a crash) by the path an operator's
//! drill takes. The runner's client is the operator on a secured bus.

use super::{describe, Active, FaultKind, Injector};
use crate::history::Component;
use bazaar_nats::subjects;
use std::time::{Duration, Instant};

/// How long a request to an admin subject may take: the target answers before acting.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an injected catalog delay lasts unless healed first: past the longest hold, so
/// the heal is what ends it.
const DELAY_FOR_MS: u64 = 5000;

impl FaultKind {
    /// Whether the fault is injected over the admin subjects.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Self::AdminStepdown
                | Self::AdminPauseLeader
                | Self::AdminCrashReplica
                | Self::AdminDelayCatalog
                | Self::AdminPauseCatalog
        )
    }
}

impl Injector<'_> {
    /// The component an admin fault hits, or `None` for other kinds.
    pub(super) async fn admin_target(&mut self, kind: FaultKind) -> Option<Component> {
        match kind {
            FaultKind::AdminStepdown | FaultKind::AdminPauseLeader => {
                Some(Component::Replica(self.leader_or_random().await))
            }
            FaultKind::AdminCrashReplica => Some(Component::Replica(self.rng.between(1, 3) as u32)),
            FaultKind::AdminDelayCatalog | FaultKind::AdminPauseCatalog => Some(Component::Catalog),
            _ => None,
        }
    }

    /// Sends the admin request for `kind` to `component` and reports the answer.
    pub(super) async fn apply_admin(&mut self, kind: FaultKind, component: Component) -> Active {
        let (subject, body, ends) = match (kind, component) {
            (FaultKind::AdminStepdown, Component::Replica(id)) => {
                (subjects::admin_order_stepdown(id), String::new(), None)
            }
            (FaultKind::AdminPauseLeader, Component::Replica(id)) => {
                // Longer than the 1 s lease, so that another replica takes over.
                let ms = self.rng.between(1500, 3000);
                let ends = Instant::now() + Duration::from_millis(ms);
                (
                    subjects::admin_order_pause(id),
                    format!(r#"{{"ms":{ms}}}"#),
                    Some(ends),
                )
            }
            (FaultKind::AdminCrashReplica, Component::Replica(id)) => {
                (subjects::admin_order_crash(id), String::new(), None)
            }
            (FaultKind::AdminPauseCatalog, _) => {
                let ms = self.rng.between(300, 1500);
                let ends = Instant::now() + Duration::from_millis(ms);
                (
                    subjects::admin_catalog_pause(),
                    format!(r#"{{"ms":{ms}}}"#),
                    Some(ends),
                )
            }
            _ => {
                let ms = self.rng.between(50, 400);
                let body = format!(r#"{{"ms":{ms},"for_ms":{DELAY_FOR_MS}}}"#);
                (subjects::admin_catalog_delay(), body, None)
            }
        };
        let answer = self.admin_request(&subject, body.clone()).await;
        let at = self.now();
        println!(
            "{:>8.3}s fault {} on {}: {subject} {body} -> {answer}",
            at.as_secs_f64(),
            kind.name(),
            describe(component)
        );
        Active {
            kind,
            component,
            at,
            ends,
        }
    }

    /// Ends what an admin fault left behind: waits out a pause, lifts a delay, restarts a
    /// replica that crashed.
    pub(super) async fn heal_admin(&mut self, active: &Active) {
        if let Some(ends) = active.ends {
            tokio::time::sleep_until(ends.into()).await;
        }
        match (active.kind, active.component) {
            (FaultKind::AdminDelayCatalog, _) => {
                let answer = self
                    .admin_request(
                        &subjects::admin_catalog_delay(),
                        r#"{"ms":0,"for_ms":0}"#.into(),
                    )
                    .await;
                println!(
                    "{:>8.3}s heal admin-delay-catalog -> {answer}",
                    self.now().as_secs_f64()
                );
            }
            (FaultKind::AdminCrashReplica, Component::Replica(id)) => {
                // The request may have failed (the broker was down): a running replica is
                // restarted all the same, as after a crash.
                self.system.order(id).restart();
            }
            _ => {}
        }
    }

    /// One admin request as the operator; the answer, or why there was none, for the report.
    async fn admin_request(&self, subject: &str, body: String) -> String {
        let request = async_nats::Request::new()
            .payload(body.into())
            .timeout(Some(ADMIN_TIMEOUT));
        match self
            .system
            .client
            .send_request(subject.to_string(), request)
            .await
        {
            Ok(reply) => String::from_utf8_lossy(&reply.payload).into_owned(),
            Err(e) => format!("not sent: {e}"),
        }
    }
}
