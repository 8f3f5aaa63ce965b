//! Python semantics that chat templates rely on: how Jinja2 prints values (`str()`), Python's
//! `repr()`, `json.dumps` (Hugging Face's `tojson`) and `datetime.strftime` (`strftime_now`).

use std::fmt::Write as _;

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Nesting depth at which printing or serializing a value gives up (values are built by the
/// template or from request JSON; this keeps a hostile structure from exhausting the stack).
const MAX_DEPTH: usize = 128;

fn too_deep() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        "value nested too deeply to print",
    )
}

/// Python `repr(float)`: shortest round-trip digits, exponent form outside `1e-4 <= |x| < 1e16`.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits as d.ddddde<exp>.
    let sci = format!("{x:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => return sci,
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                out.push_str(&digits);
                for _ in 0..(int_len - n) {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                let (a, b) = digits.split_at(int_len as usize);
                out.push_str(a);
                out.push('.');
                out.push_str(b);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

fn number_str(v: &Value) -> String {
    if v.is_integer() {
        if let Ok(i) = i128::try_from(v.clone()) {
            return i.to_string();
        }
        if let Ok(u) = u128::try_from(v.clone()) {
            return u.to_string();
        }
    }
    match f64::try_from(v.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => v.to_string(),
    }
}

/// Python `repr(str)`.
pub(crate) fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python `str(value)` as Jinja2 prints it: strings as they are, `None`, `True`/`False`, floats
/// as Python writes them, lists and dicts as their `repr()`; undefined prints nothing.
pub(crate) fn py_str(v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::Undefined => Ok(String::new()),
        ValueKind::String => Ok(v.as_str().unwrap_or_default().to_string()),
        _ => {
            let mut out = String::new();
            py_repr(v, &mut out, 0)?;
            Ok(out)
        }
    }
}

/// Python `repr(value)`.
pub(crate) fn py_repr(v: &Value, out: &mut String, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match v.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_str(v)),
        ValueKind::String => str_repr(v.as_str().unwrap_or_default(), out),
        ValueKind::Bytes => {
            out.push_str("b'");
            for b in v.as_bytes().unwrap_or_default() {
                match *b {
                    b'\\' => out.push_str("\\\\"),
                    b'\'' => out.push_str("\\'"),
                    0x20..=0x7e => out.push(*b as char),
                    b => {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
            }
            out.push('\'');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let (open, close) = if v.is_tuple() { ('(', ')') } else { ('[', ']') };
            out.push(open);
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&item, out, depth + 1)?;
            }
            out.push(close);
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(&key, out, depth + 1)?;
                out.push_str(": ");
                py_repr(&v.get_item(&key)?, out, depth + 1)?;
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
    Ok(())
}

/// Options of Python's `json.dumps` that Hugging Face's `tojson` filter exposes.
#[derive(Debug, Clone, Default)]
pub(crate) struct JsonOptions {
    pub ensure_ascii: bool,
    /// `None`: one line; `Some(s)`: newline and `s` repeated per level (`indent=2` is two spaces).
    pub indent: Option<String>,
    /// `(item_separator, key_separator)`; default `(", ", ": ")`, or `(",", ": ")` with an indent.
    pub separators: Option<(String, String)>,
    pub sort_keys: bool,
}

/// Python `json.dumps(value, ...)`.
pub(crate) fn json_dumps(v: &Value, opts: &JsonOptions) -> Result<String, Error> {
    let (item_sep, key_sep) = match &opts.separators {
        Some((a, b)) => (a.as_str(), b.as_str()),
        None if opts.indent.is_some() => (",", ": "),
        None => (", ", ": "),
    };
    let mut out = String::new();
    let w = JsonWriter {
        opts,
        item_sep,
        key_sep,
    };
    w.value(v, &mut out, 0)?;
    Ok(out)
}

struct JsonWriter<'a> {
    opts: &'a JsonOptions,
    item_sep: &'a str,
    key_sep: &'a str,
}

impl JsonWriter<'_> {
    fn newline(&self, out: &mut String, level: usize) {
        if let Some(ind) = &self.opts.indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(ind);
            }
        }
    }

    fn string(&self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c if self.opts.ensure_ascii && !c.is_ascii() => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn key(&self, k: &Value, out: &mut String) -> Result<(), Error> {
        match k.kind() {
            ValueKind::String => self.string(k.as_str().unwrap_or_default(), out),
            ValueKind::None => out.push_str("\"null\""),
            ValueKind::Bool => out.push_str(if k.is_true() { "\"true\"" } else { "\"false\"" }),
            ValueKind::Number => {
                let _ = write!(out, "\"{}\"", number_str(k));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "tojson: keys must be str, int, float, bool or None, not {}",
                        k.kind()
                    ),
                ))
            }
        }
        Ok(())
    }

    fn value(&self, v: &Value, out: &mut String, level: usize) -> Result<(), Error> {
        if level > MAX_DEPTH {
            return Err(too_deep());
        }
        match v.kind() {
            ValueKind::None => out.push_str("null"),
            ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
            ValueKind::Number => {
                if !v.is_integer() {
                    if let Ok(f) = f64::try_from(v.clone()) {
                        if f.is_nan() {
                            out.push_str("NaN");
                            return Ok(());
                        }
                        if f.is_infinite() {
                            out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
                            return Ok(());
                        }
                    }
                }
                out.push_str(&number_str(v));
            }
            ValueKind::String => self.string(v.as_str().unwrap_or_default(), out),
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = v.try_iter()?.collect();
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(self.item_sep);
                    }
                    self.newline(out, level + 1);
                    self.value(item, out, level + 1)?;
                }
                self.newline(out, level);
                out.push(']');
            }
            ValueKind::Map => {
                let mut keys: Vec<Value> = v.try_iter()?.collect();
                if keys.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                if self.opts.sort_keys {
                    keys.sort();
                }
                out.push('{');
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push_str(self.item_sep);
                    }
                    self.newline(out, level + 1);
                    self.key(key, out)?;
                    out.push_str(self.key_sep);
                    self.value(&v.get_item(key)?, out, level + 1)?;
                }
                self.newline(out, level);
                out.push('}');
            }
            kind => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: object of type {kind} is not JSON serializable"),
                ))
            }
        }
        Ok(())
    }
}

/// A UTC calendar time, enough for `strftime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Monday, as Python's `weekday()`.
    pub weekday: u32,
    /// 1-based day of the year.
    pub yday: u32,
}

impl DateTime {
    /// The calendar time of `secs` seconds after the Unix epoch, UTC.
    pub(crate) fn from_unix(secs: i64) -> DateTime {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = CUM[(month - 1) as usize] + day + u32::from(leap && month > 2);
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
            // 1970-01-01 was a Thursday (3).
            weekday: (days + 3).rem_euclid(7) as u32,
            yday,
        }
    }

    /// The current time, UTC.
    pub(crate) fn now_utc() -> DateTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        DateTime::from_unix(secs)
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// C/Python `strftime` for the common directives (and glibc's `%-d` style no-padding flag).
/// Unknown directives are copied through as Python does on glibc.
pub(crate) fn strftime(fmt: &str, t: &DateTime) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let no_pad = chars.peek() == Some(&'-');
        if no_pad {
            chars.next();
        }
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        let num = |out: &mut String, n: i64, width: usize| {
            if no_pad {
                let _ = write!(out, "{n}");
            } else {
                let _ = write!(out, "{n:0width$}");
            }
        };
        let month = MONTHS[(t.month.clamp(1, 12) - 1) as usize];
        let day = DAYS[(t.weekday % 7) as usize];
        match d {
            'Y' => {
                let _ = write!(out, "{}", t.year);
            }
            'y' => num(&mut out, t.year.rem_euclid(100), 2),
            'm' => num(&mut out, i64::from(t.month), 2),
            'd' => num(&mut out, i64::from(t.day), 2),
            'e' => {
                let _ = write!(out, "{:2}", t.day);
            }
            'H' => num(&mut out, i64::from(t.hour), 2),
            'I' => num(&mut out, i64::from((t.hour + 11) % 12 + 1), 2),
            'M' => num(&mut out, i64::from(t.minute), 2),
            'S' => num(&mut out, i64::from(t.second), 2),
            'j' => num(&mut out, i64::from(t.yday), 3),
            'p' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
            'b' | 'h' => out.push_str(&month[..3]),
            'B' => out.push_str(month),
            'a' => out.push_str(&day[..3]),
            'A' => out.push_str(day),
            'w' => num(&mut out, i64::from((t.weekday + 1) % 7), 1),
            'u' => num(&mut out, i64::from(t.weekday + 1), 1),
            'F' => {
                let _ = write!(out, "{}-{:02}-{:02}", t.year, t.month, t.day);
            }
            'T' => {
                let _ = write!(out, "{:02}:{:02}:{:02}", t.hour, t.minute, t.second);
            }
            'Z' => out.push_str("UTC"),
            'z' => out.push_str("+0000"),
            '%' => out.push('%'),
            other => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (1e100, "1e+100"),
            (3.0e20, "3e+20"),
            (0.0, "0.0"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let v = Value::from_serialize_json(
            r#"{"a": [1, 2.0, null, true, "it's"], "b": {"c": "x\ny"}}"#,
        );
        let mut s = String::new();
        py_repr(&v, &mut s, 0).unwrap();
        assert_eq!(
            s,
            r#"{'a': [1, 2.0, None, True, "it's"], 'b': {'c': 'x\ny'}}"#
        );
    }

    #[test]
    fn json_dumps_matches_python() {
        let v = Value::from_serialize_json(r#"{"z": 1, "a": [1.5, "é\u0001\"", {}], "e": []}"#);
        let plain = json_dumps(&v, &JsonOptions::default()).unwrap();
        assert_eq!(
            plain,
            "{\"z\": 1, \"a\": [1.5, \"é\\u0001\\\"\", {}], \"e\": []}"
        );
        let opts = JsonOptions {
            indent: Some("  ".into()),
            sort_keys: true,
            ..Default::default()
        };
        let pretty = json_dumps(&v, &opts).unwrap();
        assert_eq!(
            pretty,
            "{\n  \"a\": [\n    1.5,\n    \"é\\u0001\\\"\",\n    {}\n  ],\n  \"e\": [],\n  \"z\": 1\n}"
        );
        let ascii = JsonOptions {
            ensure_ascii: true,
            ..Default::default()
        };
        assert_eq!(
            json_dumps(&Value::from("é😀"), &ascii).unwrap(),
            "\"\\u00e9\\ud83d\\ude00\""
        );
    }

    #[test]
    fn dates() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        let t = DateTime::from_unix(1_709_211_909);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 2, 29, 13, 5, 9)
        );
        assert_eq!(t.weekday, 3);
        assert_eq!(t.yday, 60);
        assert_eq!(strftime("%d %b %Y", &t), "29 Feb 2024");
        assert_eq!(
            strftime("%A %B %-d, %I:%M %p %j %%", &t),
            "Thursday February 29, 01:05 PM 060 %"
        );
        let epoch = DateTime::from_unix(0);
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S %a", &epoch),
            "1970-01-01 00:00:00 Thu"
        );
        let before = DateTime::from_unix(-86_400);
        assert_eq!(strftime("%F %a", &before), "1969-12-31 Wed");
    }

    trait FromJson {
        fn from_serialize_json(s: &str) -> Value;
    }
    impl FromJson for Value {
        fn from_serialize_json(s: &str) -> Value {
            let j: serde_json::Value = serde_json::from_str(s).unwrap();
            Value::from(minijinja::value::Serde(j))
        }
    }
}
