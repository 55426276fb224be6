//! Fault injection on request, the serving side of the operator's `admin.>` subjects.
//!
//! A service started with `--fault-injection` spawns [`spawn_admin`]; without the flag it never
//! subscribes, so the broker answers "no responders". The [`FaultGate`] is what a request
//! changes: the service's own loops (election, handlers, log follower) await
//! [`FaultGate::pass`] so a pause freezes their progress as SIGSTOP would, and reply paths await
//! [`FaultGate::before_reply`] so a delay slows every answer. A crash exits the process at once,
//! without draining, as kill -9 would. Every request is answered before its fault takes effect.
//! The admin listener itself is never paused, so a frozen replica can still be crashed.

use crate::messages::admin::{
    fault_duration, AdminReply, DelayFault, DurationOutOfRange, PauseFault,
};
use crate::subjects;
use futures::StreamExt as _;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The status a crash on request exits with (EX_SOFTWARE), so a supervisor's log tells it from
/// a signal.
pub const CRASH_EXIT_CODE: i32 = 70;

#[derive(Debug, Default)]
struct State {
    paused_until: Option<Instant>,
    delay: Option<(Duration, Instant)>,
    stepdown: bool,
}

/// The faults currently in force in one process; cheap to clone, shared by its tasks.
#[derive(Debug, Clone, Default)]
pub struct FaultGate(Arc<Mutex<State>>);

impl FaultGate {
    /// A gate with no fault in force.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Returns at once unless a pause is in force; then waits until it is over.
    pub async fn pass(&self) {
        while let Some(until) = self.with(|s| s.paused_until) {
            if until <= Instant::now() {
                self.with(|s| s.paused_until = None);
                return;
            }
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// [`Self::pass`], then the reply delay if one is in force.
    pub async fn before_reply(&self) {
        self.pass().await;
        let delay = self.with(|s| match s.delay {
            Some((delay, until)) if Instant::now() < until => Some(delay),
            _ => None,
        });
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// Freezes every task that passes this gate for `duration`.
    pub fn pause(&self, duration: Duration) {
        self.with(|s| s.paused_until = Some(Instant::now() + duration));
    }

    /// Holds every reply `delay`, for the next `lasting`.
    pub fn delay(&self, delay: Duration, lasting: Duration) {
        self.with(|s| s.delay = Some((delay, Instant::now() + lasting)));
    }

    /// Asks the election to give up the lease.
    pub fn request_stepdown(&self) {
        self.with(|s| s.stepdown = true);
    }

    /// Whether a step-down was asked for since the last call.
    pub fn take_stepdown(&self) -> bool {
        self.with(|s| std::mem::take(&mut s.stepdown))
    }
}

/// Whose admin subjects a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTarget {
    /// Order replica `id`: stepdown, pause, crash, delay.
    Order(u32),
    /// The catalog: pause, crash, delay.
    Catalog,
}

/// One admin command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Stepdown,
    Pause,
    Crash,
    Delay,
}

impl AdminTarget {
    fn subjects(self) -> Vec<(String, Command)> {
        match self {
            Self::Order(id) => vec![
                (subjects::admin_order_stepdown(id), Command::Stepdown),
                (subjects::admin_order_pause(id), Command::Pause),
                (subjects::admin_order_crash(id), Command::Crash),
                (subjects::admin_order_delay(id), Command::Delay),
            ],
            Self::Catalog => vec![
                (subjects::admin_catalog_pause(), Command::Pause),
                (subjects::admin_catalog_crash(), Command::Crash),
                (subjects::admin_catalog_delay(), Command::Delay),
            ],
        }
    }
}

/// What to do once the reply is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Nothing,
    Stepdown,
    Pause(Duration),
    Delay(Duration, Duration),
    Crash,
}

/// Tells whether the process leads (for the step-down note).
pub type Leading = Arc<dyn Fn() -> bool + Send + Sync>;

/// Subscribes to `target`'s admin subjects and serves them on a task of its own; abort the
/// handle (or drop the client) to stop. `leading` tells a step-down whether there is a lease to
/// give up.
///
/// # Errors
/// When a subscription cannot be made.
pub async fn spawn_admin(
    client: async_nats::Client,
    target: AdminTarget,
    gate: FaultGate,
    leading: Leading,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let mut streams = Vec::new();
    for (subject, command) in target.subjects() {
        let subscriber = client.subscribe(subject).await?;
        streams.push(subscriber.map(move |m| (command, m)).boxed());
    }
    let mut all = futures::stream::select_all(streams);
    tracing::info!(
        ?target,
        "fault injection enabled: serving the admin subjects"
    );
    Ok(tokio::spawn(async move {
        while let Some((command, message)) = all.next().await {
            handle(&client, command, message, &gate, &leading).await;
        }
    }))
}

async fn handle(
    client: &async_nats::Client,
    command: Command,
    message: async_nats::Message,
    gate: &FaultGate,
    leading: &Leading,
) {
    let (reply, action) = decide(command, &message.payload, leading());
    match &reply {
        AdminReply::Error { error } => tracing::warn!(
            subject = %message.subject,
            payload = %String::from_utf8_lossy(&message.payload[..message.payload.len().min(200)]),
            %error,
            "bad admin request"
        ),
        AdminReply::Ok { .. } => {
            tracing::warn!(subject = %message.subject, ?action, "fault injected on request")
        }
    }
    if let Some(to) = message.reply {
        let body = serde_json::to_vec(&reply).unwrap_or_default();
        if let Err(e) = client.publish(to, body.into()).await {
            tracing::warn!(error = %e, "could not send the admin reply");
        }
        // The reply must be on the wire before a crash or pause takes effect.
        let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    }
    match action {
        Action::Nothing => {}
        Action::Stepdown => gate.request_stepdown(),
        Action::Pause(d) => gate.pause(d),
        Action::Delay(d, lasting) => gate.delay(d, lasting),
        Action::Crash => {
            tracing::error!("crashing on request, without cleanup");
            std::process::exit(CRASH_EXIT_CODE);
        }
    }
}

/// Why an admin request was refused; its text is the reply's `error`, for the operator.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// A subject that takes no body got one.
    #[error("this subject takes an empty body")]
    NotEmpty,
    /// The body is not the JSON the subject takes.
    #[error("malformed request: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A duration is out of range.
    #[error(transparent)]
    OutOfRange(#[from] DurationOutOfRange),
}

/// The reply and the action for one request; pure, so the rules are testable without a bus.
fn decide(command: Command, payload: &[u8], leading: bool) -> (AdminReply, Action) {
    let result = match command {
        Command::Stepdown => empty(payload).map(|()| {
            if leading {
                (AdminReply::ok(), Action::Stepdown)
            } else {
                (
                    AdminReply::noted("not leading; nothing to give up"),
                    Action::Nothing,
                )
            }
        }),
        Command::Crash => empty(payload).map(|()| (AdminReply::ok(), Action::Crash)),
        Command::Pause => parse::<PauseFault>(payload)
            .and_then(|p| Ok(fault_duration("ms", p.ms, 1)?))
            .map(|d| (AdminReply::ok(), Action::Pause(d))),
        Command::Delay => parse::<DelayFault>(payload).and_then(|d| {
            let delay = fault_duration("ms", d.ms, 0)?;
            let lasting = fault_duration("for_ms", d.for_ms, 0)?;
            Ok((AdminReply::ok(), Action::Delay(delay, lasting)))
        }),
    };
    result.unwrap_or_else(|refusal| (AdminReply::error(refusal.to_string()), Action::Nothing))
}

fn empty(payload: &[u8]) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(payload);
    match text.trim() {
        "" | "{}" => Ok(()),
        _ => Err(Refusal::NotEmpty),
    }
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Refusal> {
    Ok(serde_json::from_slice(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_anything_happens() {
        let (reply, action) = decide(Command::Pause, br#"{"ms":3000}"#, true);
        assert_eq!(reply, AdminReply::ok());
        assert_eq!(action, Action::Pause(Duration::from_secs(3)));
        let (reply, action) = decide(Command::Pause, br#"{"ms":600000}"#, true);
        assert!(matches!(reply, AdminReply::Error { .. }));
        assert_eq!(action, Action::Nothing);
        let (reply, action) = decide(Command::Delay, b"not json", true);
        assert!(matches!(reply, AdminReply::Error { error } if error.contains("malformed")));
        assert_eq!(action, Action::Nothing);
        let (_, action) = decide(Command::Crash, b"{\"now\":1}", true);
        assert_eq!(action, Action::Nothing);
    }

    #[test]
    fn a_follower_asked_to_step_down_says_so() {
        let (reply, action) = decide(Command::Stepdown, b"", false);
        assert!(matches!(reply, AdminReply::Ok { note: Some(_) }));
        assert_eq!(action, Action::Nothing);
        assert_eq!(decide(Command::Stepdown, b"", true).1, Action::Stepdown);
    }

    #[tokio::test]
    async fn a_pause_holds_the_gate_until_it_ends() {
        let gate = FaultGate::new();
        gate.pause(Duration::from_millis(100));
        let started = Instant::now();
        gate.pass().await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        gate.delay(Duration::from_millis(50), Duration::from_secs(5));
        let started = Instant::now();
        gate.before_reply().await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(!gate.take_stepdown());
        gate.request_stepdown();
        assert!(gate.take_stepdown());
        assert!(!gate.take_stepdown());
    }
}
