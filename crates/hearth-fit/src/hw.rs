//! Hardware detection: CPU, memory (with cgroup limits), NVIDIA GPUs, Apple unified memory.
//!
//! Every probe degrades to "unknown" instead of failing: a machine without `nvidia-smi` has no
//! GPU, a missing `/proc` file leaves a field at zero. Parsers are pure functions over text so
//! they are tested on captured samples.
use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalog::GpuPreset;

const GIB: u64 = 1 << 30;

/// The CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    pub model: String,
    pub physical_cores: u32,
    pub logical_cores: u32,
    /// ISA extensions that matter to llama.cpp kernels (`avx2`, `avx512f`, `amx_tile`, `neon`…).
    pub features: Vec<String>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub name: String,
    pub vram_total: u64,
    pub vram_free: u64,
    /// Memory bandwidth in bytes/s, from the preset table when the name is known.
    pub bandwidth: Option<f64>,
    /// Dense FP16 throughput in FLOP/s, when known.
    pub fp16_flops: Option<f64>,
    /// Apple silicon: this memory is the system RAM.
    pub unified: bool,
}

/// What the estimates run against: this machine, or one described by flags/presets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    pub cpu: Cpu,
    pub ram_total: u64,
    pub ram_available: u64,
    pub gpus: Vec<Gpu>,
    /// CPU memory bandwidth in bytes/s (measured, cached, or assumed).
    pub mem_bandwidth: Option<f64>,
    /// `detected`, `preset:<name>` or `flags`.
    pub source: String,
}

impl Hardware {
    /// Detect this machine (no bandwidth probe; see [`crate::bandwidth`]).
    pub fn detect() -> Hardware {
        let cpu = detect_cpu();
        let (ram_total, ram_available) = detect_memory();
        let mut gpus = detect_nvidia();
        if let Some(g) = detect_apple_gpu(ram_total) {
            gpus.push(g);
        }
        Hardware {
            cpu,
            ram_total,
            ram_available,
            gpus,
            mem_bandwidth: None,
            source: "detected".into(),
        }
    }

    /// A machine with `ram` bytes of RAM and the given GPU preset (Apple presets set the RAM).
    pub fn from_preset(p: &GpuPreset, ram: Option<u64>) -> Hardware {
        let mem = p.mem_gib * GIB;
        let (ram_total, gpu_mem) = if p.unified {
            (mem, apple_gpu_working_set(mem))
        } else {
            (ram.unwrap_or(64 * GIB), mem)
        };
        Hardware {
            cpu: Cpu {
                model: if p.unified {
                    p.label.into()
                } else {
                    "unspecified".into()
                },
                physical_cores: 8,
                logical_cores: 16,
                features: vec![],
            },
            ram_total,
            ram_available: ram.unwrap_or(ram_total),
            gpus: vec![Gpu {
                name: p.label.into(),
                vram_total: gpu_mem,
                vram_free: gpu_mem,
                bandwidth: Some(p.bandwidth_gbs * 1e9),
                fp16_flops: Some(p.fp16_tflops * 1e12),
                unified: p.unified,
            }],
            // Apple: CPU and GPU share the bandwidth; a PC: dual-channel DDR5 ≈ 60 GB/s.
            mem_bandwidth: Some(if p.unified {
                p.bandwidth_gbs * 1e9
            } else {
                60e9
            }),
            source: format!("preset:{}", p.name),
        }
    }

    /// A machine described only by sizes (`--vram 24G --ram 64G`).
    pub fn from_sizes(vram: Option<u64>, ram: u64) -> Hardware {
        let gpus = vram
            .filter(|v| *v > 0)
            .map(|v| Gpu {
                name: "GPU (from --vram)".into(),
                vram_total: v,
                vram_free: v,
                // A mid-range discrete GPU.
                bandwidth: Some(500e9),
                fp16_flops: Some(80e12),
                unified: false,
            })
            .into_iter()
            .collect();
        Hardware {
            cpu: Cpu {
                model: "unspecified".into(),
                physical_cores: 8,
                logical_cores: 16,
                features: vec![],
            },
            ram_total: ram,
            ram_available: ram,
            gpus,
            mem_bandwidth: Some(60e9),
            source: "flags".into(),
        }
    }

    /// The GPU the planner offloads to (the one with the most free memory).
    pub fn main_gpu(&self) -> Option<&Gpu> {
        self.gpus.iter().max_by_key(|g| g.vram_free)
    }
}

/// Metal's default working-set limit on Apple silicon: about 2/3 of RAM up to 36 GB, 3/4 above.
pub fn apple_gpu_working_set(ram: u64) -> u64 {
    if ram <= 36 * GIB {
        ram / 3 * 2
    } else {
        ram / 4 * 3
    }
}

/// ISA flags worth reporting (as spelled in /proc/cpuinfo).
const INTERESTING: &[&str] = &[
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
];

/// Parse /proc/cpuinfo text: model name, logical processors, (physical id, core id) pairs and
/// ISA features.
pub fn parse_cpuinfo(text: &str) -> Cpu {
    let mut model = String::new();
    let mut logical = 0u32;
    let mut cores: BTreeSet<(String, String)> = BTreeSet::new();
    let mut phys = String::new();
    let mut features: BTreeSet<String> = BTreeSet::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => logical += 1,
            "model name" | "Model" | "Processor" if model.is_empty() && !v.is_empty() => {
                model = v.to_owned()
            }
            "physical id" => phys = v.to_owned(),
            "core id" => {
                cores.insert((phys.clone(), v.to_owned()));
            }
            "flags" | "Features" => {
                for f in v.split_whitespace() {
                    if INTERESTING.contains(&f) {
                        features.insert(f.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    if features.contains("asimd") {
        features.insert("neon".into());
    }
    Cpu {
        model,
        physical_cores: if cores.is_empty() {
            logical
        } else {
            cores.len() as u32
        },
        logical_cores: logical,
        features: features.into_iter().collect(),
    }
}

/// Physical cores from /sys topology: distinct (package, core) pairs among online CPUs.
fn sys_physical_cores(root: &Path) -> Option<u32> {
    let mut set = BTreeSet::new();
    for entry in std::fs::read_dir(root).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_cpu = name
            .strip_prefix("cpu")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_cpu {
            continue;
        }
        let topo = entry.path().join("topology");
        let read = |f: &str| std::fs::read_to_string(topo.join(f)).ok();
        if let (Some(pkg), Some(core)) = (read("physical_package_id"), read("core_id")) {
            set.insert((pkg.trim().to_owned(), core.trim().to_owned()));
        }
    }
    (!set.is_empty()).then_some(set.len() as u32)
}

fn detect_cpu() -> Cpu {
    let mut cpu = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_else(|_| Cpu {
            model: String::new(),
            physical_cores: 0,
            logical_cores: 0,
            features: vec![],
        });
    if let Some(p) = sys_physical_cores(Path::new("/sys/devices/system/cpu")) {
        cpu.physical_cores = p;
    }
    // available_parallelism honours the affinity mask and cgroup CPU quota.
    if let Ok(n) = std::thread::available_parallelism() {
        let n = n.get() as u32;
        if cpu.logical_cores == 0 || n < cpu.logical_cores {
            cpu.logical_cores = n;
        }
    }
    if cpu.physical_cores == 0 || cpu.physical_cores > cpu.logical_cores {
        cpu.physical_cores = cpu.logical_cores;
    }
    #[cfg(target_os = "macos")]
    {
        if let Some(m) = sysctl("machdep.cpu.brand_string") {
            cpu.model = m;
        }
        if let Some(n) = sysctl("hw.physicalcpu").and_then(|s| s.parse().ok()) {
            cpu.physical_cores = n;
        }
        if let Some(n) = sysctl("hw.logicalcpu").and_then(|s| s.parse().ok()) {
            cpu.logical_cores = n;
        }
        if cfg!(target_arch = "aarch64") && !cpu.features.iter().any(|f| f == "neon") {
            cpu.features.push("neon".into());
        }
    }
    if cpu.model.is_empty() {
        cpu.model = std::env::consts::ARCH.to_owned();
    }
    cpu
}

/// Parse /proc/meminfo: (MemTotal, MemAvailable) in bytes.
pub fn parse_meminfo(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib.saturating_mul(1024))
    };
    let total = field("MemTotal").unwrap_or(0);
    (total, field("MemAvailable").unwrap_or(total))
}

/// A cgroup limit file: `max` (v2) or a huge number (v1) means unlimited.
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let v = text.trim();
    if v == "max" {
        return None;
    }
    v.parse::<u64>().ok().filter(|&n| n < (1u64 << 60))
}

fn detect_memory() -> (u64, u64) {
    let (mut total, mut avail) = std::fs::read_to_string("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or((0, 0));
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let limit = read("/sys/fs/cgroup/memory.max")
        .and_then(|t| parse_cgroup_limit(&t))
        .map(|l| (l, read("/sys/fs/cgroup/memory.current")))
        .or_else(|| {
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
                .and_then(|t| parse_cgroup_limit(&t))
                .map(|l| (l, read("/sys/fs/cgroup/memory/memory.usage_in_bytes")))
        });
    if let Some((limit, used)) = limit {
        let used = used.and_then(|u| u.trim().parse::<u64>().ok()).unwrap_or(0);
        total = total.min(limit);
        avail = avail.min(limit.saturating_sub(used));
    }
    #[cfg(target_os = "macos")]
    {
        if let Some(m) = sysctl("hw.memsize").and_then(|s| s.parse::<u64>().ok()) {
            total = m;
            if avail == 0 {
                avail = m / 4 * 3;
            }
        }
    }
    (total, avail)
}

/// Parse `nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits`
/// (MiB). Malformed lines are skipped.
pub fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.rsplitn(3, ',').map(str::trim);
            let free: u64 = parts.next()?.parse().ok()?;
            let total: u64 = parts.next()?.parse().ok()?;
            let name = parts.next()?.to_owned();
            let preset = preset_for_name(&name);
            Some(Gpu {
                name,
                vram_total: total.saturating_mul(1 << 20),
                vram_free: free.saturating_mul(1 << 20),
                bandwidth: preset.map(|p| p.bandwidth_gbs * 1e9),
                fp16_flops: preset.map(|p| p.fp16_tflops * 1e12),
                unified: false,
            })
        })
        .collect()
}

/// The preset whose label best matches a GPU name from the driver (`NVIDIA GeForce RTX 4090`):
/// the label without its last word (the memory size), squashed, must occur in the squashed
/// name; the longest such label wins (`RTX 4060 Ti` over `RTX 4060`).
fn preset_for_name(name: &str) -> Option<&'static GpuPreset> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let n = squash(name);
    crate::catalog::GPUS
        .iter()
        .filter(|p| !p.unified)
        .filter_map(|p| {
            let words: Vec<&str> = p.label.split_whitespace().collect();
            let key = squash(&words[..words.len().saturating_sub(1)].join(" "));
            (!key.is_empty() && n.contains(&key)).then_some((key.len(), p))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

fn detect_nvidia() -> Vec<Gpu> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,memory.free",
            "--format=csv,noheader,nounits",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => parse_nvidia_smi(&String::from_utf8_lossy(&o.stdout)),
        Ok(o) => {
            tracing::debug!(status = ?o.status, "nvidia-smi failed: no NVIDIA GPU used");
            vec![]
        }
        Err(e) => {
            tracing::debug!(error = %e, "nvidia-smi not available: no NVIDIA GPU");
            vec![]
        }
    }
}

#[cfg(target_os = "macos")]
fn sysctl(name: &str) -> Option<String> {
    let o = std::process::Command::new("sysctl")
        .args(["-n", name])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

#[cfg(target_os = "macos")]
fn detect_apple_gpu(ram_total: u64) -> Option<Gpu> {
    if !cfg!(target_arch = "aarch64") {
        return None;
    }
    let brand = sysctl("machdep.cpu.brand_string").unwrap_or_else(|| "Apple silicon".into());
    let preset = crate::catalog::GPUS
        .iter()
        .filter(|p| p.unified)
        .find(|p| brand.contains(p.label.split(' ').nth(1).unwrap_or("?")));
    let mem = apple_gpu_working_set(ram_total);
    Some(Gpu {
        name: format!("{brand} GPU"),
        vram_total: mem,
        vram_free: mem,
        bandwidth: preset.map(|p| p.bandwidth_gbs * 1e9),
        fp16_flops: preset.map(|p| p.fp16_tflops * 1e12),
        unified: true,
    })
}

#[cfg(not(target_os = "macos"))]
fn detect_apple_gpu(_ram_total: u64) -> Option<Gpu> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n\
physical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu sse4_2 avx f16c fma avx2 avx512f avx512bw avx512_vnni\n\n\
processor\t: 1\nmodel name\t: AMD EPYC 9R14\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu avx2\n\n";

    #[test]
    fn cpuinfo_counts_threads_and_cores() {
        let c = parse_cpuinfo(CPUINFO);
        assert_eq!(c.model, "AMD EPYC 9R14");
        assert_eq!((c.logical_cores, c.physical_cores), (2, 1));
        assert!(c.features.contains(&"avx512f".to_string()));
        assert!(!c.features.contains(&"fpu".to_string()));
    }

    #[test]
    fn cpuinfo_arm() {
        let c = parse_cpuinfo("processor : 0\nFeatures : fp asimd asimddp sve\n");
        assert!(c.features.iter().any(|f| f == "neon"));
        assert!(c.features.iter().any(|f| f == "asimddp"));
    }

    #[test]
    fn meminfo_and_cgroup() {
        let (t, a) = parse_meminfo(
            "MemTotal:       24522592 kB\nMemFree: 1 kB\nMemAvailable:   23000000 kB\n",
        );
        assert_eq!((t, a), (24522592 * 1024, 23000000 * 1024));
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit("8589934592\n"), Some(8 << 30));
    }

    #[test]
    fn nvidia_smi_lines() {
        let g = parse_nvidia_smi(
            "NVIDIA GeForce RTX 4090, 24564, 23012\nNVIDIA H100 80GB HBM3, 81559, 81000\ngarbage\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].vram_total, 24564 << 20);
        assert_eq!(g[0].bandwidth, Some(1008e9));
        assert_eq!(g[1].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(g[1].vram_free, 81000 << 20);
    }
}
