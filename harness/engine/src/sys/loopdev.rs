//! Loop devices by ioctl (`loop(4)`): a free device from `/dev/loop-control`
//! (`LOOP_CTL_GET_FREE`), a backing file attached with `LOOP_CONFIGURE`, detached with
//! `LOOP_CLR_FD`. `power --real` mounts one image copy per real state; starting `losetup` twice
//! per copy was a measurable part of that cost.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: u32 = 0x4C82;
const LOOP_CONFIGURE: u32 = 0x4C0A;
const LOOP_CLR_FD: u32 = 0x4C01;
/// Detach by itself once unmounted and closed: nothing is left attached if we die.
const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `lo_flags` in `struct loop_info64` (five u64, then three u32 before it).
const LO_FLAGS_OFFSET: usize = 52;

/// `struct loop_config` of `<linux/loop.h>`: the backing fd, a block size (0: the default,
/// 512), a `struct loop_info64` (232 bytes) and reserved words.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: [u8; 232],
    reserved: [u64; 8],
}

/// A loop device this process attached (through the page cache, with autoclear).
#[derive(Debug)]
pub struct LoopDevice {
    file: File,
    path: PathBuf,
}

/// Attaches `backing` to a free loop device. Another process may take the free device first:
/// then another is asked for.
pub fn attach_loop(backing: &File) -> io::Result<LoopDevice> {
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    let fd = u32::try_from(backing.as_raw_fd())
        .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    for _attempt in 0..16 {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument; the fd is open for the call.
        let number = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
        if number < 0 {
            return Err(io::Error::last_os_error());
        }
        let path = PathBuf::from(format!("/dev/loop{number}"));
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut config = LoopConfig {
            fd,
            block_size: 0,
            info: [0; 232],
            reserved: [0; 8],
        };
        config.info[LO_FLAGS_OFFSET..LO_FLAGS_OFFSET + 4]
            .copy_from_slice(&LO_FLAGS_AUTOCLEAR.to_ne_bytes());
        // SAFETY: LOOP_CONFIGURE reads one `struct loop_config`, which `LoopConfig` lays out
        // (repr(C), 304 bytes); `config` outlives the call and the kernel does not keep it.
        let done = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                LOOP_CONFIGURE as _,
                &config as *const LoopConfig,
            )
        };
        if done == 0 {
            return Ok(LoopDevice { file, path });
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EBUSY) {
            return Err(error);
        }
    }
    Err(io::Error::from_raw_os_error(libc::EBUSY))
}

impl LoopDevice {
    /// `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Detaches the device (it must be unmounted). A device already gone counts as detached.
    pub fn detach(self) -> io::Result<()> {
        // SAFETY: LOOP_CLR_FD takes no argument; `self.file` is the open device.
        let done = unsafe { libc::ioctl(self.file.as_raw_fd(), LOOP_CLR_FD as _) };
        match done {
            0 => Ok(()),
            _ => match io::Error::last_os_error() {
                error if error.raw_os_error() == Some(libc::ENXIO) => Ok(()),
                error => Err(error),
            },
        }
    }
}
