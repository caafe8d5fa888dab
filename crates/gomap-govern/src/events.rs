//! What happened: level changes and failures of user code, kept in a
//! bounded ring and sent to bounded subscriptions.
//!
//! Nothing here grows without bound: the ring keeps the last
//! `RegistryConfig::kept_events`, and each [`Subscription`] holds at most
//! `RegistryConfig::subscription_capacity` unread events — when a reader
//! falls behind, the oldest are dropped and counted, so a subscriber that
//! never reads costs a fixed amount of memory, not a leak.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

use crate::level::{Level, Measure};

/// Something the registry reports: a change of level, or user code that
/// panicked. See [`EventKind`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// The map's name, or `None` for the registry itself (its total, its
    /// sampler).
    pub map: Option<String>,
    /// Where the map was created (`file:line:column`), or `None`.
    pub site: Option<String>,
    /// When, as seconds since the Unix epoch.
    pub at_unix_secs: f64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A map's level (or the registry total's) changed.
    Level {
        /// The level before.
        from: Level,
        /// The level now.
        to: Level,
        /// The figure that moved it, in `measure`.
        value: u64,
        /// Bytes or entries.
        measure: Measure,
    },
    /// A user hook panicked; the panic was caught, and the level change
    /// that called it took effect all the same.
    HookPanicked {
        /// Which hook.
        hook: Hook,
        /// The panic's message.
        message: String,
    },
    /// A sampler tick panicked (in a `metrics` recorder, say); the panic was
    /// caught and the sampler goes on.
    SamplerPanicked {
        /// The panic's message.
        message: String,
    },
}

/// The user hooks a registry calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// A map's hook, set with `on_orange` on its builder.
    OnOrange,
    /// The registry's, set with [`Registry::on_total_orange`](crate::Registry::on_total_orange).
    OnTotalOrange,
}

impl Hook {
    /// The name, as in metrics labels and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Hook::OnOrange => "on_orange",
            Hook::OnTotalOrange => "on_total_orange",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Event {
    /// `(from, to)` if this is a change of level.
    ///
    /// ```
    /// use gomap_govern::{Event, EventKind, Level, Measure};
    ///
    /// let event = Event {
    ///     map: Some("cache".into()),
    ///     site: None,
    ///     at_unix_secs: 0.0,
    ///     kind: EventKind::Level { from: Level::Green, to: Level::Yellow, value: 10, measure: Measure::Entries },
    /// };
    /// assert_eq!(event.level_change(), Some((Level::Green, Level::Yellow)));
    /// ```
    pub fn level_change(&self) -> Option<(Level, Level)> {
        match self.kind {
            EventKind::Level { from, to, .. } => Some((from, to)),
            _ => None,
        }
    }
}

pub(crate) fn now_unix_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One subscriber's queue. Invariant: `events.len() <= capacity`.
struct Queue {
    events: Mutex<VecDeque<Event>>,
    ready: Condvar,
    capacity: usize,
    dropped: AtomicU64,
}

/// A stream of every [`Event`] from the moment of
/// [`Registry::subscribe`](crate::Registry::subscribe). Bounded: when more
/// than the registry's `subscription_capacity` events are unread, the
/// oldest are dropped and counted in [`dropped`](Self::dropped). Dropping
/// the subscription unsubscribes.
///
/// ```
/// use gomap_govern::{Governed, Registry, Watermarks};
///
/// let registry = Registry::new();
/// let events = registry.subscribe();
/// let mut map: Governed<u32, u32> = Governed::builder("m")
///     .registry(&registry)
///     .watermarks(Watermarks::entries(1, 2, 3).unwrap())
///     .build();
/// map.insert(1, 1);
/// assert_eq!(events.try_iter().count(), 1);
/// assert_eq!(events.dropped(), 0);
/// ```
pub struct Subscription {
    queue: Arc<Queue>,
}

impl Subscription {
    /// The oldest unread event, if any, without waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.queue.events.lock().pop_front()
    }

    /// The oldest unread event, waiting up to `timeout` for one.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = self.queue.events.lock();
        loop {
            if let Some(event) = events.pop_front() {
                return Some(event);
            }
            if self
                .queue
                .ready
                .wait_until(&mut events, deadline)
                .timed_out()
            {
                return events.pop_front();
            }
        }
    }

    /// Every unread event, oldest first, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv())
    }

    /// Events this subscription lost because it fell more than its capacity
    /// behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Relaxed)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("unread", &self.queue.events.lock().len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// The registry's record of events: the last few, and the subscribers.
pub(crate) struct EventLog {
    kept: usize,
    subscription_capacity: usize,
    ring: Mutex<VecDeque<Event>>,
    subscribers: Mutex<Vec<Weak<Queue>>>,
    /// Events subscribers lost, all of them together.
    pub(crate) dropped: AtomicU64,
}

impl EventLog {
    pub(crate) fn new(kept: usize, subscription_capacity: usize) -> EventLog {
        EventLog {
            kept,
            subscription_capacity: subscription_capacity.max(1),
            ring: Mutex::new(VecDeque::with_capacity(kept.min(1024))),
            subscribers: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        }
    }

    /// Keeps `event` in the ring and sends it to every subscriber; prunes
    /// the subscriptions that were dropped. Calls no user code.
    pub(crate) fn emit(&self, event: Event) {
        if self.kept > 0 {
            let mut ring = self.ring.lock();
            if ring.len() >= self.kept {
                ring.pop_front();
            }
            ring.push_back(event.clone());
        }
        self.subscribers.lock().retain(|queue| {
            let Some(queue) = queue.upgrade() else {
                return false;
            };
            let mut events = queue.events.lock();
            if events.len() >= queue.capacity {
                events.pop_front();
                queue.dropped.fetch_add(1, Relaxed);
                self.dropped.fetch_add(1, Relaxed);
            }
            events.push_back(event.clone());
            queue.ready.notify_one();
            true
        });
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        let queue = Arc::new(Queue {
            events: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            capacity: self.subscription_capacity,
            dropped: AtomicU64::new(0),
        });
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|q| q.strong_count() > 0);
        subscribers.push(Arc::downgrade(&queue));
        Subscription { queue }
    }

    /// The kept events, oldest first.
    pub(crate) fn kept(&self) -> Vec<Event> {
        self.ring.lock().iter().cloned().collect()
    }

    /// Subscriptions not yet dropped.
    pub(crate) fn subscribers(&self) -> usize {
        self.subscribers
            .lock()
            .iter()
            .filter(|q| q.strong_count() > 0)
            .count()
    }
}
