//! The seccomp filter: a classic-BPF program that stops the writer (`SECCOMP_RET_TRACE`) only at
//! the syscalls a run needs, and its installation in the child.
//!
//! BPF jumps are 8-bit forward offsets. Every offset is computed by [`Program::offset`], which
//! refuses a jump that does not fit ([`FilterError::JumpTooFar`]) instead of truncating it: a
//! truncated offset would silently send a traced syscall to `ALLOW`, and the tracer would miss it.

use std::io;

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// x32 system calls run with the x86_64 audit arch but carry this bit in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets into `struct seccomp_data` (nr: i32, arch: u32, ip: u64, args: [u64; 6]).
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;
const fn seccomp_data_arg_low(index: u32) -> u32 {
    16 + 8 * index
}

/// The kernel refuses longer programs (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// An `mmap` only needs a stop when it can write to a file: `PROT_WRITE` and `MAP_SHARED`
/// (`MAP_SHARED_VALIDATE` has the same low bit). Other maps (every `malloc` arena, every shared
/// library) pass without a stop.
const PROT_WRITE_BIT: u32 = libc::PROT_WRITE as u32;
const MAP_SHARED_BIT: u32 = libc::MAP_SHARED as u32;

/// Instructions in the mmap block (see [`SeccompFilter::trace`]).
const MMAP_BLOCK_LEN: usize = 5;

/// Why a filter cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A jump would skip more instructions than BPF's 8-bit offset can say.
    #[error(
        "seccomp filter too long: a jump over {distance} instructions does not fit BPF's 8-bit offset (trace fewer syscalls)"
    )]
    JumpTooFar { distance: usize },
    /// More instructions than the kernel accepts.
    #[error("seccomp filter has {len} instructions; the kernel accepts at most {MAX_INSTRUCTIONS}")]
    TooLong { len: usize },
    /// A syscall number that is not a 32-bit value.
    #[error("syscall number {nr} does not fit seccomp's 32-bit field")]
    BadNumber { nr: i64 },
}

/// A classic-BPF seccomp program: built in the parent (it allocates), installed in the child
/// between `clone` and `exec` (which must not allocate).
#[derive(Debug, Clone)]
pub struct SeccompFilter {
    program: Box<[libc::sock_filter]>,
}

/// A program under construction; jumps are placed by index and checked when resolved.
struct Program {
    code: Vec<libc::sock_filter>,
}

impl Program {
    fn push(&mut self, code: u32, k: u32) -> usize {
        self.code.push(libc::sock_filter {
            // BPF opcodes are 16-bit by definition; every constant used here is below 0x100.
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        });
        self.code.len() - 1
    }

    /// The offset of a jump at `from` that lands on `to` (offsets count from the next
    /// instruction), or an error when it does not fit in 8 bits.
    fn offset(from: usize, to: usize) -> Result<u8, FilterError> {
        let distance = to - from - 1;
        u8::try_from(distance).map_err(|_| FilterError::JumpTooFar { distance })
    }

    fn jump_true(&mut self, from: usize, to: usize) -> Result<(), FilterError> {
        self.code[from].jt = Program::offset(from, to)?;
        Ok(())
    }

    fn jump_false(&mut self, from: usize, to: usize) -> Result<(), FilterError> {
        self.code[from].jf = Program::offset(from, to)?;
        Ok(())
    }
}

fn nr_field(nr: i64) -> Result<u32, FilterError> {
    u32::try_from(nr).map_err(|_| FilterError::BadNumber { nr })
}

impl SeccompFilter {
    /// A filter returning `SECCOMP_RET_TRACE` for each syscall number in `traced` and
    /// `SECCOMP_RET_ALLOW` for everything else. When `mmap_nr` is given, `mmap` is traced only
    /// when it maps a file shared and writable. A syscall of a foreign ABI (i386 `int 0x80`,
    /// x32) kills the writer with SIGSYS: the tracer decodes x86_64 only, and a silent pass
    /// would hide writes from it.
    ///
    /// Layout: arch check, x32 check, one `jeq nr` per traced number (true: to TRACE), the mmap
    /// block (`jeq mmap`, `ld prot`, `jset PROT_WRITE`, `ld flags`, `jset MAP_SHARED`), ALLOW,
    /// TRACE.
    pub fn trace(traced: &[i64], mmap_nr: Option<i64>) -> Result<SeccompFilter, FilterError> {
        use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};
        let (ld, ret) = (BPF_LD | BPF_W | BPF_ABS, BPF_RET | BPF_K);
        let (jeq, jset) = (BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JSET | BPF_K);
        let mut p = Program { code: Vec::new() };
        p.push(ld, SECCOMP_DATA_ARCH);
        let arch_ok = p.push(jeq, AUDIT_ARCH_X86_64);
        let kill_arch = p.push(ret, libc::SECCOMP_RET_KILL_PROCESS);
        p.push(ld, SECCOMP_DATA_NR);
        let x32 = p.push(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT);
        let kill_x32 = p.push(ret, libc::SECCOMP_RET_KILL_PROCESS);
        p.jump_true(arch_ok, kill_arch + 1)?;
        p.jump_false(x32, kill_x32 + 1)?;
        let checks: Vec<usize> = traced
            .iter()
            .map(|&nr| Ok(p.push(jeq, nr_field(nr)?)))
            .collect::<Result<_, FilterError>>()?;
        let mmap_block: Option<[usize; MMAP_BLOCK_LEN]> = match mmap_nr {
            Some(nr) => Some([
                p.push(jeq, nr_field(nr)?),
                p.push(ld, seccomp_data_arg_low(2)),
                p.push(jset, PROT_WRITE_BIT),
                p.push(ld, seccomp_data_arg_low(3)),
                p.push(jset, MAP_SHARED_BIT),
            ]),
            None => None,
        };
        let allow = p.push(ret, libc::SECCOMP_RET_ALLOW);
        let trace = p.push(ret, libc::SECCOMP_RET_TRACE);
        for check in checks {
            p.jump_true(check, trace)?;
        }
        if let Some([is_mmap, _, writable, _, shared]) = mmap_block {
            p.jump_false(is_mmap, allow)?;
            p.jump_false(writable, allow)?;
            p.jump_true(shared, trace)?;
            p.jump_false(shared, allow)?;
        }
        if p.code.len() > MAX_INSTRUCTIONS {
            return Err(FilterError::TooLong { len: p.code.len() });
        }
        Ok(SeccompFilter {
            program: p.code.into_boxed_slice(),
        })
    }

    /// Number of BPF instructions (the kernel accepts at most [`MAX_INSTRUCTIONS`]).
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Never true for a built filter; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and installs the filter on the calling thread. Called in the
    /// spawned child: makes two syscalls and allocates nothing.
    pub(super) fn install(&self) -> io::Result<()> {
        nix::sys::prctl::set_no_new_privs().map_err(io::Error::from)?;
        let len = u16::try_from(self.program.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let prog = libc::sock_fprog {
            len,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.program`, which outlives the call; the kernel copies the
        // program during the call and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(f: &SeccompFilter) -> &[libc::sock_filter] {
        &f.program
    }

    fn target(i: usize, off: u8) -> usize {
        i + 1 + off as usize
    }

    #[test]
    fn filter_without_mmap_ends_in_allow_then_trace() {
        let f = SeccompFilter::trace(&[1, 2, 3], None).unwrap();
        let p = program(&f);
        assert_eq!(p.len(), 6 + 3 + 2);
        assert_eq!(p[p.len() - 2].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(p[p.len() - 1].k, libc::SECCOMP_RET_TRACE);
        // The first comparison jumps over the two others and the ALLOW.
        assert_eq!((p[6].k, p[6].jt), (1, 3));
        assert_eq!((p[8].k, p[8].jt), (3, 1));
        // The arch check jumps over its kill; the x32 check falls through to its kill.
        assert_eq!((p[1].jt, p[1].jf), (1, 0));
        assert_eq!((p[4].jt, p[4].jf), (0, 1));
    }

    #[test]
    fn filter_mmap_block_jumps_land_on_allow_or_trace() {
        let f = SeccompFilter::trace(&[1], Some(9)).unwrap();
        let p = program(&f);
        let n = p.len();
        let block = n - 7;
        assert_eq!(p[block].k, 9);
        assert_eq!(target(block, p[block].jf), n - 2);
        assert_eq!(target(block + 2, p[block + 2].jf), n - 2);
        assert_eq!(target(block + 4, p[block + 4].jt), n - 1);
        assert_eq!(target(block + 4, p[block + 4].jf), n - 2);
        // The write comparison jumps over the mmap block to TRACE.
        assert_eq!(target(6, p[6].jt), n - 1);
    }

    #[test]
    fn the_longest_list_that_fits_builds_and_one_more_is_refused() {
        // The first check jumps over the other checks, the mmap block and ALLOW: 255 at most.
        let fits: Vec<i64> = (0..255 - MMAP_BLOCK_LEN as i64).collect();
        let f = SeccompFilter::trace(&fits, Some(9)).unwrap();
        assert_eq!(program(&f)[6].jt, 255);
        assert_eq!(target(6, program(&f)[6].jt), f.len() - 1);
        let too_many: Vec<i64> = (0..256 - MMAP_BLOCK_LEN as i64).collect();
        assert_eq!(
            SeccompFilter::trace(&too_many, Some(9)).unwrap_err(),
            FilterError::JumpTooFar { distance: 256 }
        );
        let without_mmap: Vec<i64> = (0..300).collect();
        assert!(matches!(
            SeccompFilter::trace(&without_mmap, None),
            Err(FilterError::JumpTooFar { .. })
        ));
    }

    #[test]
    fn a_negative_syscall_number_is_refused() {
        assert_eq!(
            SeccompFilter::trace(&[-1], None).unwrap_err(),
            FilterError::BadNumber { nr: -1 }
        );
    }
}
