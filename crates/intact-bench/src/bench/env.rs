//! What the numbers depend on: kernel, CPU, the mount and device under a directory, and whether
//! fsync there can be real. Reads /proc and /sys only; the warning rules are pure.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use torture_core::mountinfo::{self, Mount};

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_mib: Option<u64>,
    pub ld_preload: Option<String>,
}

impl Machine {
    pub fn probe() -> Machine {
        Machine {
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(),
            memory_mib: memory_mib(),
            ld_preload: std::env::var("LD_PRELOAD")
                .ok()
                .filter(|value| !value.is_empty()),
        }
    }
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
}

fn cpu_model() -> Option<String> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

fn memory_mib() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// The effective user id, from /proc/self/status (no libc call needed).
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The block device (or loop device) under a mount.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Device {
    pub source: String,
    /// For a loop device: the image file behind it, and the filesystem that file lives on.
    pub loop_backing_file: Option<String>,
    pub loop_backing_fstype: Option<String>,
    pub loop_direct_io: Option<bool>,
    /// `write back` or `write through`, from /sys/class/block/<dev>/queue/write_cache.
    pub write_cache: Option<String>,
    pub rotational: Option<bool>,
}

/// The filesystem a benchmark directory lives on.
#[derive(Debug, Clone, Serialize)]
pub struct FsFacts {
    pub dir: PathBuf,
    pub mount: Option<Mount>,
    pub device: Device,
    /// False when fsync there cannot reach stable storage (tmpfs, eatmydata, ...).
    pub fsync_real: bool,
    pub warnings: Vec<String>,
}

impl FsFacts {
    pub fn fstype(&self) -> &str {
        self.mount
            .as_ref()
            .map_or("unknown", |mount| mount.fstype.as_str())
    }
}

/// Looks up the mount, device and fsync caveats for `dir` (which must exist).
pub fn probe_fs(dir: &Path, machine: &Machine) -> FsFacts {
    let resolved = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|text| mountinfo::parse(&text).ok())
        .unwrap_or_default();
    let mount = mountinfo::mount_of(&mounts, &resolved).cloned();
    let device = mount
        .as_ref()
        .map(|mount| probe_device(&mount.source, &mounts))
        .unwrap_or_default();
    let warnings = fsync_warnings(mount.as_ref(), &device, machine.ld_preload.as_deref());
    FsFacts {
        dir: resolved,
        fsync_real: warnings.is_empty(),
        mount,
        device,
        warnings,
    }
}

fn probe_device(source: &str, mounts: &[Mount]) -> Device {
    let name = source.strip_prefix("/dev/").unwrap_or("");
    let sys = PathBuf::from("/sys/class/block").join(name);
    let has_sys = !name.is_empty() && !name.contains('/') && sys.exists();
    if !has_sys {
        return Device {
            source: source.to_owned(),
            ..Device::default()
        };
    }
    let backing = read_trimmed(sys.join("loop/backing_file"));
    let backing_fstype = backing
        .as_deref()
        .and_then(|file| mountinfo::mount_of(mounts, Path::new(file)))
        .map(|mount| mount.fstype.clone());
    Device {
        source: source.to_owned(),
        loop_direct_io: read_trimmed(sys.join("loop/dio")).map(|flag| flag == "1"),
        loop_backing_file: backing,
        loop_backing_fstype: backing_fstype,
        write_cache: queue_attribute(&sys, "write_cache"),
        rotational: queue_attribute(&sys, "rotational").map(|flag| flag == "1"),
    }
}

/// A queue attribute of a disk, or of the disk a partition belongs to.
fn queue_attribute(sys: &Path, attribute: &str) -> Option<String> {
    read_trimmed(sys.join("queue").join(attribute))
        .or_else(|| read_trimmed(sys.join("..").join("queue").join(attribute)))
}

const RAM_FILESYSTEMS: [&str; 2] = ["tmpfs", "ramfs"];

/// Why fsync under this mount cannot make anything durable; empty when nothing is known wrong.
pub fn fsync_warnings(
    mount: Option<&Mount>,
    device: &Device,
    ld_preload: Option<&str>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(mount) = mount {
        if RAM_FILESYSTEMS.contains(&mount.fstype.as_str()) {
            warnings.push(format!(
                "{} keeps files in RAM: fsync cannot be real here, so durable strategies only pay \
                 their syscalls; do not read these figures as the cost of durability",
                mount.fstype
            ));
        }
        let options = mount.all_options();
        if options
            .iter()
            .any(|option| matches!(*option, "nobarrier" | "barrier=0"))
        {
            warnings.push(
                "mounted with nobarrier: fsync does not flush the device's write cache".into(),
            );
        }
    }
    let ram_backing = device
        .loop_backing_fstype
        .as_deref()
        .filter(|fstype| RAM_FILESYSTEMS.contains(fstype));
    if let Some(backing) = ram_backing {
        warnings.push(format!(
            "the loop device's image file lives on {backing}: fsync cannot be real here"
        ));
    }
    if let Some(preload) = ld_preload.filter(|preload| preload.contains("eatmydata")) {
        warnings.push(format!(
            "LD_PRELOAD={preload} loads libeatmydata: fsync, fdatasync and sync are no-ops in this \
             process, so every durable figure is fake"
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(fstype: &str, options: &str) -> Mount {
        Mount {
            mount_point: PathBuf::from("/mnt"),
            fstype: fstype.into(),
            source: "/dev/sda1".into(),
            mount_options: "rw,relatime".into(),
            super_options: options.into(),
        }
    }

    #[test]
    fn tmpfs_and_ramfs_warn_that_fsync_is_not_real() {
        for fstype in ["tmpfs", "ramfs"] {
            let warnings = fsync_warnings(Some(&mount(fstype, "rw")), &Device::default(), None);
            assert_eq!(warnings.len(), 1);
            assert!(warnings[0].contains("fsync cannot be real"), "{warnings:?}");
        }
    }

    #[test]
    fn eatmydata_in_ld_preload_warns() {
        let preload = Some("/usr/lib/x86_64-linux-gnu/libeatmydata.so");
        let warnings = fsync_warnings(Some(&mount("ext4", "rw")), &Device::default(), preload);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("libeatmydata"));
    }

    #[test]
    fn nobarrier_and_a_ram_backed_loop_image_warn() {
        let warnings = fsync_warnings(
            Some(&mount("ext4", "rw,nobarrier")),
            &Device::default(),
            None,
        );
        assert!(warnings[0].contains("nobarrier"));
        let device = Device {
            loop_backing_fstype: Some("tmpfs".into()),
            ..Device::default()
        };
        let warnings = fsync_warnings(Some(&mount("xfs", "rw")), &device, None);
        assert!(warnings[0].contains("image file lives on tmpfs"));
    }

    #[test]
    fn a_disk_filesystem_without_preload_has_no_warning() {
        let warnings = fsync_warnings(
            Some(&mount("ext4", "rw,data=ordered")),
            &Device::default(),
            Some("libfoo.so"),
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn probing_the_current_directory_finds_its_mount() {
        let machine = Machine::probe();
        let facts = probe_fs(Path::new("."), &machine);
        assert!(facts.mount.is_some());
        assert!(!machine.kernel.is_empty());
        assert!(effective_uid().is_some());
    }
}
