//! Requests per second per client address, so one client cannot take the whole frontend.
//!
//! The client is the TCP peer of the connection ([`ConnectInfo`]); `X-Forwarded-For` is not
//! honoured, because any client can write it. Behind a proxy every client therefore shares the
//! proxy's address and its limit. IPv6 peers are keyed by their /64 prefix, the block one host
//! is usually given, so a client cannot escape its limit by changing the low bits.
//!
//! Over the limit a request is answered 429 with the JSON error body and `Retry-After`, before
//! any handler work.

use crate::config::EdgeLimits;
use crate::error::AppError;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often addresses whose allowance is full again are forgotten, bounding the memory that
/// many distinct clients can make the limiter use.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimit {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimit {
    /// The limit of `limits`, or `None` when its rate is 0 (off). A burst of 0 means one
    /// second's worth of the rate.
    pub fn new(limits: &EdgeLimits) -> Option<Arc<Self>> {
        let rate = NonZeroU32::new(limits.rate_limit_per_ip)?;
        let burst = NonZeroU32::new(limits.rate_limit_burst).unwrap_or(rate);
        Some(Arc::new(Self {
            buckets: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        }))
    }

    /// Takes one request from `client`'s allowance, or says how long until it has one again.
    ///
    /// # Errors
    /// The wait, when the allowance is spent.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.buckets
            .check_key(&client_key(client))
            .map_err(|not_until| not_until.wait_time_from(self.buckets.clock().now()))
    }

    /// Forgets, every minute until `stop`, the addresses whose allowance is full again.
    pub async fn forget_idle_clients(self: Arc<Self>, stop: CancellationToken) {
        let mut every = tokio::time::interval(FORGET_EVERY);
        every.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {
                    self.buckets.retain_recent();
                    self.buckets.shrink_to_fit();
                }
            }
        }
    }
}

/// Middleware: answers 429 when the peer is over `limit`, else passes the request on.
///
/// With no limit (`None`) every request passes, and so does a request without [`ConnectInfo`]
/// (a router served by something other than [`edge::serve`](crate::edge::serve)): it has no
/// client to count.
pub async fn enforce(
    State(limit): State<Option<Arc<RateLimit>>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let (Some(limit), Some(client)) = (limit, peer) {
        if let Err(wait) = limit.check(client) {
            tracing::debug!(%client, ?wait, "rate limited");
            return AppError::TooManyRequests {
                retry_after_secs: whole_seconds_up(wait),
            }
            .into_response();
        }
    }
    next.run(request).await
}

/// `Retry-After` counts whole seconds: round up, and never say 0 to a client we just refused.
fn whole_seconds_up(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// The bucket an address counts against: IPv4 (also when mapped into IPv6) as it is, IPv6 by
/// its /64 prefix.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: u32, burst: u32) -> Arc<RateLimit> {
        RateLimit::new(&EdgeLimits {
            rate_limit_per_ip: rate,
            rate_limit_burst: burst,
            ..EdgeLimits::default()
        })
        .expect("a non-zero rate is a limit")
    }

    #[test]
    fn an_address_over_its_burst_waits_while_another_address_is_served() {
        let limit = limit(1, 3);
        let greedy: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limit.check(greedy), Ok(()));
        }
        let wait = limit.check(greedy).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert_eq!(limit.check(other), Ok(()));
    }

    #[test]
    fn a_zero_rate_is_no_limit_and_a_zero_burst_is_one_second_of_the_rate() {
        assert!(RateLimit::new(&EdgeLimits {
            rate_limit_per_ip: 0,
            ..EdgeLimits::default()
        })
        .is_none());
        let limit = limit(1, 0);
        let client: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(limit.check(client), Ok(()));
        assert!(limit.check(client).is_err());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_prefix_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::7".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_one_second() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(3)), 3);
    }
}
