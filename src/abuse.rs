//! Limits that hold across connections: per person, and per address.
//!
//! The per-connection rate limit (`ws`) bounds one socket, but a person may
//! open many sockets, and one address may become many people. So:
//!
//! - a person's frames are limited over all of their connections together,
//!   keyed by forum and participant (or by forum and role for the moderator
//!   and the displays, who share one token each and get more);
//! - an address may create only so many new participants a minute: every
//!   join is persisted and broadcast, and in an open forum it is one more
//!   ballot (a rejoin without a token is a new person);
//! - an address may present only so many wrong credentials (an unknown join
//!   code, a forged or foreign token) a minute; past that it is locked out,
//!   for longer each time, and while it is locked out every attempt is
//!   refused alike, right or wrong, so that the answer never tells whether a
//!   code exists.
//!
//! - an address may make only so many HTTP API requests a second: a public
//!   view or a code lookup wakes a forum, so one address must not be able
//!   to keep a forum busy answering it (the pages' assets are not limited).
//!
//! An address is an IPv4 address or an IPv6 /64 (`address_key`), as for the
//! connection caps. The keyed limiters remember a key until its allowance is
//! whole again; [`sweep`] forgets those every minute, so that the maps hold
//! only addresses and people seen lately.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use madang_protocol::ParticipantId;
use tokio_util::sync::CancellationToken;

use crate::domain::Actor;

/// One clock for every limiter: making one runs `cpuid`, which a virtual
/// machine traps.
pub(crate) static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

fn keyed<K: std::hash::Hash + Eq + Clone>(quota: Quota) -> Keyed<K> {
    RateLimiter::dashmap_with_clock(quota, CLOCK.clone())
}

/// How often the limiters forget keys whose allowance is whole again.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The first lockout of an address; each next one doubles, up to [`MAX_LOCKOUT`].
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(60);

/// The longest lockout. An address that stays clear of lockouts this long
/// after its last one ended starts again from [`FIRST_LOCKOUT`].
pub const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

/// The address a per-address limit counts under: an IPv4 address (also
/// when mapped into IPv6), or the /64 prefix of an IPv6 address, since one
/// subscriber typically gets a whole /64.
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// The address a WebSocket's limits count under: the socket's peer, or,
/// with `trust_forwarded_for`, the last entry of the last `X-Forwarded-For`
/// header. A reverse proxy appends the address it saw to whatever the
/// client sent, so only that last entry is the proxy's word; the rest is
/// the client's. Trusted only by option, since without a proxy in front a
/// client could write any address there.
pub(crate) fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if !trust_forwarded_for {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// Who a person is, for the per-person limit: the same key on every one of
/// their connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Person {
    forum: Arc<str>,
    who: Who,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Participant(ParticipantId),
    Moderator,
    Display,
}

impl Person {
    pub(crate) fn new(forum: &str, actor: Actor) -> Person {
        let who = match actor {
            Actor::Participant(id) => Who::Participant(id),
            Actor::Moderator => Who::Moderator,
            Actor::Display => Who::Display,
        };
        Person { forum: Arc::from(forum), who }
    }
}

/// Frames per person, over all of their connections.
#[derive(Debug, Clone)]
pub struct PersonLimits {
    /// A participant's frames per second, sustained.
    pub participant_per_sec: NonZeroU32,
    pub participant_burst: NonZeroU32,
    /// The moderator's (and each display role's) frames per second: one
    /// token may be shared by co-moderators, and a moderator's work comes in
    /// bursts (building an agenda, approving a queue of ideas).
    pub staff_per_sec: NonZeroU32,
    pub staff_burst: NonZeroU32,
}

impl Default for PersonLimits {
    /// A participant gets what one connection gets, however many they open.
    fn default() -> Self {
        PersonLimits {
            participant_per_sec: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            participant_burst: NonZeroU32::new(40).unwrap_or(NonZeroU32::MIN),
            staff_per_sec: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            staff_burst: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// The per-person limiter, shared by every connection of the server.
pub(crate) struct PersonLimiter {
    participants: Keyed<Person>,
    staff: Keyed<Person>,
}

impl PersonLimiter {
    pub(crate) fn new(limits: &PersonLimits) -> PersonLimiter {
        PersonLimiter {
            participants: keyed(Quota::per_second(limits.participant_per_sec).allow_burst(limits.participant_burst)),
            staff: keyed(Quota::per_second(limits.staff_per_sec).allow_burst(limits.staff_burst)),
        }
    }

    /// Whether `person` may send one more frame now (and count it if so).
    pub(crate) fn allow(&self, person: &Person) -> bool {
        let limiter = match person.who {
            Who::Participant(_) => &self.participants,
            Who::Moderator | Who::Display => &self.staff,
        };
        limiter.check_key(person).is_ok()
    }

    fn sweep(&self) {
        for limiter in [&self.participants, &self.staff] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Limits per address on authenticating.
#[derive(Debug, Clone)]
pub struct AddressLimits {
    /// New participants one address may create per minute, sustained; 0 for
    /// no limit.
    pub joins_per_minute: u32,
    /// New participants one address may create at once.
    pub join_burst: u32,
    /// Wrong credentials one address may present per minute before it is
    /// locked out; 0 for no limit.
    pub failed_auths_per_minute: u32,
    pub failed_auth_burst: u32,
    /// HTTP API requests (`/api/...`) one address may make per second,
    /// sustained; 0 for no limit.
    pub api_requests_per_sec: u32,
    pub api_request_burst: u32,
}

impl Default for AddressLimits {
    /// A hall of 200 phones behind one NAT address is all in within 70 s:
    /// 60 at once, then 2 a second. A hall's typos (20 at once, then 10 a
    /// minute) do not lock it out, while one address guesses at most 14,400
    /// join codes a day of the 31^6 (SPEC §13).
    fn default() -> Self {
        AddressLimits {
            joins_per_minute: 120,
            join_burst: 60,
            failed_auths_per_minute: 10,
            failed_auth_burst: 20,
            // A hall's phones look their forum up once each as they join.
            api_requests_per_sec: 10,
            api_request_burst: 60,
        }
    }
}

/// Why an address may not authenticate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressRefusal {
    #[error("too many attempts from this address; try again later")]
    LockedOut,
    #[error("too many new participants from this address; try again in a few seconds")]
    TooManyJoins,
    #[error("too many requests from this address; try again in a second")]
    TooManyRequests,
}

/// The per-address limits' state, shared by every connection of the server.
pub(crate) struct AddressGuard {
    joins: Option<Keyed<IpAddr>>,
    failures: Option<Keyed<IpAddr>>,
    api: Option<Keyed<IpAddr>>,
    lockouts: DashMap<IpAddr, Lockout>,
}

#[derive(Debug, Clone, Copy)]
struct Lockout {
    until: Instant,
    length: Duration,
}

fn per_minute(per_minute: u32, burst: u32) -> Option<Quota> {
    let per_minute = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Some(Quota::per_minute(per_minute).allow_burst(burst))
}

impl AddressGuard {
    pub(crate) fn new(limits: &AddressLimits) -> AddressGuard {
        AddressGuard {
            joins: per_minute(limits.joins_per_minute, limits.join_burst).map(keyed),
            failures: per_minute(limits.failed_auths_per_minute, limits.failed_auth_burst).map(keyed),
            api: NonZeroU32::new(limits.api_requests_per_sec).map(|rate| {
                let burst = NonZeroU32::new(limits.api_request_burst).unwrap_or(NonZeroU32::MIN);
                keyed(Quota::per_second(rate).allow_burst(burst))
            }),
            lockouts: DashMap::new(),
        }
    }

    /// Refused if `peer` is locked out: checked before the credential is
    /// looked at, so that the refusal is the same for every credential.
    pub(crate) fn check_locked_out(&self, peer: IpAddr) -> Result<(), AddressRefusal> {
        let key = address_key(peer);
        match self.lockouts.get(&key) {
            Some(lockout) if Instant::now() < lockout.until => Err(AddressRefusal::LockedOut),
            _ => Ok(()),
        }
    }

    /// Count one new participant from `peer`; refused past the limit.
    pub(crate) fn join(&self, peer: IpAddr) -> Result<(), AddressRefusal> {
        match &self.joins {
            Some(joins) if joins.check_key(&address_key(peer)).is_err() => Err(AddressRefusal::TooManyJoins),
            _ => Ok(()),
        }
    }

    /// Count one HTTP API request from `peer`; refused past the limit.
    pub(crate) fn api_request(&self, peer: IpAddr) -> Result<(), AddressRefusal> {
        match &self.api {
            Some(api) if api.check_key(&address_key(peer)).is_err() => Err(AddressRefusal::TooManyRequests),
            _ => Ok(()),
        }
    }

    /// Count one wrong credential from `peer`; past the allowance, lock it out.
    pub(crate) fn failed(&self, peer: IpAddr) {
        let key = address_key(peer);
        let Some(failures) = &self.failures else { return };
        if failures.check_key(&key).is_ok() {
            return;
        }
        let now = Instant::now();
        let mut lockout = self.lockouts.entry(key).or_insert(Lockout { until: now, length: Duration::ZERO });
        if now < lockout.until {
            return;
        }
        let recent = lockout.length > Duration::ZERO && now.duration_since(lockout.until) < MAX_LOCKOUT;
        lockout.length = if recent { (lockout.length * 2).min(MAX_LOCKOUT) } else { FIRST_LOCKOUT };
        lockout.until = now + lockout.length;
        let (address, secs) = (key, lockout.length.as_secs());
        drop(lockout);
        tracing::warn!(%address, secs, "address locked out after repeated wrong credentials");
    }

    fn sweep(&self) {
        for limiter in [&self.joins, &self.failures, &self.api].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.lockouts.retain(|_, lockout| now < lockout.until + MAX_LOCKOUT);
        self.lockouts.shrink_to_fit();
    }
}

/// Every minute, forget what the limiters no longer need, until `shutdown`.
pub(crate) async fn sweep(people: Arc<PersonLimiter>, addresses: Arc<AddressGuard>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        people.sweep();
        addresses.sweep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_forwarded_for_gives_the_proxys_last_entry() {
        use axum::http::{HeaderMap, HeaderValue};
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(client_address(peer, &headers, true), peer, "no header: the peer");
        headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.9, 203.0.113.1"));
        assert_eq!(client_address(peer, &headers, false), peer, "not trusted");
        assert_eq!(client_address(peer, &headers, true), "203.0.113.1".parse::<IpAddr>().unwrap());
        headers.append("x-forwarded-for", HeaderValue::from_static("2001:db8::7"));
        assert_eq!(client_address(peer, &headers, true), "2001:db8::7".parse::<IpAddr>().unwrap());
        headers.append("x-forwarded-for", HeaderValue::from_static("unknown"));
        assert_eq!(client_address(peer, &headers, true), peer, "unreadable: the peer");
    }

    #[test]
    fn lockouts_double_up_to_the_longest() {
        let guard = AddressGuard::new(&AddressLimits {
            failed_auths_per_minute: 1,
            failed_auth_burst: 1,
            ..AddressLimits::default()
        });
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        guard.failed(peer);
        assert_eq!(guard.check_locked_out(peer), Ok(()), "within the allowance");
        guard.failed(peer);
        assert_eq!(guard.check_locked_out(peer), Err(AddressRefusal::LockedOut));
        let key = address_key(peer);
        assert_eq!(guard.lockouts.get(&key).unwrap().length, FIRST_LOCKOUT);
        for expected in [2, 4, 8, 16, 32, 60, 60] {
            // The last lockout has just ended.
            guard.lockouts.get_mut(&key).unwrap().until = Instant::now();
            guard.failed(peer);
            assert_eq!(guard.lockouts.get(&key).unwrap().length, Duration::from_secs(60 * expected));
        }
    }

    #[test]
    fn zero_means_no_limit() {
        let guard = AddressGuard::new(&AddressLimits {
            joins_per_minute: 0,
            join_burst: 0,
            failed_auths_per_minute: 0,
            failed_auth_burst: 0,
            api_requests_per_sec: 0,
            api_request_burst: 0,
        });
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..1000 {
            guard.failed(peer);
            assert_eq!(guard.join(peer), Ok(()));
            assert_eq!(guard.api_request(peer), Ok(()));
        }
        assert_eq!(guard.check_locked_out(peer), Ok(()));
    }
}
