//! The report as one self-contained HTML page: inline SVG plots, no scripts, nothing fetched.
//! Plots: pass@1 per model with its 95% interval and the published figure beside it; quality
//! against speed; seconds per answer; every problem's verdict per model.

use std::fmt::Write;

use crate::report::{Report, Run};

/// One colour per run, in order (a run's bars, points and histogram share it).
pub const PALETTE: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
/// A passed problem in the verdict grid.
pub const PASS: &str = "#2ca02c";
/// A failed problem in the verdict grid.
pub const FAIL: &str = "#d62728";

const WIDTH: f64 = 760.0;
/// Left margin of a plot (labels).
const LEFT: f64 = 270.0;
/// Width of a plot's data area, from `LEFT` to a 20-pixel right margin.
const SPAN: f64 = WIDTH - LEFT - 20.0;

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub fn html(r: &Report) -> String {
    let mut h = String::new();
    let title = format!("hearth eval: {} on {}", r.suite, r.machine.cpu);
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>\
         body{{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:{}px;color:#222}}\
         h1{{font-size:22px}} h2{{font-size:17px;margin-top:28px}}\
         table{{border-collapse:collapse}} td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}} .note{{color:#666;font-size:13px}}\
         .yes{{color:#1a7f1a;font-weight:600}} .no{{color:#b22;font-weight:600}} .unknown{{color:#777}}\
         </style></head><body>\n<h1>{}</h1>",
        esc(&title),
        WIDTH + 40.0,
        esc(&title)
    );
    machine(&mut h, r);
    verdicts(&mut h, r);
    summary_table(&mut h, r);
    let _ = writeln!(h, "<h2>Pass@1 with its 95% interval</h2>");
    pass_plot(&mut h, &r.runs);
    let _ = writeln!(h, "<h2>Quality against speed</h2>");
    speed_plot(&mut h, &r.runs);
    let _ = writeln!(h, "<h2>Seconds per answer</h2>");
    for (i, run) in r.runs.iter().enumerate() {
        histogram(&mut h, i, run);
    }
    let _ = writeln!(
        h,
        "<h2>Every problem</h2>\n<p class=\"note\">One cell per problem, in order: \
         <span style=\"color:{PASS}\">■</span> passed, <span style=\"color:{FAIL}\">■</span> failed.</p>"
    );
    grid(&mut h, &r.runs);
    for a in &r.agreement {
        let _ = writeln!(
            h,
            "<p>{} against {}: the same verdict on {} of {} problems, byte-identical answers on {}. \
             Passed only by the first: {}; only by the second: {}.</p>",
            esc(&a.baseline),
            esc(&a.other),
            a.same_verdict,
            a.common,
            a.identical_answers,
            esc(&list(&a.baseline_only)),
            esc(&list(&a.other_only)),
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Data: {} ({} problems, sha256 {}). Instruction: {}; scoring: {}; at \
         most {} tokens per answer; greedy. Published figures are other people's measurements \
         (full-precision models on their hardware), shown for orientation. hearth {}.</p>\n\
         </body></html>",
        esc(&r.data.path),
        r.data.problems,
        esc(&r.data.sha256),
        esc(&r.answer_style),
        esc(&r.scorer),
        r.max_tokens,
        esc(&r.hearth)
    );
    h
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

fn machine(h: &mut String, r: &Report) {
    let m = &r.machine;
    let gpus = if m.gpus.is_empty() {
        "no GPU".to_string()
    } else {
        m.gpus.join(", ")
    };
    let _ = writeln!(
        h,
        "<p><b>Machine:</b> {}, {} logical cores, {:.1} GiB RAM, {}.</p>",
        esc(&m.cpu),
        m.logical_cores,
        m.ram_bytes as f64 / f64::from(1u32 << 30),
        esc(&gpus)
    );
}

fn verdicts(h: &mut String, r: &Report) {
    let _ = writeln!(h, "<h2>Is local realistic here?</h2>\n<ul>");
    for run in &r.runs {
        for j in &run.verdicts {
            let class = match j.realistic {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            };
            let _ = writeln!(
                h,
                "<li>{} — {}: <span class=\"{class}\">{}</span> ({})</li>",
                esc(&name(&run.summary)),
                esc(j.use_case),
                j.word(),
                esc(&j.why)
            );
        }
    }
    let _ = writeln!(h, "</ul>");
}

fn summary_table(h: &mut String, r: &Report) {
    let _ = writeln!(
        h,
        "<table><tr><th>model</th><th>passed</th><th>pass@1</th><th>95% interval</th>\
         <th>published</th><th>detail</th><th>answer p50</th><th>p90</th><th>tok/s</th></tr>"
    );
    for run in &r.runs {
        let s = &run.summary;
        let published: Vec<String> = s
            .published
            .iter()
            .map(|p| format!("{:.1}%", p.pass_at_1))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}/{}</td><td>{:.1}%</td><td>{:.1}–{:.1}%</td><td>{}</td>\
             <td>{}</td><td style=\"white-space:nowrap\">{:.2} s</td>\
             <td style=\"white-space:nowrap\">{:.2} s</td><td>{}</td></tr>",
            esc(&name(s)),
            s.passed,
            s.problems,
            s.pass_at_1,
            s.ci95[0],
            s.ci95[1],
            if published.is_empty() {
                "—".to_string()
            } else {
                published.join(", ")
            },
            detail(s),
            s.answer_s_p50,
            s.answer_s_p90,
            s.answer_tok_s
                .map_or_else(|| "—".to_string(), |t| format!("{t:.1}"))
        );
    }
    let _ = writeln!(h, "</table>");
    let sources: Vec<&str> = r
        .runs
        .iter()
        .flat_map(|run| run.summary.published.iter().map(|p| p.source.as_str()))
        .collect();
    let mut unique: Vec<&str> = Vec::new();
    for source in sources {
        if !unique.contains(&source) {
            unique.push(source);
        }
    }
    if !unique.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"note\">Published: {}.</p>",
            esc(&unique.join("; "))
        );
    }
}

fn svg_open(h: &mut String, height: f64, label: &str) {
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"system-ui,sans-serif\" font-size=\"12\">",
        esc(label)
    );
}

/// An x axis from `LEFT` to the right edge: `max` at the end, ticks every `step`.
fn x_axis(h: &mut String, y: f64, max: f64, step: f64, unit: &str) {
    let _ = writeln!(
        h,
        "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#888\"/>",
        LEFT + SPAN
    );
    let mut v = 0.0;
    while v <= max + 1e-9 {
        let x = LEFT + SPAN * v / max;
        let _ = writeln!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{y}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#888\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}{unit}</text>",
            y + 4.0,
            y + 17.0,
            trim_number(v)
        );
        v += step;
    }
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn pass_plot(h: &mut String, runs: &[Run]) {
    let row = 34.0;
    let height = 30.0 + row * runs.len() as f64 + 30.0;
    svg_open(h, height, "pass@1 per model with 95% intervals");
    let x = |p: f64| LEFT + SPAN * p.clamp(0.0, 100.0) / 100.0;
    for (i, run) in runs.iter().enumerate() {
        let s = &run.summary;
        let y = 20.0 + row * i as f64;
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LEFT}\" y=\"{y}\" width=\"{:.1}\" height=\"20\" fill=\"{}\"/>\
             <line x1=\"{:.1}\" y1=\"{}\" x2=\"{:.1}\" y2=\"{}\" stroke=\"#222\" stroke-width=\"2\"/>\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"end\" fill=\"#fff\" font-weight=\"600\">{:.1}%</text>",
            LEFT - 8.0,
            y + 14.0,
            esc(&shorten(&name(s))),
            x(s.pass_at_1) - LEFT,
            colour(i),
            x(s.ci95[0]),
            y + 10.0,
            x(s.ci95[1]),
            y + 10.0,
            (x(s.pass_at_1) - 4.0).max(LEFT + 40.0),
            y + 14.0,
            s.pass_at_1
        );
        for p in &s.published {
            let px = x(p.pass_at_1);
            let _ = writeln!(
                h,
                "<path d=\"M{px:.1} {} l6 8 l-6 8 l-6 -8 z\" fill=\"#222\"/>\
                 <text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"#222\">published {:.1}%</text>",
                y + 2.0,
                px + 8.0,
                y + 28.0,
                p.pass_at_1
            );
        }
    }
    x_axis(h, height - 26.0, 100.0, 10.0, "%");
    let _ = writeln!(h, "</svg>");
}

fn speed_plot(h: &mut String, runs: &[Run]) {
    let points: Vec<(usize, f64, &Run)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.summary.answer_tok_s?, r)))
        .collect();
    if points.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"note\">No server reported token counts: no speed to plot.</p>"
        );
        return;
    }
    let height = 300.0;
    svg_open(h, height, "pass@1 against tokens per second");
    let top = 16.0;
    let bottom = height - 40.0;
    let max_x = nice_max(points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15);
    let x = |v: f64| LEFT + SPAN * v / max_x;
    let y = |p: f64| bottom - (bottom - top) * p.clamp(0.0, 100.0) / 100.0;
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = writeln!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{p:.0}% pass@1</text>",
            y(p),
            LEFT + SPAN,
            y(p),
            LEFT - 8.0,
            y(p) + 4.0
        );
    }
    for (k, (i, tok_s, run)) in points.iter().enumerate() {
        let s = &run.summary;
        // Labels stacked, so that runs with equal figures stay readable.
        let label_y = y(s.pass_at_1) + 4.0 + 15.0 * k as f64;
        // Right of the point in the plot's left half, left of it in the right half, so that a
        // label never runs past the plot's edge.
        let (label_x, anchor) = if x(*tok_s) > LEFT + SPAN / 2.0 {
            (x(*tok_s) - 10.0, "end")
        } else {
            (x(*tok_s) + 10.0, "start")
        };
        let _ = writeln!(
            h,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-width=\"2\"/>\
             <circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"7\" fill=\"{c}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(*tok_s),
            y(s.ci95[0]),
            x(*tok_s),
            y(s.ci95[1]),
            x(*tok_s),
            y(s.pass_at_1),
            label_x,
            label_y,
            esc(&shorten(&name(s))),
            c = colour(*i),
        );
    }
    x_axis(h, bottom, max_x, max_x / 5.0, "");
    let _ = writeln!(
        h,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">tokens per second of \
         answering (prompt processing included)</text></svg>",
        LEFT + SPAN / 2.0,
        height - 4.0
    );
}

/// A round axis end at or above `v`.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&m| m >= v)
        .unwrap_or(10.0 * mag)
}

fn histogram(h: &mut String, i: usize, run: &Run) {
    let secs: Vec<f64> = run.results.iter().map(|p| p.model_s).collect();
    let max = nice_max(secs.iter().copied().fold(0.0, f64::max));
    let bins = 30usize;
    let mut counts = vec![0usize; bins];
    for s in &secs {
        let b = ((s / max) * bins as f64).floor() as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let peak = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let height = 120.0;
    let bottom = height - 26.0;
    svg_open(h, height, "seconds per answer");
    let w = SPAN / bins as f64;
    let s = &run.summary;
    let _ = writeln!(
        h,
        "<text x=\"{}\" y=\"40\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"58\" text-anchor=\"end\" fill=\"#555\">p50 {:.1} s, p90 {:.1} s</text>",
        LEFT - 8.0,
        esc(&shorten(&name(s))),
        LEFT - 8.0,
        s.answer_s_p50,
        s.answer_s_p90
    );
    for (b, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let bh = (bottom - 8.0) * c as f64 / peak;
        let _ = writeln!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{c}</title></rect>",
            LEFT + w * b as f64 + 1.0,
            bottom - bh,
            (w - 2.0).max(1.0),
            colour(i)
        );
    }
    x_axis(h, bottom, max, max / 5.0, " s");
    let _ = writeln!(h, "</svg>");
}

fn grid(h: &mut String, runs: &[Run]) {
    let n = runs.iter().map(|r| r.results.len()).max().unwrap_or(0);
    if n == 0 {
        return;
    }
    let per_row = n.min(SPAN as usize / 4).max(1);
    let cell = SPAN / per_row as f64;
    let rows = n.div_ceil(per_row);
    let band = 16.0 * rows as f64 + 12.0;
    let height = band * runs.len() as f64 + 8.0;
    svg_open(h, height, "every problem's verdict per model");
    for (i, run) in runs.iter().enumerate() {
        let y0 = 6.0 + band * i as f64;
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            y0 + 12.0,
            esc(&shorten(&name(&run.summary)))
        );
        for (k, p) in run.results.iter().enumerate() {
            let _ = writeln!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"{}\"><title>{}</title></rect>",
                LEFT + cell * (k % per_row) as f64,
                y0 + 16.0 * (k / per_row) as f64,
                (cell - 1.0).max(1.0),
                if p.passed { PASS } else { FAIL },
                esc(&p.task_id)
            );
        }
    }
    let _ = writeln!(h, "</svg>");
}

/// A label that fits the left margin.
/// What a suite measures beyond pass@1: exact matches (fim), the first try's share and the
/// malformed answers (edit).
fn detail(s: &crate::report::Summary) -> String {
    let mut parts = Vec::new();
    if let Some(e) = s.exact_match {
        parts.push(format!("exact {e:.1}%"));
    }
    if let Some(f) = s.solved_first_try {
        parts.push(format!("first try {f:.1}%"));
    }
    if let Some(m) = s.malformed {
        parts.push(format!("malformed {m:.1}%"));
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

/// A run's name: its model, and the variant where a suite has several (`fim-single`,
/// `edit-whole` …).
fn name(s: &crate::report::Summary) -> String {
    match s.suite.split_once('-') {
        Some((_, variant)) => format!("{} · {variant}", s.model),
        None => s.model.clone(),
    }
}

/// At most 34 characters for a plot label; a variant after ` · ` is kept whole, so that two
/// runs of one model stay told apart.
fn shorten(s: &str) -> String {
    const MAX: usize = 34;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let (model, tail) = match s.rsplit_once(" · ") {
        Some((m, v)) if v.chars().count() < MAX / 2 => (m, format!(" · {v}")),
        _ => (s, String::new()),
    };
    let keep = MAX - 1 - tail.chars().count();
    let head: String = model.chars().take(keep).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<b a=\"x\">&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn axis_ends_are_round() {
        assert_eq!(nice_max(7.3), 10.0);
        assert_eq!(nice_max(23.0), 25.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(100.0), 100.0);
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(shorten("short"), "short");
        let v = shorten("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (ollama) · single");
        assert!(v.ends_with("… · single") && v.chars().count() == 34, "{v}");
        let s = shorten(&"x".repeat(60));
        assert_eq!(s.chars().count(), 34);
        assert!(s.ends_with('…'));
    }
}
