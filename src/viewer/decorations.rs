//! The north arrow and the scale bar, lying on the ground off the unit's south-west corner: where
//! they stand (the views frame them, tests project them) and their triangles. Pure data, no Bevy.

use super::geometry::{Builder, MeshData, SceneFrame};
use super::palette::{self, Rgb};
use crate::draw::{DrawTwin, WorldPoint};

/// Heights above the unit's lowest point (m): the bar's dark frame, then its segments, the arrow and
/// the letters (the ground lies at −0.06).
const FRAME_LIFT: f64 = -0.03;
const MARK_LIFT: f64 = -0.01;

/// The marks of a unit, in world coordinates (x east, y north).
#[derive(Clone, Debug, PartialEq)]
pub struct Decorations {
    /// Height the marks lie at (the frame a little lower).
    pub z: f64,
    /// The arrow's tail and tip: it points north (+y).
    pub arrow_tail: [f64; 2],
    pub arrow_tip: [f64; 2],
    /// Width of the arrow's shaft and of its head.
    pub shaft_width: f64,
    pub head_width: f64,
    /// Lower-left corner of the "N" above the arrow's tip.
    pub north_at: [f64; 2],
    /// West end of the bar, on its middle line.
    pub bar_start: [f64; 2],
    /// The bar's length (m, a round 1, 2 or 5 × 10^k) and thickness.
    pub length: f64,
    pub thickness: f64,
    /// Segments along the bar, alternately dark and light from the west end.
    pub segments: usize,
    /// The bar's label ("20 m") and its lower-left corner, centred over the bar.
    pub label: String,
    pub label_at: [f64; 2],
    /// Height of the letters.
    pub text_height: f64,
}

/// The round length (1, 2 or 5 × 10^k m) nearest to a fifth of `width` (on a log scale).
pub fn scale_length(width: f64) -> f64 {
    let target = (width.max(1e-3)) / 5.0;
    let decade = 10f64.powf(target.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .min_by(|a, b| (a / target).ln().abs().total_cmp(&(b / target).ln().abs()))
        .expect("four candidates")
}

impl Decorations {
    /// The marks of `twin`: the bar about a fifth of its width long, starting at its west edge just
    /// south of it, its label above it, and the arrow east of the bar.
    pub fn of(twin: &DrawTwin) -> Decorations {
        let width = (twin.max[0] - twin.min[0]).max(10.0);
        let size = width.max(twin.max[1] - twin.min[1]);
        let length = scale_length(width);
        // The marks' size: the bar's length, but not lost in a unit much longer than it is wide.
        let k = length.max(0.1 * size);
        let text_height = 0.22 * k;
        let thickness = 0.08 * k;
        let gap = 0.08 * k;
        let top = twin.min[1] - 2.0 * gap;
        let label = format!("{} m", length);
        let label_width = text_width(&label, text_height);
        let label_at = [twin.min[0] + (length - label_width) / 2.0, top - text_height];
        let bar_start = [twin.min[0], top - text_height - gap - thickness / 2.0];
        let arrow_x = twin.min[0] + length.max(label_width) + 0.4 * k;
        let tip = top - text_height - 0.5 * gap;
        let north_width = text_width("N", text_height);
        let lead = length_digit(length);
        Decorations {
            z: twin.min[2] + MARK_LIFT,
            arrow_tail: [arrow_x, tip - 0.6 * k],
            arrow_tip: [arrow_x, tip],
            shaft_width: 0.06 * k,
            head_width: 0.2 * k,
            north_at: [arrow_x - north_width / 2.0, top - text_height],
            bar_start,
            length,
            thickness,
            segments: if lead == 2 { 4 } else { 5 },
            label,
            label_at,
            text_height,
        }
    }

    /// The bar's end east.
    pub fn bar_end(&self) -> [f64; 2] {
        [self.bar_start[0] + self.length, self.bar_start[1]]
    }

    /// Segment `i` of the bar: its west and east x and its colour.
    pub fn segment(&self, i: usize) -> (f64, f64, Rgb) {
        let step = self.length / self.segments as f64;
        let colour = if i % 2 == 0 { palette::SCALE_DARK } else { palette::SCALE_LIGHT };
        (self.bar_start[0] + step * i as f64, self.bar_start[0] + step * (i + 1) as f64, colour)
    }

    /// Width of the dark frame along the bar's long sides.
    pub fn frame_width(&self) -> f64 {
        0.25 * self.thickness
    }

    /// South-west and north-east corners of everything drawn (world x, y).
    pub fn bounds(&self) -> [[f64; 2]; 2] {
        let half = self.thickness / 2.0 + self.frame_width();
        let xs = [
            self.bar_start[0],
            self.bar_end()[0],
            self.label_at[0],
            self.label_at[0] + text_width(&self.label, self.text_height),
            self.arrow_tip[0] - self.head_width / 2.0,
            self.arrow_tip[0] + self.head_width / 2.0,
            self.north_at[0] + text_width("N", self.text_height),
        ];
        let ys = [
            self.bar_start[1] - half,
            self.arrow_tail[1],
            self.label_at[1] + self.text_height,
            self.north_at[1] + self.text_height,
        ];
        let fold = |v: &[f64]| {
            (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        };
        let ((x0, x1), (y0, y1)) = (fold(&xs), fold(&ys));
        [[x0, y0], [x1, y1]]
    }

    /// The marks' triangles: the arrow with its "N", the framed bar and its label.
    pub fn mesh(&self, frame: SceneFrame) -> MeshData {
        let mut b = Builder::new(frame);
        let z = self.z;
        let at = |x: f64, y: f64| [x, y, z];
        // The arrow: a shaft and a head, one polygon.
        let ([x, y0], y1) = (self.arrow_tail, self.arrow_tip[1]);
        let (sw, hw) = (self.shaft_width / 2.0, self.head_width / 2.0);
        let neck = y1 - 1.6 * self.head_width;
        let arrow = [
            at(x - sw, y0),
            at(x + sw, y0),
            at(x + sw, neck),
            at(x + hw, neck),
            at(x, y1),
            at(x - hw, neck),
            at(x - sw, neck),
        ];
        b.polygon(&arrow, &[], z, palette::NORTH_ARROW);
        text(&mut b, "N", self.north_at, self.text_height, z, palette::NORTH_ARROW);
        // The bar: a dark frame the length of the bar, then its segments over it.
        let [x0, y] = self.bar_start;
        let x1 = self.bar_end()[0];
        let h = self.thickness / 2.0 + self.frame_width();
        let fz = self.z - MARK_LIFT + FRAME_LIFT;
        b.quad(
            [[x0, y - h, fz], [x1, y - h, fz], [x1, y + h, fz], [x0, y + h, fz]],
            [0.0, 1.0, 0.0],
            palette::SCALE_DARK,
        );
        let t = self.thickness / 2.0;
        for i in 0..self.segments {
            let (a, c, colour) = self.segment(i);
            b.quad([at(a, y - t), at(c, y - t), at(c, y + t), at(a, y + t)], [0.0, 1.0, 0.0], colour);
        }
        text(&mut b, &self.label, self.label_at, self.text_height, z, palette::NORTH_ARROW);
        b.mesh
    }
}

/// The leading digit of a round length.
fn length_digit(length: f64) -> u32 {
    let decade = 10f64.powf(length.log10().floor());
    (length / decade).round() as u32
}

/// Glyph width, as a share of the letter height, and the space between letters.
const GLYPH_WIDTH: f64 = 0.55;
const WIDE_GLYPH_WIDTH: f64 = 0.75;
const LETTER_SPACE: f64 = 0.3;
/// Stroke width, as a share of the letter height.
const STROKE: f64 = 0.13;

fn glyph_width(c: char) -> f64 {
    match c {
        'm' => WIDE_GLYPH_WIDTH,
        _ => GLYPH_WIDTH,
    }
}

/// Width of `s` written `height` high.
pub fn text_width(s: &str, height: f64) -> f64 {
    let n = s.chars().count();
    (s.chars().map(glyph_width).sum::<f64>() + LETTER_SPACE * n.saturating_sub(1) as f64) * height
}

/// A glyph's strokes in its box (0–width across, 0–1 up), each with whether its ends are capped
/// (squared off half a stroke beyond its ends, so strokes meet at corners).
fn strokes(c: char) -> Vec<([f64; 2], [f64; 2], bool)> {
    let w = glyph_width(c);
    // Seven segments: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle.
    let seg = |s: char| match s {
        'a' => ([0.0, 1.0], [w, 1.0]),
        'b' => ([w, 1.0], [w, 0.5]),
        'c' => ([w, 0.5], [w, 0.0]),
        'd' => ([0.0, 0.0], [w, 0.0]),
        'e' => ([0.0, 0.0], [0.0, 0.5]),
        'f' => ([0.0, 0.5], [0.0, 1.0]),
        _ => ([0.0, 0.5], [w, 0.5]),
    };
    let digit = |segments: &str| segments.chars().map(|s| (seg(s).0, seg(s).1, true)).collect();
    match c {
        '0' => digit("abcdef"),
        '1' => vec![([w / 2.0, 0.0], [w / 2.0, 1.0], true)],
        '2' => digit("abged"),
        '3' => digit("abgcd"),
        '4' => digit("fgbc"),
        '5' => digit("afgcd"),
        '6' => digit("afgedc"),
        '7' => digit("abc"),
        '8' => digit("abcdefg"),
        '9' => digit("abcdfg"),
        '.' => vec![([w / 2.0 - 0.01, 0.0], [w / 2.0 + 0.01, 0.0], true)],
        'N' => vec![([0.0, 0.0], [0.0, 1.0], true), ([w, 0.0], [w, 1.0], true), ([0.0, 1.0], [w, 0.0], false)],
        'm' => vec![
            ([0.0, 0.0], [0.0, 0.6], true),
            ([0.0, 0.6], [w, 0.6], true),
            ([w / 2.0, 0.6], [w / 2.0, 0.0], true),
            ([w, 0.6], [w, 0.0], true),
        ],
        _ => Vec::new(),
    }
}

/// `s` in strokes, its lower-left corner at `at`, `height` high, lying flat at `z`.
fn text(b: &mut Builder, s: &str, at: [f64; 2], height: f64, z: f64, colour: Rgb) {
    let half = STROKE * height / 2.0;
    let mut x = at[0] + half;
    // Glyph boxes are inset by half a stroke so that strokes stay inside the letter's box.
    let scale = height - 2.0 * half;
    for c in s.chars() {
        for (p, q, capped) in strokes(c) {
            let p = [x + p[0] * scale, at[1] + half + p[1] * scale];
            let q = [x + q[0] * scale, at[1] + half + q[1] * scale];
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let len = (dx * dx + dy * dy).sqrt();
            if len < 1e-9 {
                continue;
            }
            let (ux, uy) = (dx / len, dy / len);
            let cap = if capped { half } else { 0.0 };
            let (p, q) = ([p[0] - ux * cap, p[1] - uy * cap], [q[0] + ux * cap, q[1] + uy * cap]);
            let (nx, ny) = (-uy * half, ux * half);
            let corners: [WorldPoint; 4] = [
                [p[0] - nx, p[1] - ny, z],
                [q[0] - nx, q[1] - ny, z],
                [q[0] + nx, q[1] + ny, z],
                [p[0] + nx, p[1] + ny, z],
            ];
            b.quad(corners, [0.0, 1.0, 0.0], colour);
        }
        x += (glyph_width(c) + LETTER_SPACE) * height;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_is_a_round_fifth_of_the_width() {
        assert_eq!(scale_length(100.0), 20.0);
        assert_eq!(scale_length(120.0), 20.0);
        assert_eq!(scale_length(40.0), 10.0);
        assert_eq!(scale_length(200.0), 50.0);
        assert_eq!(scale_length(300.0), 50.0);
        assert_eq!(scale_length(400.0), 100.0);
        assert_eq!(length_digit(20.0), 2);
        assert_eq!(length_digit(500.0), 5);
    }

    #[test]
    fn digits_and_letters_have_strokes() {
        for c in "0123456789Nm".chars() {
            assert!(!strokes(c).is_empty(), "{c}");
        }
        assert!((text_width("N", 1.0) - GLYPH_WIDTH).abs() < 1e-12);
    }
}
