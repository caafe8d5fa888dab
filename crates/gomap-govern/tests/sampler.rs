//! The sampler thread against a `metrics` recorder that panics: each tick's
//! panic is caught and the sampler goes on; and when a panic escapes anyway
//! (here: the logging of the caught one panics too), the registry reports
//! the sampler dead and its handle hands the panic back.
//!
//! Its own test binary: it installs a global recorder and a global tracing
//! subscriber.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use gomap_govern::{EventKind, Governed, Registry, SamplerState};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata as TracingMetadata, Subscriber};

mod common;
use common::eventually;

/// Panics on every metric it is handed.
struct PanickingRecorder;

impl Recorder for PanickingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        panic!("the recorder fails")
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        panic!("the recorder fails")
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        panic!("the recorder fails")
    }
}

/// Panics on ERROR events while `LOGGING_FAILS` is set.
struct PanickingLogger;

static LOGGING_FAILS: AtomicBool = AtomicBool::new(false);

impl Subscriber for PanickingLogger {
    fn enabled(&self, _: &TracingMetadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::ERROR && LOGGING_FAILS.load(Relaxed) {
            panic!("the logger fails");
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn the_sampler_survives_panicking_ticks_and_reports_its_death() {
    metrics::set_global_recorder(PanickingRecorder).unwrap();
    tracing::subscriber::set_global_default(PanickingLogger).unwrap();
    let registry = Registry::new();
    let mut map: Governed<u64, u64> = Governed::builder("m").registry(&registry).build();
    map.insert(1, 1);

    // Every tick's export panics; each is caught and the sampler goes on.
    let sampler = registry.start_sampler(Duration::from_millis(1)).unwrap();
    eventually("three ticks panicked", || {
        registry.health().sampler_panics >= 3
    });
    assert_eq!(registry.health().sampler, SamplerState::Running);
    assert!(registry.events().iter().any(|e| matches!(
        &e.kind,
        EventKind::SamplerPanicked { message } if message == "the recorder fails"
    )));
    assert!(sampler.stop().is_ok());
    assert_eq!(registry.health().sampler, SamplerState::NotRunning);

    // Now the logging of a caught panic panics too: the thread dies, and
    // says so.
    LOGGING_FAILS.store(true, Relaxed);
    let sampler = registry.start_sampler(Duration::from_millis(1)).unwrap();
    eventually("the sampler died", || {
        matches!(registry.health().sampler, SamplerState::Died { .. })
    });
    assert_eq!(
        registry.health().sampler,
        SamplerState::Died {
            message: "the logger fails".into()
        }
    );
    let payload = sampler.stop().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the logger fails"));
    LOGGING_FAILS.store(false, Relaxed);
}
