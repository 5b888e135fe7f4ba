//! Inline SVG for the run report: time-series line charts with axes, legend and threshold bands,
//! drawn with presentation attributes only, so that a chart exported on its own looks the same.

use std::fmt::Write;

/// Colours of series, distinguishable in print and for the common colour-vision deficiencies
/// (Okabe & Ito's palette, then greys).
pub const PALETTE: [&str; 9] =
    ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#999999"];

/// Fill colours of Fruin's Levels of Service A–F, from calm green to alarm red.
pub const LOS_COLOURS: [&str; 6] = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"];

/// The font stack of every text, with CJK faces for scene names in Chinese.
pub const FONT_STACK: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif";

/// Most points drawn per series; longer series are reduced to each bucket's minimum and maximum.
const MAX_POINTS: usize = 1200;

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 and mean nothing in a name.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (e.g. the other direction of a line).
    pub dashed: bool,
}

/// A horizontal band or line behind the series.
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub fill: &'static str,
    pub label: String,
}

pub struct LineChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    /// Dashed horizontal reference lines with a label (drawn when within the axis).
    pub rules: Vec<(f64, String)>,
    /// The y axis reaches at least this.
    pub y_min_top: f64,
}

/// Round tick spacing giving about `count` ticks over `span`.
pub fn nice_step(span: f64, count: f64) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let raw = span / count;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A number for a tick label: no trailing zeros.
pub fn tick(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Keeps at most about `MAX_POINTS`: per bucket, the first point, the minimum and the maximum, in order.
fn reduce(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(MAX_POINTS / 3);
    let mut out = Vec::with_capacity(MAX_POINTS + 3);
    for chunk in points.chunks(bucket) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[lo].1 {
                lo = i;
            }
            if p.1 > chunk[hi].1 {
                hi = i;
            }
        }
        let mut keep = [0, lo, hi];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(chunk[k]);
                last = k;
            }
        }
    }
    if let (Some(a), Some(b)) = (out.last(), points.last())
        && a != b
    {
        out.push(*b);
    }
    out
}

const W: f64 = 860.0;
const H: f64 = 340.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

impl LineChart<'_> {
    pub fn svg(&self) -> String {
        let (mut x_max, mut y_max) = (0f64, self.y_min_top);
        for s in &self.series {
            for &(x, y) in &s.points {
                if x.is_finite() {
                    x_max = x_max.max(x);
                }
                if y.is_finite() {
                    y_max = y_max.max(y);
                }
            }
        }
        let x_max = if x_max > 0.0 { x_max } else { 1.0 };
        let y_step = nice_step(y_max, 5.0);
        let y_max = if y_max > 0.0 { (y_max / y_step).ceil() * y_step } else { 1.0 };
        let x_step = nice_step(x_max, 8.0);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let sx = |x: f64| LEFT + x / x_max * pw;
        let sy = |y: f64| TOP + ph - y.clamp(0.0, y_max) / y_max * ph;
        let mut o = String::new();
        let _ = write!(
            o,
            r##"<svg id="{id}-svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="{font}" font-size="12" role="img" aria-label="{title}"><rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold">{title}</text>"##,
            id = esc(self.id),
            font = FONT_STACK,
            title = esc(self.title),
        );
        for band in &self.bands {
            let (a, b) = (band.from.min(y_max), band.to.min(y_max));
            if b <= a {
                continue;
            }
            let _ = write!(
                o,
                r##"<rect x="{LEFT}" y="{:.1}" width="{pw:.1}" height="{:.1}" fill="{}" fill-opacity="0.25"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#555555" text-anchor="end">{}</text>"##,
                sy(b),
                sy(a) - sy(b),
                band.fill,
                LEFT + pw - 4.0,
                (sy(a) + sy(b)) / 2.0 + 3.5,
                esc(&band.label)
            );
        }
        // Grid and ticks.
        let mut y = 0.0;
        while y <= y_max + y_step * 1e-6 {
            let _ = write!(
                o,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#dddddd" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333333">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                sy(y) + 4.0,
                tick(y),
                py = sy(y)
            );
            y += y_step;
        }
        let mut x = 0.0;
        while x <= x_max + x_step * 1e-6 {
            let _ = write!(
                o,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eeeeee" stroke-width="1"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{}</text>"##,
                TOP + ph,
                TOP + ph + 16.0,
                tick(x),
                px = sx(x)
            );
            x += x_step;
        }
        let _ = write!(
            o,
            r##"<line x1="{LEFT}" y1="{b:.1}" x2="{:.1}" y2="{b:.1}" stroke="#333333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b:.1}" stroke="#333333"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" fill="#333333">{}</text>"##,
            LEFT + pw,
            LEFT + pw / 2.0,
            H - 8.0,
            esc(self.x_label),
            TOP + ph / 2.0,
            esc(self.y_label),
            b = TOP + ph
        );
        for (y, label) in self.rules.iter().filter(|(y, _)| *y <= y_max) {
            let _ = write!(
                o,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#b2182b" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#b2182b" font-size="11">{}</text>"##,
                LEFT + pw,
                LEFT + 4.0,
                sy(*y) - 4.0,
                esc(label),
                py = sy(*y)
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let mut path = String::new();
            for (k, (x, y)) in reduce(&s.points).iter().enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let _ = write!(path, "{}{:.1},{:.1}", if k == 0 { "" } else { " " }, sx(*x), sy(*y));
            }
            let dash = if s.dashed { r#" stroke-dasharray="5 3""# } else { "" };
            let _ = write!(o, r#"<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"{dash}/>"#);
            // Legend on the right.
            let ly = TOP + 8.0 + i as f64 * 18.0;
            if ly < H - 10.0 {
                let _ = write!(
                    o,
                    r##"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}" fill="#222222" font-size="11">{}</text>"##,
                    W - RIGHT + 12.0,
                    W - RIGHT + 32.0,
                    W - RIGHT + 38.0,
                    ly + 4.0,
                    esc(&truncate(&s.name, 26))
                );
            }
        }
        if self.series.iter().all(|s| s.points.is_empty()) {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#777777">no data</text>"##,
                LEFT + pw / 2.0,
                TOP + ph / 2.0
            );
        }
        o.push_str("</svg>");
        o
    }
}

/// At most `n` characters, with an ellipsis when cut.
pub fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n - 1).collect::<String>())
    }
}

/// Base64 of bytes (RFC 4648, with padding), for binary data in the page.
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn escaping_and_ticks() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(100.0), "100");
        assert_eq!(nice_step(600.0, 8.0), 100.0);
    }

    #[test]
    fn reduction_keeps_extremes() {
        let points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, if i == 4321 { 9.0 } else { 1.0 })).collect();
        let r = reduce(&points);
        assert!(r.len() <= MAX_POINTS + 3);
        assert!(r.contains(&(4321.0, 9.0)));
        assert_eq!(r.last(), points.last());
    }
}
