//! Log records (the program's own and the vfio-user server's) go to
//! stderr, one line each: `rsio-fabric: message`, with the level in front
//! of warnings and errors. `RSIO_EMU_LOG` sets the level: `error`, `warn`,
//! `info` (the default) or `debug`.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // A failed write to stderr is not worth failing for (eprintln! would panic).
        let mut stderr = std::io::stderr().lock();
        let _ = match record.level() {
            Level::Error | Level::Warn => {
                writeln!(stderr, "rsio-fabric: {}: {}", record.level(), record.args())
            }
            _ => writeln!(stderr, "rsio-fabric: {}", record.args()),
        };
    }

    fn flush(&self) {}
}

/// Installs the logger.
pub fn init() {
    let level = match std::env::var("RSIO_EMU_LOG").as_deref() {
        Ok("error") => LevelFilter::Error,
        Ok("warn") => LevelFilter::Warn,
        Ok("debug") => LevelFilter::Debug,
        _ => LevelFilter::Info,
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
