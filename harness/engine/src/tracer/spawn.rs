//! Starting a writer under ptrace, up to its first instruction.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::unistd::Pid;

use super::engine::Session;
use super::resolve::Resolver;
use super::syscalls::Stops;
use super::{RunLimits, TraceError, WriterCommand, watchdog};
use crate::sys::{self, Resume, Wait};

/// A writer stopped after its `exec`, traced, with its output captures.
#[derive(Debug)]
pub struct Spawned {
    pub session: Session,
    pub stdout: File,
    pub stderr: File,
}

/// Spawns `cmd` in `sandbox`, stopping at the syscalls `stops` selects. Stdout is captured (the
/// writer's acknowledgement), and stderr (for error messages).
pub fn spawn(
    cmd: &WriterCommand,
    sandbox: &Path,
    stops: Stops,
    limits: &RunLimits,
) -> Result<Spawned, TraceError> {
    let sandbox_error = |source| TraceError::Sandbox {
        path: sandbox.to_path_buf(),
        source,
    };
    let resolver = Resolver::new(sandbox).map_err(sandbox_error)?;
    let program = find_program(&cmd.program, &cmd.env).map_err(|source| TraceError::Spawn {
        program: cmd.program.clone(),
        source,
    })?;
    let capture_error = |source| TraceError::Spawn {
        program: program.clone(),
        source,
    };
    let stdout = capture("torture-stdout").map_err(capture_error)?;
    let stderr = capture("torture-stderr").map_err(capture_error)?;

    let null = File::open("/dev/null").map_err(capture_error)?;
    let stdio = [null.as_fd(), stdout.as_fd(), stderr.as_fd()];
    let filter = stops.filter().map_err(|e| TraceError::Spawn {
        program: program.clone(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let began = Instant::now();
    let pid = sys::spawn_traced(
        &program,
        &cmd.args,
        &cmd.env,
        resolver.sandbox(),
        stdio,
        &filter,
    )
    .map_err(capture_error)?;
    let registration =
        watchdog::register(pid, limits.timeout_ms, limits.cancel.clone()).map_err(|source| {
            TraceError::Spawn {
                program: program.clone(),
                source,
            }
        })?;
    let mut session = Session::new(pid, registration, began, resolver);
    if let Err(error) = await_exec(pid, &program, &stderr) {
        session.abandon_if_reaped(pid);
        return Err(error);
    }
    Ok(Spawned {
        session,
        stdout,
        stderr,
    })
}

/// Waits for the SIGTRAP that ends a successful `execve` under `PTRACE_TRACEME`, then sets the
/// tracer options and lets the writer run. On error the caller's `Session` kills and reaps.
fn await_exec(pid: Pid, program: &Path, stderr: &File) -> Result<(), TraceError> {
    let ptrace_error = |request, errno| TraceError::Ptrace {
        pid: pid.as_raw(),
        request,
        errno,
    };
    let how = match sys::wait_for(pid).map_err(|errno| ptrace_error("waitpid", errno))? {
        Wait::Signal {
            signal: libc::SIGTRAP,
            ..
        } => None,
        Wait::Exited { code, .. } => Some(format!("exited with status {code}")),
        Wait::Signaled { signal, .. } => Some(format!("was killed by signal {signal}")),
        other @ (Wait::Seccomp { .. }
        | Wait::SyscallExit { .. }
        | Wait::Event { .. }
        | Wait::Signal { .. }) => Some(format!("stopped unexpectedly ({other:?})")),
    };
    if let Some(how) = how {
        let detail = read_all(stderr).unwrap_or_default();
        let message = format!("{how} before its program started{}", stderr_suffix(&detail));
        return Err(TraceError::Spawn {
            program: program.to_path_buf(),
            source: io::Error::other(message),
        });
    }
    sys::set_trace_options(pid).map_err(|errno| ptrace_error("PTRACE_SETOPTIONS", errno))?;
    sys::resume(pid, Resume::Continue, 0).map_err(|errno| ptrace_error("PTRACE_CONT", errno))
}

fn stderr_suffix(detail: &[u8]) -> String {
    let text = String::from_utf8_lossy(detail);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// An in-memory file for a writer's output: no pipe that could fill and block the writer.
fn capture(name: &str) -> io::Result<File> {
    sys::capture_file(name).map(File::from)
}

/// Everything written to a capture file.
pub fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let mut file = file;
    file.seek(SeekFrom::Start(0))?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

/// Resolves the program the way `execvp` would, up front: a failed `exec` cannot report its
/// error once the filter is installed (see `sys::spawn_traced`), and `execve` does not search.
pub fn find_program(program: &Path, env: &[(OsString, OsString)]) -> io::Result<PathBuf> {
    if program.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty program name",
        ));
    }
    if program.as_os_str().as_bytes().contains(&b'/') {
        let absolute = std::path::absolute(program)?;
        return check_executable(&absolute).map(|()| absolute);
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| check_executable(candidate).is_ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not found in PATH"))
}

fn check_executable(path: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file", path.display()),
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not executable", path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_program_searches_path_and_checks_files() {
        assert_eq!(
            find_program(Path::new("sh"), &[])
                .unwrap()
                .file_name()
                .unwrap(),
            "sh"
        );
        let env = [(OsString::from("PATH"), OsString::from("/nonexistent"))];
        assert_eq!(
            find_program(Path::new("sh"), &env).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            find_program(Path::new("/bin/sh"), &[]).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert!(find_program(Path::new("/nonexistent/writer"), &[]).is_err());
        assert!(
            find_program(Path::new("/etc/passwd"), &[]).is_err(),
            "not executable"
        );
        assert!(find_program(Path::new("/"), &[]).is_err(), "a directory");
        assert!(find_program(Path::new(""), &[]).is_err());
    }
}
