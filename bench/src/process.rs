//! The programs under test, each in its own process: started, waited for,
//! measured (resident memory from `/proc`) and stopped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A binary built next to this one (`target/release/NAME`).
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let path = exe.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (`bench/run` builds everything with `cargo build --release`)",
            path.display()
        );
    }
    Ok(path)
}

/// A child process, killed when dropped.
pub struct Running {
    child: Child,
    name: String,
}

impl Running {
    /// Start `command` and wait until it prints a line starting with
    /// `LISTENING` on stdout; its stderr goes to `log`.
    pub fn until_listening(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("LISTENING") => break,
                Some(Ok(_)) => continue,
                _ => {
                    let _ = child.kill();
                    bail!("{name} exited before listening");
                }
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Running {
            child,
            name: name.to_owned(),
        })
    }

    /// Start `command` (stdout and stderr to `log`) and wait until
    /// `healthz` answers 200; returns how long that took.
    pub fn until_healthy(
        name: &str,
        mut command: Command,
        log: &Path,
        healthz: &str,
    ) -> anyhow::Result<(Self, Duration)> {
        let file = std::fs::File::create(log)?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut running = Running {
            child,
            name: name.to_owned(),
        };
        while started.elapsed() < Duration::from_secs(120) {
            if let Some(status) = running.child.try_wait()? {
                bail!(
                    "{name} exited ({status}) before serving; its log: {}",
                    log.display()
                );
            }
            if http_get_ok(healthz) {
                return Ok((running, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        bail!(
            "{name} did not become healthy within 120 s; its log: {}",
            log.display()
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now and at its peak, in MiB (`VmRSS`, `VmHWM`).
    pub fn memory_mib(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/PID/status"))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed /proc/PID/status")?
                .parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Whether it is still running.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}) during the run", self.name);
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first: mcpgate flushes its audit log on the way out.
        // SAFETY: kill(2) with a pid we own; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a plain HTTP GET of `url` (`http://host:port/path`) answers 200.
fn http_get_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut stream) = std::net::TcpStream::connect(authority) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// Run `command` to completion; returns its stdout, its wall time and the
/// peak resident memory of the process in MiB (`getrusage` of the waited
/// child: `ru_maxrss`).
pub fn measure(mut command: Command) -> anyhow::Result<(String, Duration, f64)> {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let output = {
        let mut child = child;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let out = std::thread::spawn(move || std::io::read_to_string(stdout));
        let err = std::thread::spawn(move || std::io::read_to_string(stderr));
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for our child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child, with valid pointers.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited != pid {
            bail!("wait4 failed: {}", std::io::Error::last_os_error());
        }
        let elapsed = started.elapsed();
        let stdout = out.join().expect("reader")?;
        let stderr = err.join().expect("reader")?;
        let status = std::process::ExitStatus::from_raw(status);
        if !status.success() {
            bail!("{command:?} failed ({status}): {stderr}");
        }
        // ru_maxrss is in KiB on Linux.
        (stdout, elapsed, usage.ru_maxrss as f64 / 1024.0)
    };
    Ok(output)
}
