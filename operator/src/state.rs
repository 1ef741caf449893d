//! State shared between the status loop and the HTTP endpoints.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct State {
    ready: AtomicBool,
    writes: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl State {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn record_success(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.ready.store(true, Ordering::Relaxed);
        *self.last_error.lock().unwrap() = None;
    }

    pub fn record_failure(&self, error: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap() = Some(error);
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn metrics(&self) -> String {
        let failing = u8::from(self.last_error().is_some());
        format!(
            "# HELP kube9_operator_info Build information.\n\
             # TYPE kube9_operator_info gauge\n\
             kube9_operator_info{{version=\"{version}\",commit=\"{commit}\"}} 1\n\
             # HELP kube9_operator_status_writes_total Status ConfigMap writes that succeeded.\n\
             # TYPE kube9_operator_status_writes_total counter\n\
             kube9_operator_status_writes_total {writes}\n\
             # HELP kube9_operator_status_write_errors_total Status ConfigMap writes that failed.\n\
             # TYPE kube9_operator_status_write_errors_total counter\n\
             kube9_operator_status_write_errors_total {failures}\n\
             # HELP kube9_operator_status_failing 1 while the last status write failed.\n\
             # TYPE kube9_operator_status_failing gauge\n\
             kube9_operator_status_failing {failing}\n",
            version = crate::build_info::VERSION,
            commit = crate::build_info::COMMIT,
            writes = self.writes.load(Ordering::Relaxed),
            failures = self.failures.load(Ordering::Relaxed),
        )
    }
}
