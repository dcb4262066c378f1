//! A report document: sections of paragraphs, tables, lists and figures, rendered as one
//! self-contained HTML file (figures inlined as SVG, no network) and as Markdown (figures as
//! PNG links relative to the report).

use super::tables::Table;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A piece of a section.
#[derive(Clone, Debug)]
pub enum Block {
    Para(String),
    List(Vec<String>),
    Table(Table),
    /// Preformatted text (formulas).
    Pre(String),
    /// A figure saved as `<stem>.svg` and `<stem>.png`.
    Figure {
        stem: PathBuf,
        caption: String,
    },
}

/// A titled section; `level` 2 or 3.
#[derive(Clone, Debug)]
pub struct Section {
    pub level: u8,
    pub title: String,
    pub blocks: Vec<Block>,
}

/// The whole document.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub title: String,
    /// (key, value) lines shown at the top (machine, version, seed, run time, ...).
    pub meta: Vec<(String, String)>,
    pub sections: Vec<Section>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn anchor(title: &str) -> String {
    title.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #333}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:0.9em;color:#555}
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}.meta td:first-child{font-weight:bold}nav li{margin:0.1em 0}";

impl Report {
    /// The HTML page, every figure inlined from its SVG file.
    pub fn to_html(&self) -> Result<String> {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<table class=\"meta\">",
            esc(&self.title),
            esc(&self.title)
        );
        for (k, v) in &self.meta {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
        h.push_str("</table>\n<nav><ul>");
        for s in self.sections.iter().filter(|s| s.level == 2) {
            let _ = write!(h, "<li><a href=\"#{}\">{}</a></li>", anchor(&s.title), esc(&s.title));
        }
        h.push_str("</ul></nav>\n");
        for s in &self.sections {
            let _ = writeln!(h, "<h{l} id=\"{}\">{}</h{l}>", anchor(&s.title), esc(&s.title), l = s.level);
            for b in &s.blocks {
                match b {
                    Block::Para(p) => {
                        let _ = writeln!(h, "<p>{}</p>", esc(p));
                    }
                    Block::List(items) => {
                        h.push_str("<ul>");
                        for i in items {
                            let _ = write!(h, "<li>{}</li>", esc(i));
                        }
                        h.push_str("</ul>\n");
                    }
                    Block::Pre(t) => {
                        let _ = writeln!(h, "<pre>{}</pre>", esc(t));
                    }
                    Block::Table(t) => {
                        h.push_str("<table><tr>");
                        for c in &t.header {
                            let _ = write!(h, "<th>{}</th>", esc(c));
                        }
                        h.push_str("</tr>");
                        for r in &t.rows {
                            h.push_str("<tr>");
                            for c in r {
                                let _ = write!(h, "<td>{}</td>", esc(c));
                            }
                            h.push_str("</tr>");
                        }
                        h.push_str("</table>\n");
                    }
                    Block::Figure { stem, caption } => {
                        let svg_path = stem.with_extension("svg");
                        let svg = std::fs::read_to_string(&svg_path)
                            .with_context(|| format!("reading {}", svg_path.display()))?;
                        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                        let _ = writeln!(h, "<figure>{body}<figcaption>{}</figcaption></figure>", esc(caption));
                    }
                }
            }
        }
        h.push_str("</body></html>\n");
        Ok(h)
    }

    /// Markdown with PNG figures linked relative to `base` (the report's folder).
    pub fn to_markdown(&self, base: &Path) -> String {
        let cell = |s: &str| s.replace('|', "\\|");
        let mut m = format!("# {}\n\n", self.title);
        for (k, v) in &self.meta {
            let _ = writeln!(m, "- **{k}:** {v}");
        }
        m.push('\n');
        for s in &self.sections {
            let _ = writeln!(m, "{} {}\n", "#".repeat(s.level as usize), s.title);
            for b in &s.blocks {
                match b {
                    Block::Para(p) => {
                        let _ = writeln!(m, "{p}\n");
                    }
                    Block::List(items) => {
                        for i in items {
                            let _ = writeln!(m, "- {i}");
                        }
                        m.push('\n');
                    }
                    Block::Pre(t) => {
                        let _ = writeln!(m, "```text\n{t}\n```\n");
                    }
                    Block::Table(t) => {
                        let _ = writeln!(m, "| {} |", t.header.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                        let _ = writeln!(m, "|{}|", vec!["---"; t.header.len()].join("|"));
                        for r in &t.rows {
                            let _ = writeln!(m, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                        }
                        m.push('\n');
                    }
                    Block::Figure { stem, caption } => {
                        let png = stem.with_extension("png");
                        let rel = png.strip_prefix(base).unwrap_or(&png);
                        let _ = writeln!(m, "![{}]({})\n\n*{}*\n", cell(caption), rel.display(), caption);
                    }
                }
            }
        }
        m
    }
}
