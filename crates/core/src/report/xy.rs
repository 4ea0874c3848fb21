//! Line and scatter plots written as SVG text.
//!
//! - An axis is log-scaled where its values are all positive and span at least a factor
//!   100 (or where the plot forces it); ticks then sit on decades (with 2 and 5 between
//!   them when fewer than three decades show).
//! - An axis whose values are all integers gets integer ticks only.
//! - Line series of more than [`MAX_MARKED`] points have no markers, and their error bars
//!   are drawn as a shaded band; shorter series and scatter plots get markers and whiskers.
//! - The legend sits in a column of its own right of the data, so it never covers a point.
//! - Point labels ([`super::Series::labels`]) are written beside their points.

use std::fmt::Write;

use super::plot::{Palette, Plot, PlotKind, Series};
use super::svg::{CHAR_W, Doc, max_chars, num, rgb, ticks};

/// Line series with more points than this are drawn without markers, error bars as a band.
pub(super) const MAX_MARKED: usize = 25;

const PLOT_W: f64 = 600.0;
const PLOT_H: f64 = 380.0;
const LEFT: f64 = 76.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 58.0;

/// One axis: the data range it shows and the pixels it maps onto.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    integer: bool,
    p0: f64,
    p1: f64,
}

impl Axis {
    /// Fits `values` (non-finite ones ignored) onto pixels `p0..p1`.
    fn fit(values: &[f64], force_log: Option<bool>, p0: f64, p1: f64) -> Self {
        let finite = || values.iter().copied().filter(|v| v.is_finite());
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let integer = finite().count() > 0 && finite().all(|v| v == v.round() && v.abs() < 1e9);
        if !lo.is_finite() {
            return Self {
                lo: 0.0,
                hi: 1.0,
                log: false,
                integer: false,
                p0,
                p1,
            };
        }
        let positive = lo > 0.0;
        let log = positive && force_log.unwrap_or(hi / lo >= 100.0);
        let (lo, hi) = if log {
            let (a, b) = (lo.log10(), hi.log10());
            let pad = (0.04 * (b - a)).max(0.05);
            (10f64.powf(a - pad), 10f64.powf(b + pad))
        } else if hi > lo {
            let pad = 0.05 * (hi - lo);
            (lo - pad, hi + pad)
        } else {
            let pad = 0.5 * lo.abs().max(1.0);
            (lo - pad, hi + pad)
        };
        Self {
            lo,
            hi,
            log,
            integer,
            p0,
            p1,
        }
    }

    /// The pixel of value `v` (None where it cannot be drawn: non-finite, or not positive
    /// on a log axis).
    fn px(&self, v: f64) -> Option<f64> {
        if !v.is_finite() || (self.log && v <= 0.0) {
            return None;
        }
        let t = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        Some(self.p0 + t * (self.p1 - self.p0))
    }

    /// Tick values inside the range.
    fn ticks(&self, target: usize) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().ceil() as i32,
                self.hi.log10().floor() as i32,
            );
            let mut t: Vec<f64> = (a..=b).map(|k| 10f64.powi(k)).collect();
            if t.len() < 3 {
                for k in (a - 1)..=b {
                    for m in [2.0, 5.0] {
                        let v = m * 10f64.powi(k);
                        if v >= self.lo && v <= self.hi {
                            t.push(v);
                        }
                    }
                }
                t.sort_by(f64::total_cmp);
            }
            return t;
        }
        let t = ticks(self.lo, self.hi, target);
        if self.integer && t.iter().any(|v| *v != v.round()) {
            // A step below 1 on integer data: every integer in range instead.
            return (self.lo.ceil() as i64..=self.hi.floor() as i64)
                .map(|i| i as f64)
                .collect();
        }
        t
    }
}

/// Every y extent a series needs shown: its points, and the ends of its error bars.
fn y_extents(s: &Series) -> Vec<f64> {
    let mut v = Vec::with_capacity(3 * s.points.len());
    for (i, &(x, y)) in s.points.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        v.push(y);
        if let Some(e) = s
            .y_err
            .as_ref()
            .and_then(|e| e.get(i))
            .filter(|e| e.is_finite())
        {
            v.extend([y - e.abs(), y + e.abs()]);
        }
    }
    v
}

fn points_attr(pts: &[(f64, f64)]) -> String {
    let mut s = String::new();
    for (x, y) in pts {
        let _ = write!(s, "{x:.2},{y:.2} ");
    }
    s.trim_end().to_string()
}

/// Renders a line or scatter plot.
pub(super) fn xy(p: &Plot, palette: &Palette) -> anyhow::Result<String> {
    super::svg::check_series(p)?;
    let xs: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter(|q| q.1.is_finite()).map(|q| q.0))
        .collect();
    let ys: Vec<f64> = p.series.iter().flat_map(y_extents).collect();
    let xa = Axis::fit(&xs, p.log_x, LEFT, LEFT + PLOT_W);
    let ya = Axis::fit(&ys, p.log_y, TOP + PLOT_H, TOP);

    let named: Vec<&Series> = p.series.iter().filter(|s| !s.name.is_empty()).collect();
    let legend_w = if named.is_empty() {
        0.0
    } else {
        44.0 + CHAR_W * max_chars(named.iter().map(|s| &s.name)) as f64
    };
    let w = LEFT + PLOT_W + 20.0 + legend_w;
    let h = TOP + PLOT_H + BOTTOM;
    let mut d = Doc::new(w, h);
    d.title(w, 26.0, &p.title);

    // Grid, ticks and axis labels.
    let (bottom, right) = (TOP + PLOT_H, LEFT + PLOT_W);
    for t in xa.ticks(8) {
        let Some(x) = xa.px(t) else { continue };
        d.line(x, TOP, x, bottom, "#ececec");
        d.line(x, bottom, x, bottom + 5.0, "#000000");
        d.text((x, bottom + 19.0), &num(t), 12, "middle", 0.0, "#000000");
    }
    for t in ya.ticks(6) {
        let Some(y) = ya.px(t) else { continue };
        d.line(LEFT, y, right, y, "#ececec");
        d.line(LEFT - 5.0, y, LEFT, y, "#000000");
        d.text((LEFT - 8.0, y + 4.0), &num(t), 12, "end", 0.0, "#000000");
    }
    d.line(LEFT, TOP, LEFT, bottom, "#000000");
    d.line(LEFT, bottom, right, bottom, "#000000");
    let scale = |a: &Axis| if a.log { " (log scale)" } else { "" };
    d.text(
        (LEFT + PLOT_W / 2.0, bottom + 44.0),
        &format!("{}{}", p.x_label, scale(&xa)),
        13,
        "middle",
        0.0,
        "#000000",
    );
    d.text(
        (20.0, TOP + PLOT_H / 2.0),
        &format!("{}{}", p.y_label, scale(&ya)),
        13,
        "middle",
        -90.0,
        "#000000",
    );

    for (k, s) in p.series.iter().enumerate() {
        draw_series(&mut d, p.kind, s, &rgb(palette.color(&s.name, k)), &xa, &ya);
    }

    // The legend, in its own column.
    let lx = right + 24.0;
    for (i, s) in named.iter().enumerate() {
        let k = p
            .series
            .iter()
            .position(|t| std::ptr::eq(t, *s))
            .unwrap_or(i);
        let c = rgb(palette.color(&s.name, k));
        let y = TOP + 10.0 + 20.0 * i as f64;
        if p.kind == PlotKind::Line {
            d.raw(&format!(
                r#"<line x1="{:.2}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="{c}" stroke-width="2"/>"#,
                lx,
                lx + 22.0
            ));
        }
        if p.kind == PlotKind::Scatter || s.points.len() <= MAX_MARKED {
            d.raw(&format!(
                r#"<circle cx="{:.2}" cy="{y:.2}" r="3.5" fill="{c}"/>"#,
                lx + 11.0
            ));
        }
        d.text((lx + 30.0, y + 4.0), &s.name, 12, "start", 0.0, "#000000");
    }
    Ok(d.finish())
}

fn draw_series(d: &mut Doc, kind: PlotKind, s: &Series, c: &str, xa: &Axis, ya: &Axis) {
    // (x px, y px, error half-width in data units) in order of x for lines.
    let mut pts: Vec<(usize, f64, f64)> = s
        .points
        .iter()
        .enumerate()
        // A missing y stays in, so that the line breaks there.
        .filter(|(_, q)| q.0.is_finite())
        .map(|(i, q)| (i, q.0, q.1))
        .collect();
    if kind == PlotKind::Line {
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    let err = |i: usize| {
        s.y_err
            .as_ref()
            .map(|e| e[i])
            .filter(|e| e.is_finite())
            .map(f64::abs)
    };
    let marked = kind == PlotKind::Scatter || s.points.len() <= MAX_MARKED;
    if kind == PlotKind::Line && !marked && s.y_err.is_some() {
        // A band: upper edge forward, lower edge back, per run of drawable points.
        for run in runs(&pts, xa, ya) {
            let upper: Vec<(f64, f64)> = run
                .iter()
                .filter_map(|&(i, x, y)| {
                    Some((xa.px(x)?, ya.px(y + err(i).unwrap_or(0.0)).or(ya.px(y))?))
                })
                .collect();
            let lower: Vec<(f64, f64)> = run
                .iter()
                .rev()
                .filter_map(|&(i, x, y)| {
                    Some((xa.px(x)?, ya.px(y - err(i).unwrap_or(0.0)).or(ya.px(y))?))
                })
                .collect();
            let all: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            d.raw(&format!(
                r#"<polygon points="{}" fill="{c}" fill-opacity="0.18" stroke="none"/>"#,
                points_attr(&all)
            ));
        }
    }
    if kind == PlotKind::Line {
        for run in runs(&pts, xa, ya) {
            let line: Vec<(f64, f64)> = run
                .iter()
                .filter_map(|&(_, x, y)| Some((xa.px(x)?, ya.px(y)?)))
                .collect();
            d.raw(&format!(
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
                points_attr(&line)
            ));
        }
    }
    for &(i, x, y) in &pts {
        let (Some(px), Some(py)) = (xa.px(x), ya.px(y)) else {
            continue;
        };
        if marked {
            if let Some(e) = err(i) {
                let (top, bot) = (ya.px(y + e), ya.px(y - e).unwrap_or(ya.p0));
                if let Some(top) = top {
                    d.line(px, top, px, bot, c);
                    d.line(px - 4.0, top, px + 4.0, top, c);
                    d.line(px - 4.0, bot, px + 4.0, bot, c);
                }
            }
            d.raw(&format!(
                r#"<circle cx="{px:.2}" cy="{py:.2}" r="{}" fill="{c}"/>"#,
                if kind == PlotKind::Scatter { 4 } else { 3 }
            ));
        }
        if let Some(label) = s.labels.as_ref().map(|l| &l[i]).filter(|l| !l.is_empty()) {
            d.text((px + 6.0, py - 6.0), label, 11, "start", 0.0, "#333333");
        }
    }
}

/// Splits points (in drawing order) into runs whose every point can be drawn, so a line
/// breaks where a value is missing instead of bridging it.
fn runs(pts: &[(usize, f64, f64)], xa: &Axis, ya: &Axis) -> Vec<Vec<(usize, f64, f64)>> {
    let mut out: Vec<Vec<(usize, f64, f64)>> = vec![Vec::new()];
    for &q in pts {
        if xa.px(q.1).is_some() && ya.px(q.2).is_some() {
            out.last_mut().expect("never empty").push(q);
        } else if !out.last().expect("never empty").is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(values: &[f64], log: Option<bool>) -> Axis {
        Axis::fit(values, log, 0.0, 100.0)
    }

    #[test]
    fn log_axes_where_values_span_decades() {
        let a = axis(&[1.0, 370.0], None);
        assert!(a.log);
        assert_eq!(a.ticks(6), vec![1.0, 10.0, 100.0]);
        // Two decades and a bit: 2 and 5 between them only when fewer than three show.
        let b = axis(&[2.0, 300.0], None);
        assert_eq!(b.ticks(6), vec![2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]);
        assert!(!axis(&[1.0, 99.0], None).log);
        // A non-positive value keeps the axis linear, even when a log axis is asked for.
        assert!(!axis(&[0.0, 1000.0], None).log);
        assert!(!axis(&[-1.0, 1000.0], Some(true)).log);
        assert!(axis(&[1.0, 2.0], Some(true)).log);
        assert!(!axis(&[1.0, 1000.0], Some(false)).log);
        // Decades are evenly spaced in pixels.
        let (p1, p10, p100) = (
            a.px(1.0).unwrap(),
            a.px(10.0).unwrap(),
            a.px(100.0).unwrap(),
        );
        assert!(((p10 - p1) - (p100 - p10)).abs() < 1e-9);
        assert_eq!(a.px(0.0), None);
    }

    #[test]
    fn integer_data_get_integer_ticks() {
        let a = axis(&[0.0, 1.0, 2.0, 3.0], None);
        assert!(a.integer);
        assert_eq!(a.ticks(8), vec![0.0, 1.0, 2.0, 3.0]);
        let steps = axis(&[0.0, 50.0, 100.0, 300.0], None);
        assert!(steps.ticks(8).iter().all(|t| *t == t.round()));
        assert_eq!(num(50.0), "50");
        let real = axis(&[0.0, 0.5, 1.0], None);
        assert!(!real.integer);
        assert!(real.ticks(8).iter().any(|t| *t != t.round()));
    }

    #[test]
    fn long_curves_get_a_band_and_no_markers_short_ones_whiskers() {
        let n = 300;
        let long: Vec<(f64, f64)> = (0..n).map(|i| (i as f64, (i as f64).sqrt())).collect();
        let p =
            Plot::line("curve", "Loss", "step", "loss").series_with_err("ERM", long, vec![0.1; n]);
        let svg = p.to_svg().unwrap();
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 0);
        let short = Plot::line("few", "Acc", "noise", "acc").series_with_err(
            "ERM",
            vec![(0.0, 0.9), (0.5, 0.8)],
            vec![0.02, 0.03],
        );
        let svg = short.to_svg().unwrap();
        assert_eq!(svg.matches("<polygon").count(), 0);
        // Two markers and one legend marker; 3 whisker lines per point.
        assert_eq!(svg.matches("<circle").count(), 3);
        let bad = Plot::line("bad", "t", "x", "y").series_with_err("s", vec![(0.0, 1.0)], vec![]);
        let e = bad.to_svg().unwrap_err().to_string();
        assert!(e.contains("`bad`") && e.contains("error bars"), "{e}");
    }

    #[test]
    fn legend_is_right_of_the_data_and_labels_name_points() {
        let p = Plot::scatter("sc", "PPL", "score", "ppl")
            .series("models", vec![(0.1, 2.0), (0.9, 300.0)])
            .point_labels(vec!["CE".into(), "LongCE".into()]);
        let svg = p.to_svg().unwrap();
        assert!(svg.contains(">CE<") && svg.contains(">LongCE<"), "{svg}");
        assert!(svg.contains("(log scale)"));
        // The legend entry starts right of the plotting area.
        let at = svg.find(">models<").unwrap();
        let x: f64 = svg[..at].rsplit("x=\"").next().unwrap()[..6]
            .trim_end_matches('"')
            .parse()
            .unwrap();
        assert!(x > LEFT + PLOT_W, "legend at x = {x}");
        let bad = Plot::scatter("l", "t", "x", "y")
            .series("s", vec![(0.0, 1.0)])
            .point_labels(vec![]);
        assert!(
            bad.to_svg()
                .unwrap_err()
                .to_string()
                .contains("point labels")
        );
    }

    #[test]
    fn missing_values_break_the_line() {
        let p = Plot::line("gap", "t", "x", "y").series(
            "s",
            vec![
                (0.0, 1.0),
                (1.0, 2.0),
                (2.0, f64::NAN),
                (3.0, 1.0),
                (4.0, 2.0),
            ],
        );
        let svg = p.to_svg().unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2);
    }

    #[test]
    fn a_report_palette_keeps_a_methods_colour() {
        let a = Plot::line("a", "A", "x", "y")
            .series("ERM", vec![(0.0, 1.0)])
            .series("CIA", vec![(0.0, 2.0)]);
        let b = Plot::line("b", "B", "x", "y").series("CIA", vec![(0.0, 2.0)]);
        let pal = Palette::of(&[a.clone(), b.clone()]);
        let cia = rgb(pal.color("CIA", 0));
        assert!(b.to_svg_with(&pal).unwrap().contains(&cia));
        // Alone, `b` would colour CIA as its first series.
        assert!(!b.to_svg().unwrap().contains(&cia));
    }
}
