//! A pickle opcode disassembler and import classifier. Nothing is ever unpickled.
//!
//! The disassembler walks protocols 0-5, keeps a symbolic stack (string constants, marks and
//! opaque values) and the memo (PUT/BINPUT/LONG_BINPUT/MEMOIZE, GET/BINGET/LONG_BINGET), so
//! `STACK_GLOBAL` imports built from memoised strings resolve to `module.name`. Every import
//! (GLOBAL, INST, STACK_GLOBAL) is classified: dangerous (code execution), allowed (tensor
//! rebuild helpers, containers) or unknown (suspicious).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::report::{Finding, Location, Severity};
use crate::ScanOptions;

/// How an imported global is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Allowed,
    Unknown,
    Dangerous,
}

/// One import found in a pickle stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
    /// Byte offset of the importing opcode.
    pub offset: u64,
    pub opcode: &'static str,
    pub class: Class,
}

/// Result of disassembling one pickle stream.
#[derive(Debug, Clone, Default)]
pub struct Disassembly {
    pub protocol: Option<u8>,
    pub imports: Vec<Import>,
    /// Bytes consumed (up to and including STOP).
    pub len: u64,
    pub stopped: bool,
    /// Structural problems (truncation, unknown opcode, stack underflow, ...).
    pub problems: Vec<(u64, String)>,
    pub opcodes: u64,
    /// STACK_GLOBAL whose operands were not constant strings.
    pub unresolved_globals: Vec<u64>,
    /// EXT1/2/4 (copyreg extension registry): resolves to a global we cannot see.
    pub extensions: Vec<u64>,
}

/// A symbolic stack value. Strings are shared (`Rc`), so DUP/GET/PUT never copy text.
#[derive(Debug, Clone, PartialEq)]
enum SVal {
    Mark,
    Str(Rc<str>),
    Other,
}

/// Longest string constant tracked (module and attribute names are short).
const MAX_TRACKED_STR: usize = 512;
/// Total bytes of string constants tracked per stream; later strings become opaque.
const MAX_TRACKED_BYTES: usize = 16 << 20;
/// Memo slots and stack entries kept before the disassembly stops.
const MAX_MEMO: usize = 1 << 18;
const MAX_STACK: usize = 1 << 18;

fn dangerous(module: &str, name: &str) -> bool {
    let root = module.split('.').next().unwrap_or(module);
    const MODULES: &[&str] = &[
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "socket",
        "shutil",
        "runpy",
        "pty",
        "importlib",
        "marshal",
        "pip",
        "webbrowser",
        "commands",
        "popen2",
        "ctypes",
        "multiprocessing",
        "code",
        "codeop",
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "joblib",
        "types",
        "signal",
        "requests",
        "urllib",
        "urllib2",
        "http",
        "httplib",
        "ftplib",
        "telnetlib",
        "smtplib",
        "asyncio",
        "threading",
        "_thread",
        "platform",
        "pathlib",
        "tempfile",
        "glob",
        "zipimport",
        "pydoc",
        "timeit",
        "bdb",
        "pdb",
        "trace",
        "cProfile",
        "profile",
        "ensurepip",
        "venv",
        "distutils",
        "setuptools",
        "aiohttp",
        "paramiko",
        "_posixsubprocess",
        "_io",
        "io",
        "fcntl",
        "resource",
        "ssl",
        "select",
        "selectors",
        "mmap",
        "uuid",
        "inspect",
        "gc",
        "_ctypes",
        "imp",
        "builtins_",
        "_osx_support",
        "_aix_support",
    ];
    if MODULES.contains(&root) {
        return true;
    }
    match module {
        "builtins" | "__builtin__" | "__builtins__" => {
            matches!(
                name,
                "eval"
                    | "exec"
                    | "execfile"
                    | "compile"
                    | "getattr"
                    | "setattr"
                    | "delattr"
                    | "open"
                    | "file"
                    | "__import__"
                    | "globals"
                    | "locals"
                    | "vars"
                    | "input"
                    | "breakpoint"
                    | "apply"
                    | "reload"
                    | "memoryview"
                    | "help"
                    | "exit"
                    | "quit"
                    | "type"
                    | "super"
                    | "classmethod"
                    | "staticmethod"
                    | "property"
            ) || name.starts_with('_')
        }
        "functools" => matches!(name, "partial" | "reduce" | "partialmethod" | "wraps"),
        "operator" => matches!(name, "attrgetter" | "methodcaller" | "itemgetter" | "call"),
        "torch" | "torch.serialization" => matches!(name, "load" | "_load" | "save" | "from_file"),
        "torch.storage" => name == "_load_from_bytes",
        "numpy.testing._private.utils" => true,
        "numpy" | "numpy.lib.npyio" => matches!(name, "load" | "loads" | "fromfile"),
        _ => {
            module.starts_with("torch.hub")
                || module.starts_with("torch.jit")
                || module.starts_with("torch._dynamo")
                || module.starts_with("torch.utils.cpp_extension")
                || module.starts_with("torch._inductor")
                || module.starts_with("torch.package")
                || module.starts_with("numpy.f2py")
                || module.starts_with("numpy.distutils")
                || (module == "torch._C" && !name.starts_with("_rebuild"))
        }
    }
}

fn allowed(module: &str, name: &str) -> bool {
    match module {
        "torch._utils" => name.starts_with("_rebuild_"),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch" => {
            name.ends_with("Storage")
                || matches!(
                    name,
                    "Size"
                        | "device"
                        | "Tensor"
                        | "float16"
                        | "float32"
                        | "float64"
                        | "bfloat16"
                        | "half"
                        | "float"
                        | "double"
                        | "int8"
                        | "int16"
                        | "int32"
                        | "int64"
                        | "uint8"
                        | "bool"
                        | "complex64"
                        | "complex128"
                        | "float8_e4m3fn"
                        | "float8_e5m2"
                        | "qint8"
                        | "quint8"
                        | "qint32"
                        | "per_tensor_affine"
                        | "per_channel_affine"
                        | "contiguous_format"
                        | "channels_last"
                        | "preserve_format"
                )
        }
        "torch.storage" => matches!(name, "UntypedStorage" | "TypedStorage"),
        "torch.nn.parameter" => matches!(name, "Parameter" | "UninitializedParameter"),
        "collections" => matches!(name, "OrderedDict" | "defaultdict" | "Counter" | "deque"),
        "builtins" | "__builtin__" => matches!(
            name,
            "set"
                | "frozenset"
                | "dict"
                | "list"
                | "tuple"
                | "int"
                | "float"
                | "complex"
                | "bytes"
                | "bytearray"
                | "str"
                | "slice"
                | "range"
                | "bool"
                | "True"
                | "False"
                | "None"
                | "Ellipsis"
                | "NotImplemented"
                | "unicode"
                | "long"
                | "object"
        ),
        "copy_reg" | "copyreg" => name == "_reconstructor",
        "_codecs" => name == "encode",
        "numpy.core.multiarray" | "numpy._core.multiarray" => {
            matches!(name, "_reconstruct" | "scalar")
        }
        "numpy" => matches!(
            name,
            "ndarray" | "dtype" | "core" | "float32" | "float64" | "int64"
        ),
        "numpy.dtypes" => name.ends_with("DType"),
        "argparse" => name == "Namespace",
        "datetime" => matches!(
            name,
            "datetime" | "date" | "time" | "timedelta" | "timezone"
        ),
        "decimal" => name == "Decimal",
        "fractions" => name == "Fraction",
        _ => false,
    }
}

/// Classify an import.
pub fn classify(module: &str, name: &str) -> Class {
    if dangerous(module, name) {
        Class::Dangerous
    } else if allowed(module, name) {
        Class::Allowed
    } else {
        Class::Unknown
    }
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return None;
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Some(s)
    }
    fn uint(&mut self, n: usize) -> Option<u64> {
        let s = self.take(n as u64)?;
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(s);
        Some(u64::from_le_bytes(a))
    }
    /// A newline-terminated line (protocol 0 arguments), capped at 64 KiB.
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = &self.b[self.pos..];
        let n = rest.iter().take(1 << 16).position(|&c| c == b'\n')?;
        let s = &rest[..n];
        self.pos += n + 1;
        Some(s)
    }
}

fn text(b: &[u8], budget: &mut usize) -> SVal {
    if b.len() > MAX_TRACKED_STR || b.len() > *budget {
        return SVal::Other;
    }
    match std::str::from_utf8(b) {
        Ok(s) => {
            *budget -= b.len();
            SVal::Str(Rc::from(s))
        }
        Err(_) => SVal::Other,
    }
}

/// Protocol-0 `STRING` argument: a quoted repr; strip the quotes.
fn quoted(b: &[u8], budget: &mut usize) -> SVal {
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        text(&b[1..b.len() - 1], budget)
    } else {
        SVal::Other
    }
}

/// Disassemble one pickle stream starting at `bytes[0]`, stopping at STOP.
pub fn disassemble(bytes: &[u8], base_offset: u64, max_ops: u64) -> Disassembly {
    let mut d = Disassembly::default();
    let mut r = Rd { b: bytes, pos: 0 };
    let mut stack: Vec<SVal> = Vec::new();
    let mut memo: BTreeMap<u64, SVal> = BTreeMap::new();
    let mut budget = MAX_TRACKED_BYTES;
    let problem = |d: &mut Disassembly, at: usize, msg: String| {
        if d.problems.len() < 20 {
            d.problems.push((base_offset + at as u64, msg));
        }
    };
    macro_rules! pop {
        () => {
            stack.pop().unwrap_or(SVal::Other)
        };
    }
    fn pop_mark(stack: &mut Vec<SVal>) -> bool {
        while let Some(v) = stack.pop() {
            if v == SVal::Mark {
                return true;
            }
        }
        false
    }
    loop {
        if d.opcodes >= max_ops {
            problem(
                &mut d,
                r.pos,
                format!("more than {max_ops} opcodes; stopped"),
            );
            break;
        }
        if stack.len() > MAX_STACK || memo.len() > MAX_MEMO {
            problem(
                &mut d,
                r.pos,
                "stack or memo larger than the limit; stopped".into(),
            );
            break;
        }
        let at = r.pos;
        let Some(&op) = bytes.get(r.pos) else {
            problem(&mut d, at, "stream ends without STOP".into());
            break;
        };
        r.pos += 1;
        d.opcodes += 1;
        let trunc = |d: &mut Disassembly| {
            if d.problems.len() < 20 {
                d.problems.push((
                    base_offset + at as u64,
                    format!("opcode 0x{op:02x} truncated"),
                ));
            }
        };
        macro_rules! arg {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => {
                        trunc(&mut d);
                        break;
                    }
                }
            };
        }
        let import = |d: &mut Disassembly, m: &str, n: &str, opname: &'static str| {
            if d.imports.len() < 10_000 {
                d.imports.push(Import {
                    module: m.to_owned(),
                    name: n.to_owned(),
                    offset: base_offset + at as u64,
                    opcode: opname,
                    class: classify(m, n),
                });
            }
        };
        match op {
            b'.' => {
                d.stopped = true;
                break;
            }
            0x80 => {
                let p = arg!(r.uint(1)) as u8;
                d.protocol.get_or_insert(p);
                if p > 5 {
                    problem(&mut d, at, format!("unknown pickle protocol {p}"));
                }
            }
            0x95 => {
                arg!(r.uint(8));
            }
            b'(' => stack.push(SVal::Mark),
            b'0' => {
                pop!();
            }
            b'1' => {
                if !pop_mark(&mut stack) {
                    problem(&mut d, at, "POP_MARK without MARK".into());
                }
            }
            b'2' => {
                let top = stack.last().cloned().unwrap_or(SVal::Other);
                stack.push(top);
            }
            b'F' | b'I' | b'L' => {
                arg!(r.line());
                stack.push(SVal::Other);
            }
            b'J' => {
                arg!(r.uint(4));
                stack.push(SVal::Other);
            }
            b'K' => {
                arg!(r.uint(1));
                stack.push(SVal::Other);
            }
            b'M' => {
                arg!(r.uint(2));
                stack.push(SVal::Other);
            }
            b'G' => {
                arg!(r.uint(8));
                stack.push(SVal::Other);
            }
            0x8a | 0x8b => {
                let n = arg!(r.uint(if op == 0x8a { 1 } else { 4 }));
                arg!(r.take(n));
                stack.push(SVal::Other);
            }
            b'N' | 0x88 | 0x89 | b'}' | b']' | b')' | 0x8f => stack.push(SVal::Other),
            b'P' => {
                arg!(r.line());
                stack.push(SVal::Other);
            }
            b'Q' => {
                pop!();
                stack.push(SVal::Other);
            }
            b'S' => {
                let l = arg!(r.line());
                stack.push(quoted(l, &mut budget));
            }
            b'V' => {
                let l = arg!(r.line());
                stack.push(text(l, &mut budget));
            }
            b'T' | b'X' | b'U' | 0x8c | 0x8d | b'B' | b'C' | 0x8e | 0x96 => {
                let width = match op {
                    b'U' | 0x8c | b'C' => 1,
                    b'T' | b'X' | b'B' => 4,
                    _ => 8,
                };
                let n = arg!(r.uint(width));
                let s = arg!(r.take(n));
                let is_text = matches!(op, b'T' | b'X' | b'U' | 0x8c | 0x8d);
                stack.push(if is_text {
                    text(s, &mut budget)
                } else {
                    SVal::Other
                });
            }
            0x97 | 0x98 => {
                if op == 0x97 {
                    stack.push(SVal::Other);
                }
            }
            b'a' | b'b' => {
                pop!();
            }
            b's' => {
                pop!();
                pop!();
            }
            b'e' | b'u' | 0x90 => {
                if !pop_mark(&mut stack) {
                    problem(&mut d, at, "missing MARK".into());
                }
            }
            b't' | b'l' | b'd' | 0x91 => {
                if !pop_mark(&mut stack) {
                    problem(&mut d, at, "missing MARK".into());
                }
                stack.push(SVal::Other);
            }
            0x85..=0x87 => {
                for _ in 0..(op - 0x84) {
                    pop!();
                }
                stack.push(SVal::Other);
            }
            b'c' | b'i' => {
                let m = arg!(r.line());
                let n = arg!(r.line());
                let m = String::from_utf8_lossy(m);
                let n = String::from_utf8_lossy(n);
                import(&mut d, &m, &n, if op == b'c' { "GLOBAL" } else { "INST" });
                if op == b'i' {
                    pop_mark(&mut stack);
                }
                stack.push(SVal::Other);
            }
            0x93 => {
                let name = pop!();
                let module = pop!();
                match (module, name) {
                    (SVal::Str(m), SVal::Str(n)) => import(&mut d, &m, &n, "STACK_GLOBAL"),
                    _ => d.unresolved_globals.push(base_offset + at as u64),
                }
                stack.push(SVal::Other);
            }
            b'R' | 0x81 => {
                pop!();
                pop!();
                stack.push(SVal::Other);
            }
            0x92 => {
                pop!();
                pop!();
                pop!();
                stack.push(SVal::Other);
            }
            b'o' => {
                if !pop_mark(&mut stack) {
                    problem(&mut d, at, "OBJ without MARK".into());
                }
                stack.push(SVal::Other);
            }
            0x82..=0x84 => {
                arg!(r.uint(match op {
                    0x82 => 1,
                    0x83 => 2,
                    _ => 4,
                }));
                d.extensions.push(base_offset + at as u64);
                stack.push(SVal::Other);
            }
            b'p' | b'q' | b'r' | 0x94 => {
                let idx = match op {
                    b'p' => {
                        let l = arg!(r.line());
                        std::str::from_utf8(l)
                            .ok()
                            .and_then(|s| s.trim().parse().ok())
                    }
                    b'q' => Some(arg!(r.uint(1))),
                    b'r' => Some(arg!(r.uint(4))),
                    _ => Some(memo.len() as u64),
                };
                let top = stack.last().cloned().unwrap_or(SVal::Other);
                match idx {
                    Some(i) => {
                        memo.insert(i, top);
                    }
                    None => problem(&mut d, at, "PUT with a non-numeric index".into()),
                }
            }
            b'g' | b'h' | b'j' => {
                let idx = match op {
                    b'g' => {
                        let l = arg!(r.line());
                        std::str::from_utf8(l)
                            .ok()
                            .and_then(|s| s.trim().parse().ok())
                    }
                    b'h' => Some(arg!(r.uint(1))),
                    _ => Some(arg!(r.uint(4))),
                };
                match idx.and_then(|i| memo.get(&i)) {
                    Some(v) => stack.push(v.clone()),
                    None => {
                        problem(&mut d, at, "GET of a memo slot that was never set".into());
                        stack.push(SVal::Other);
                    }
                }
            }
            _ => {
                problem(&mut d, at, format!("unknown opcode 0x{op:02x}"));
                break;
            }
        }
    }
    d.len = r.pos as u64;
    d
}

/// Report the findings of one disassembled stream. `field` names where it came from.
pub fn report(d: &Disassembly, field: &str, out: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    for imp in &d.imports {
        if !seen.insert((imp.module.clone(), imp.name.clone(), imp.class)) {
            continue;
        }
        let full = format!("{}.{}", imp.module, imp.name);
        let loc = Location::at(field.to_owned(), imp.offset);
        match imp.class {
            Class::Dangerous => out.push(Finding::new(
                "pickle.dangerous-import",
                Severity::Critical,
                format!(
                    "{} imports {full}: loading this file can execute code",
                    imp.opcode
                ),
                loc,
            )),
            Class::Unknown => out.push(Finding::new(
                "pickle.unknown-import",
                Severity::Medium,
                format!(
                    "{} imports {full}, which is not on the tensor-rebuild allowlist",
                    imp.opcode
                ),
                loc,
            )),
            Class::Allowed => {}
        }
    }
    for &at in &d.unresolved_globals {
        out.push(Finding::new(
            "pickle.dynamic-import",
            Severity::High,
            "STACK_GLOBAL with operands that are not constant strings (import computed at load time)",
            Location::at(field.to_owned(), at),
        ));
    }
    for &at in &d.extensions {
        out.push(Finding::new(
            "pickle.extension-import",
            Severity::High,
            "EXT opcode imports a global through the copyreg extension registry",
            Location::at(field.to_owned(), at),
        ));
    }
    for (at, p) in &d.problems {
        out.push(Finding::new(
            "pickle.malformed",
            Severity::Medium,
            p.clone(),
            Location::at(field.to_owned(), *at),
        ));
    }
    let allowed = d
        .imports
        .iter()
        .filter(|i| i.class == Class::Allowed)
        .count();
    out.push(Finding::new(
        "pickle.summary",
        Severity::Info,
        format!(
            "pickle protocol {}: {} opcodes, {} imports ({allowed} on the allowlist); never unpickled",
            d.protocol.map_or("0/1".to_string(), |p| p.to_string()),
            d.opcodes,
            d.imports.len()
        ),
        Location::field(field.to_owned()),
    ));
}

/// The magic number legacy `torch.save` writes first (as a protocol-2 LONG1).
const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Legacy (pre-zip) PyTorch file: a pickle of the magic number starts the file.
pub fn is_legacy_torch(b: &[u8]) -> bool {
    b.len() > 14 && b[0] == 0x80 && b[2] == 0x8a && b[3] == 10 && b[4..14] == TORCH_MAGIC
}

/// A protocol 0/1 pickle has no header: accept it when a trial disassembly of the first
/// stream ends in STOP without problems and the first byte is a plausible opcode.
pub fn looks_like_protocol0(b: &[u8]) -> bool {
    if !matches!(
        b.first(),
        Some(
            b'(' | b'c'
                | b']'
                | b'}'
                | b')'
                | b'N'
                | b'I'
                | b'S'
                | b'V'
                | b'i'
                | b'l'
                | b'd'
                | b'K'
                | b'J'
        )
    ) {
        return false;
    }
    let d = disassemble(&b[..b.len().min(1 << 20)], 0, 100_000);
    d.stopped && d.problems.is_empty() && d.opcodes >= 2
}

/// Scan a file that is one pickle stream or a sequence of them (legacy torch: magic,
/// protocol, sys_info, object, storage keys, then raw storage bytes).
pub(crate) fn scan_file(bytes: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) {
    scan_stream_sequence(bytes, 0, "pickle", opts, out);
}

/// Disassemble consecutive pickle streams from `bytes` (at most 8), reporting each.
pub(crate) fn scan_stream_sequence(
    bytes: &[u8],
    base: u64,
    field: &str,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let mut pos = 0usize;
    for i in 0..8 {
        let rest = &bytes[pos..];
        if rest.is_empty() || (i > 0 && !starts_pickle(rest)) {
            break;
        }
        let d = disassemble(rest, base + pos as u64, opts.max_pickle_ops);
        let name = if i == 0 {
            field.to_owned()
        } else {
            format!("{field}#{i}")
        };
        report(&d, &name, out);
        if !d.stopped {
            break;
        }
        pos += d.len as usize;
    }
}

fn starts_pickle(b: &[u8]) -> bool {
    (b.len() >= 2 && b[0] == 0x80 && (2..=5).contains(&b[1]))
        || (b.first() == Some(&b']') && b.get(1) == Some(&b'q'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("os", "system"), Class::Dangerous);
        assert_eq!(classify("posix", "system"), Class::Dangerous);
        assert_eq!(classify("builtins", "exec"), Class::Dangerous);
        assert_eq!(classify("builtins", "dict"), Class::Allowed);
        assert_eq!(
            classify("torch._utils", "_rebuild_tensor_v2"),
            Class::Allowed
        );
        assert_eq!(classify("torch", "FloatStorage"), Class::Allowed);
        assert_eq!(classify("torch.hub", "load"), Class::Dangerous);
        assert_eq!(classify("operator", "attrgetter"), Class::Dangerous);
        assert_eq!(classify("mypkg.model", "Net"), Class::Unknown);
    }

    #[test]
    fn protocol0_global_is_found() {
        let d = disassemble(b"cos\nsystem\n(S'id'\ntR.", 0, 1000);
        assert!(d.stopped, "{:?}", d.problems);
        assert_eq!(d.imports[0].module, "os");
        assert_eq!(d.imports[0].class, Class::Dangerous);
        assert!(looks_like_protocol0(b"cos\nsystem\n(S'id'\ntR."));
        assert!(!looks_like_protocol0(b"hello world"));
    }

    #[test]
    fn truncated_stream_is_a_problem_not_a_panic() {
        for cut in 0..12 {
            let full = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os";
            let d = disassemble(&full[..cut.min(full.len())], 0, 1000);
            assert!(!d.stopped);
        }
    }
}
