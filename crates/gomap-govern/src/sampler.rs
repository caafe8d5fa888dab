//! The sampler thread: samples and exports on an interval, survives
//! panics in what it calls, and is visible when it dies anyway.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::events::EventKind;
use crate::registry::{catch_message, panic_message, registry_event, Registry};

/// The shortest interval [`Registry::start_sampler`] takes.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Whether a registry's sampler runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SamplerState {
    /// No sampler thread was started, or every one was stopped.
    #[default]
    NotRunning,
    /// At least one sampler thread runs.
    Running,
    /// A sampler thread died of a panic that escaped its tick's guard (its
    /// handle, when dropped, logs it; [`Sampler::stop`] returns it), and no
    /// sampler runs: no sampling, trends, exports or total breaker until a
    /// new one is started. (Reported until then, even if other samplers
    /// ended normally since.)
    Died {
        /// The panic's message.
        message: String,
    },
}

/// The registry's view of its sampler threads.
#[derive(Default)]
pub(crate) struct SamplerStatus {
    running: AtomicUsize,
    died: Mutex<Option<String>>,
    /// Ticks that panicked and were caught.
    pub(crate) panics: AtomicU64,
}

impl SamplerStatus {
    pub(crate) fn state(&self) -> SamplerState {
        if self.running.load(Relaxed) > 0 {
            return SamplerState::Running;
        }
        // Not running, and the last start's samplers all ended: died, or not.
        match &*self.died.lock() {
            Some(message) => SamplerState::Died {
                message: message.clone(),
            },
            None => SamplerState::NotRunning,
        }
    }
}

/// The sampler thread of [`Registry::start_sampler`]. Dropping it stops the
/// thread and waits for it; if the thread had died of a panic, the drop
/// logs it with `tracing::error!` ([`stop`](Self::stop) hands it back
/// instead).
#[must_use = "dropping the Sampler stops the thread"]
pub struct Sampler {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Stops the thread and waits for it: `Err` with the panic's payload if
    /// it had died (pass it to `std::panic::resume_unwind` to propagate).
    pub fn stop(mut self) -> std::thread::Result<()> {
        self.join()
    }

    fn join(&mut self) -> std::thread::Result<()> {
        drop(self.stop.take());
        match self.thread.take() {
            Some(thread) => thread.join(),
            None => Ok(()),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if let Err(payload) = self.join() {
            tracing::error!(
                message = %panic_message(&*payload),
                "gomap: the sampler thread had died of a panic"
            );
        }
    }
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("finished", &self.thread.as_ref().map(|t| t.is_finished()))
            .finish()
    }
}

impl Registry {
    /// Starts a thread that calls [`sample`](Self::sample) and
    /// [`export_metrics`](Self::export_metrics) every `interval` (at least
    /// a millisecond), until the returned handle is dropped.
    ///
    /// So every `interval` it also finishes a bounded piece of the
    /// migrations idle [`GovernedSharded`](crate::GovernedSharded) maps were
    /// left in ([`RegistryConfig::maintenance_budget`](crate::RegistryConfig::maintenance_budget)
    /// entries' worth per free shard), never waiting for a held shard. It
    /// cannot reach plain [`Governed`](crate::Governed) maps: call
    /// [`Governed::step_migration`](crate::Governed::step_migration) on
    /// their idle time yourself.
    ///
    /// A tick that panics (a `metrics` recorder that panics, say) is caught,
    /// logged, recorded as an event and counted in
    /// [`Health::sampler_panics`](crate::Health::sampler_panics); the
    /// sampler goes on. Should the thread die anyway,
    /// [`Health::sampler`](crate::Health::sampler) says so. (It exports
    /// into the global `metrics` recorder, which keeps a dropped map's last
    /// values; the `http` feature's `/metrics` renders afresh and shows live
    /// maps only.)
    ///
    /// # Errors
    ///
    /// When the thread cannot be spawned.
    pub fn start_sampler(&self, interval: Duration) -> std::io::Result<Sampler> {
        // A zero interval would spin a core.
        let interval = interval.max(MIN_INTERVAL);
        let (stop, stopped) = mpsc::channel::<()>();
        let registry = self.clone();
        let status = &self.inner.sampler;
        // A new sampler: an earlier one's death is history now.
        *status.died.lock() = None;
        status.running.fetch_add(1, Relaxed);
        let spawned = std::thread::Builder::new()
            .name("gomap-sampler".into())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                        registry.tick();
                    }
                }));
                let status = &registry.inner.sampler;
                if let Err(payload) = &result {
                    *status.died.lock() = Some(panic_message(&**payload));
                }
                let running = status.running.fetch_sub(1, Relaxed) - 1;
                // The global recorder keeps the last value it was given: tell
                // it no sampler runs, or a dead sampler would look alive.
                let _ = catch_unwind(|| {
                    metrics::gauge!(crate::export::SAMPLER_RUNNING)
                        .set(f64::from(u8::from(running > 0)));
                });
                if let Err(payload) = result {
                    resume_unwind(payload);
                }
            });
        match spawned {
            Ok(thread) => Ok(Sampler {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(e) => {
                status.running.fetch_sub(1, Relaxed);
                Err(e)
            }
        }
    }

    /// One sampler tick: sample and export, a panic in either caught.
    fn tick(&self) {
        let Err(message) = catch_message(|| {
            self.sample();
            self.export_metrics();
        }) else {
            return;
        };
        self.inner.sampler.panics.fetch_add(1, Relaxed);
        tracing::error!(%message, "gomap: a sampler tick panicked (caught; sampling goes on)");
        self.inner
            .events
            .emit(registry_event(EventKind::SamplerPanicked { message }));
    }
}
