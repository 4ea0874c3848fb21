//! The SVG writer every plot kind shares, and bar charts, heatmaps and image grids: these
//! three need nothing but rectangles and text.

use std::fmt::Write;

use anyhow::{bail, ensure};

use super::plot::{Palette, Plot};

pub(super) const FONT: &str = "sans-serif";
/// Rough width of one character of 12 px sans-serif text, for laying out labels.
pub(super) const CHAR_W: f64 = 6.6;
/// Average width of a title character, in units of its font size (sans-serif).
pub(super) const TITLE_EM: f64 = 0.56;

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

pub(super) fn rgb(c: (u8, u8, u8)) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A number as a short label: integers without decimals, others with three significant
/// digits and no trailing zeros.
pub(super) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == v.round() && v.abs() < 1e9 {
        return format!("{v:.0}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Tick positions covering `[lo, hi]` at a step of 1, 2 or 5 × 10^k, about `target` of them.
pub(super) fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

pub(super) struct Doc {
    out: String,
}

impl Doc {
    pub(super) fn new(w: f64, h: f64) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" xmlns="http://www.w3.org/2000/svg">"#
        );
        let _ = write!(
            out,
            r##"<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="#ffffff"/>"##
        );
        Self { out }
    }

    pub(super) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{fill}"{extra}/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }

    pub(super) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{stroke}" stroke-width="1"/>"#
        );
    }

    /// Text at `(x, y)` (baseline), anchored `start`, `middle` or `end`, rotated by `rot`
    /// degrees about its anchor.
    /// The title, centred over the picture of width `w` on baseline `y`, at the largest
    /// size up to 18 px that fits the width (an estimate: [`TITLE_EM`] of the size per
    /// character); below 11 px it is broken at the space nearest its middle into two lines.
    pub(super) fn title(&mut self, w: f64, y: f64, s: &str) {
        let avail = (w - 16.0).max(60.0);
        let fit = |chars: usize| (avail / (TITLE_EM * chars.max(1) as f64)).floor();
        let n = s.chars().count();
        let size = fit(n).min(18.0);
        if size >= 11.0 {
            self.text((w / 2.0, y), s, size as u32, "middle", 0.0, "#000000");
            return;
        }
        let spaces: Vec<usize> = s
            .char_indices()
            .filter(|c| c.1 == ' ')
            .map(|c| c.0)
            .collect();
        let Some(&cut) = spaces.iter().min_by_key(|&&i| i.abs_diff(s.len() / 2)) else {
            self.text(
                (w / 2.0, y),
                s,
                size.max(6.0) as u32,
                "middle",
                0.0,
                "#000000",
            );
            return;
        };
        let (a, b) = (&s[..cut], &s[cut + 1..]);
        let size = fit(a.chars().count().max(b.chars().count())).clamp(6.0, 14.0);
        let half = 0.6 * size;
        self.text(
            (w / 2.0, y - half),
            a,
            size as u32,
            "middle",
            0.0,
            "#000000",
        );
        self.text(
            (w / 2.0, y + half),
            b,
            size as u32,
            "middle",
            0.0,
            "#000000",
        );
    }

    pub(super) fn text(
        &mut self,
        (x, y): (f64, f64),
        s: &str,
        size: u32,
        anchor: &str,
        rot: f64,
        fill: &str,
    ) {
        let rotate = if rot == 0.0 {
            String::new()
        } else {
            format!(r#" transform="rotate({rot} {x:.2} {y:.2})""#)
        };
        let _ = write!(
            self.out,
            r#"<text x="{x:.2}" y="{y:.2}" font-family="{FONT}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{rotate}>{}</text>"#,
            esc(s)
        );
    }

    /// Appends raw SVG (an element built by the caller).
    pub(super) fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

pub(super) fn max_chars<'a>(labels: impl IntoIterator<Item = &'a String>) -> usize {
    labels
        .into_iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// Every series' error bars and point labels match its points in number.
pub(super) fn check_series(p: &Plot) -> anyhow::Result<()> {
    for s in &p.series {
        let n = s.points.len();
        let err = s.y_err.as_ref().map_or(n, Vec::len);
        let labels = s.labels.as_ref().map_or(n, Vec::len);
        for (what, m) in [("error bars", err), ("point labels", labels)] {
            ensure!(
                m == n,
                "plot `{}`: series `{}` has {n} points but {m} {what}",
                p.name,
                s.name
            );
        }
    }
    Ok(())
}

/// Horizontal grouped bars: one row per category, one bar per series.
pub(super) fn bars(p: &Plot, palette: &Palette) -> anyhow::Result<String> {
    let n_cat = p.categories.len();
    let n_ser = p.series.len().max(1);
    let mut values = vec![vec![f64::NAN; n_ser]; n_cat];
    let mut errs = vec![vec![0.0; n_ser]; n_cat];
    check_series(p)?;
    for (k, s) in p.series.iter().enumerate() {
        for (i, &(x, v)) in s.points.iter().enumerate() {
            let c = x.round();
            if !(x == c && c >= 0.0 && (c as usize) < n_cat) {
                bail!(
                    "plot `{}`: series `{}` point {i} has category index {x}, not one of 0..{n_cat}",
                    p.name,
                    s.name
                );
            }
            values[c as usize][k] = v;
            errs[c as usize][k] = s.y_err.as_ref().map_or(0.0, |e| e[i]);
        }
    }
    let finite: Vec<(f64, f64)> = values
        .iter()
        .flatten()
        .zip(errs.iter().flatten())
        .filter(|(v, _)| v.is_finite())
        .map(|(&v, &e)| (v, if e.is_finite() { e.abs() } else { 0.0 }))
        .collect();
    let lo = finite.iter().map(|(v, e)| v - e).fold(0.0, f64::min);
    let mut hi = finite.iter().map(|(v, e)| v + e).fold(0.0, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pad = 0.08 * (hi - lo);
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { lo }, hi + pad);

    let bar_h = 14.0;
    let group_h = n_ser as f64 * bar_h + 10.0;
    let legend = p.series.iter().any(|s| !s.name.is_empty());
    let left = 16.0 + CHAR_W * max_chars(&p.categories) as f64;
    let top = 40.0 + if legend { 22.0 } else { 0.0 };
    let plot_w = 560.0;
    let (w, h) = (
        left + plot_w + 40.0,
        top + group_h * n_cat.max(1) as f64 + 56.0,
    );
    let x_of = |v: f64| left + (v - lo) / (hi - lo) * plot_w;
    let mut d = Doc::new(w, h);
    d.title(w, 24.0, &p.title);
    if legend {
        let mut x = left;
        for (k, s) in p.series.iter().enumerate() {
            d.rect(
                x,
                top - 30.0,
                12.0,
                12.0,
                &rgb(palette.color(&p.series[k].name, k)),
                "",
            );
            d.text((x + 16.0, top - 20.0), &s.name, 12, "start", 0.0, "#000000");
            x += 40.0 + CHAR_W * s.name.chars().count() as f64;
        }
    }
    let bottom = top + group_h * n_cat as f64;
    for t in ticks(lo, hi, 6) {
        let x = x_of(t);
        d.line(x, top, x, bottom, "#e6e6e6");
        d.line(x, bottom, x, bottom + 5.0, "#000000");
        d.text((x, bottom + 18.0), &num(t), 11, "middle", 0.0, "#000000");
    }
    d.line(x_of(0.0), top, x_of(0.0), bottom, "#000000");
    d.line(left, bottom, left + plot_w, bottom, "#000000");
    d.text(
        (left + plot_w / 2.0, bottom + 40.0),
        &p.x_label,
        13,
        "middle",
        0.0,
        "#000000",
    );
    for (i, cat) in p.categories.iter().enumerate() {
        let y0 = top + group_h * i as f64 + 5.0;
        d.text(
            (left - 8.0, y0 + group_h / 2.0),
            cat,
            12,
            "end",
            0.0,
            "#000000",
        );
        for k in 0..n_ser {
            let v = values[i][k];
            if !v.is_finite() {
                continue;
            }
            let y = y0 + k as f64 * bar_h;
            let (a, b) = (x_of(0.0).min(x_of(v)), x_of(0.0).max(x_of(v)));
            d.rect(
                a,
                y + 1.0,
                b - a,
                bar_h - 2.0,
                &rgb(palette.color(&p.series[k].name, k)),
                "",
            );
            let e = errs[i][k];
            let mut end = b;
            if e.is_finite() && e > 0.0 {
                let (ea, eb) = (x_of(v - e.abs()), x_of(v + e.abs()));
                d.line(ea, y + bar_h / 2.0, eb, y + bar_h / 2.0, "#000000");
                d.line(ea, y + 3.0, ea, y + bar_h - 3.0, "#000000");
                d.line(eb, y + 3.0, eb, y + bar_h - 3.0, "#000000");
                end = end.max(eb);
            }
            d.text(
                (end + 4.0, y + bar_h - 3.0),
                &num(v),
                10,
                "start",
                0.0,
                "#333333",
            );
        }
    }
    Ok(d.finish())
}

/// Cells coloured from white (the smaller of 0 and the minimum) to blue (the maximum).
pub(super) fn heatmap(p: &Plot) -> anyhow::Result<String> {
    let (n_rows, n_cols) = (p.rows.len(), p.categories.len());
    ensure!(
        p.cells.len() == n_rows,
        "plot `{}`: {} rows of cells for {n_rows} row labels",
        p.name,
        p.cells.len()
    );
    for (r, row) in p.cells.iter().enumerate() {
        ensure!(
            row.len() == n_cols,
            "plot `{}`: row {r} (`{}`) has {} cells for {n_cols} column labels",
            p.name,
            p.rows[r],
            row.len()
        );
    }
    let vals = p.cells.iter().flatten().copied().filter(|v| v.is_finite());
    let lo = vals.clone().fold(0.0, f64::min);
    let hi = vals.fold(f64::NEG_INFINITY, f64::max).max(lo);
    let (cw, ch) = (48.0, 26.0);
    let left = 40.0 + CHAR_W * max_chars(&p.rows) as f64;
    let top = 44.0;
    let col_chars = max_chars(&p.categories) as f64;
    let bottom_labels = 0.72 * CHAR_W * col_chars + 14.0;
    let grid_w = cw * n_cols as f64;
    let grid_h = ch * n_rows as f64;
    let w = (left + grid_w + 30.0 + 0.72 * CHAR_W * col_chars).max(360.0);
    let h = top + grid_h + bottom_labels + 64.0;
    let mut d = Doc::new(w, h);
    d.title(w, 26.0, &p.title);
    let blue = super::plot::COLORS[0];
    let shade = |v: f64| -> ((u8, u8, u8), f64) {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
        let mix = |c: u8| (255.0 - t * (255.0 - f64::from(c))).round() as u8;
        ((mix(blue.0), mix(blue.1), mix(blue.2)), t)
    };
    for (r, row) in p.cells.iter().enumerate() {
        let y = top + ch * r as f64;
        d.text(
            (left - 8.0, y + ch / 2.0 + 4.0),
            &p.rows[r],
            12,
            "end",
            0.0,
            "#000000",
        );
        for (c, &v) in row.iter().enumerate() {
            let x = left + cw * c as f64;
            let (fill, ink) = if v.is_finite() {
                let (rgbv, t) = shade(v);
                (rgb(rgbv), if t > 0.55 { "#ffffff" } else { "#000000" })
            } else {
                ("#d9d9d9".to_string(), "#000000")
            };
            d.rect(
                x,
                y,
                cw,
                ch,
                &fill,
                r##" stroke="#ffffff" stroke-width="1""##,
            );
            d.text(
                (x + cw / 2.0, y + ch / 2.0 + 4.0),
                &num(v),
                11,
                "middle",
                0.0,
                ink,
            );
        }
    }
    for (c, name) in p.categories.iter().enumerate() {
        let x = left + cw * c as f64 + cw / 2.0;
        d.text((x, top + grid_h + 12.0), name, 12, "end", -45.0, "#000000");
    }
    let y_axis = top + grid_h + bottom_labels + 24.0;
    d.text(
        (left + grid_w / 2.0, y_axis),
        &p.x_label,
        13,
        "middle",
        0.0,
        "#000000",
    );
    d.text(
        (14.0, top + grid_h / 2.0),
        &p.y_label,
        13,
        "middle",
        -90.0,
        "#000000",
    );
    let scale = format!("colour: {} (white) to {} (blue)", num(lo), num(hi));
    d.text(
        (left + grid_w / 2.0, y_axis + 20.0),
        &scale,
        11,
        "middle",
        0.0,
        "#555555",
    );
    Ok(d.finish())
}

/// Images drawn pixel by pixel, each at least 64 px on its longer side.
pub(super) fn image_grid(p: &Plot) -> anyhow::Result<String> {
    ensure!(
        p.columns > 0,
        "plot `{}`: an image grid needs columns > 0",
        p.name
    );
    for (i, im) in p.images.iter().enumerate() {
        ensure!(
            im.width > 0 && im.height > 0 && im.pixels.len() == im.width * im.height,
            "plot `{}`: image {i} (`{}`) has {} pixels for {}×{}",
            p.name,
            im.label,
            im.pixels.len(),
            im.width,
            im.height
        );
    }
    let side = p
        .images
        .iter()
        .map(|im| im.width.max(im.height))
        .max()
        .unwrap_or(1);
    // Images at least 64 px on their longer side, 32 px in wide grids.
    let target = if p.columns > 8 { 32.0 } else { 64.0 };
    let px = (target / side as f64).ceil().max(1.0);
    let label_chars = max_chars(p.images.iter().map(|im| &im.label)) as f64;
    let captions = label_chars > 0.0;
    let cell_w =
        (side as f64 * px).max(label_chars * 0.85 * CHAR_W) + if captions { 12.0 } else { 4.0 };
    let cell_h = side as f64 * px + if captions { 24.0 } else { 4.0 };
    let n_rows = p.images.len().div_ceil(p.columns);
    let cols = p.columns.min(p.images.len()).max(1);
    let left = 10.0
        + if p.rows.is_empty() {
            0.0
        } else {
            CHAR_W * max_chars(&p.rows) as f64 + 10.0
        };
    let w = (left + cell_w * cols as f64 + 10.0).max(240.0);
    let top = 40.0;
    let h = top + cell_h * n_rows as f64 + 10.0;
    let mut d = Doc::new(w, h);
    d.title(w, 24.0, &p.title);
    for (r, label) in p.rows.iter().enumerate().take(n_rows) {
        let y = top + cell_h * r as f64 + side as f64 * px / 2.0 + 4.0;
        d.text((left - 8.0, y), label, 12, "end", 0.0, "#000000");
    }
    for (i, im) in p.images.iter().enumerate() {
        let (gx, gy) = ((i % p.columns) as f64, (i / p.columns) as f64);
        let x0 = left + gx * cell_w + (cell_w - im.width as f64 * px) / 2.0;
        let y0 = top + gy * cell_h;
        for (j, &v) in im.pixels.iter().enumerate() {
            let fill = if v.is_finite() {
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                rgb((g, g, g))
            } else {
                "#ff0000".to_string()
            };
            let (x, y) = ((j % im.width) as f64, (j / im.width) as f64);
            d.rect(x0 + x * px, y0 + y * px, px, px, &fill, "");
        }
        if !captions {
            continue;
        }
        let cx = left + gx * cell_w + cell_w / 2.0;
        d.text(
            (cx, y0 + im.height as f64 * px + 15.0),
            &im.label,
            11,
            "middle",
            0.0,
            "#000000",
        );
    }
    Ok(d.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every title line (`font-size` and text) of an SVG, with the picture's width.
    fn title_lines(svg: &str) -> (f64, Vec<(f64, String)>) {
        let w: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        let lines = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| {
                let size: f64 = t
                    .split("font-size=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse()
                    .ok()?;
                let text = t.split('>').nth(1)?.split('<').next()?.to_string();
                Some((size, text))
            })
            .collect();
        (w, lines)
    }

    #[test]
    fn long_titles_are_shrunk_or_broken_to_fit_their_picture() {
        let long =
            "a very long title that describes everything about this plot and then some more words";
        let heat =
            super::super::Plot::heatmap("h", long, "x", "y", &["a"], &["r"], vec![vec![1.0]]);
        let svg = heat.to_svg().unwrap();
        let (w, lines) = title_lines(&svg);
        let title: Vec<&(f64, String)> = lines
            .iter()
            .filter(|l| long.contains(l.1.as_str()) && l.1.len() > 10)
            .collect();
        assert_eq!(title.len(), 2, "{lines:?}");
        assert_eq!(format!("{} {}", title[0].1, title[1].1), long);
        for (size, text) in &title {
            assert!(
                TITLE_EM * size * text.chars().count() as f64 <= w - 16.0,
                "{size} {text} in {w}"
            );
        }
        // A short title keeps the full 18 px.
        let short =
            super::super::Plot::heatmap("h", "short", "x", "y", &["a"], &["r"], vec![vec![1.0]]);
        assert!(short.to_svg().unwrap().contains(r#"font-size="18""#));
    }

    #[test]
    fn ticks_and_numbers() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(0.0, 95.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(
            ticks(-3.0, 3.0, 6),
            vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(num(53.0), "53");
        assert_eq!(num(0.12345), "0.123");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn bars_draw_one_rect_per_finite_value_and_check_indices() {
        let p = Plot::bar("b", "Bars <1>", "share", &["x", "y", "z"])
            .bars("s1", vec![0.5, f64::NAN, 0.25])
            .bars_with_err("s2", vec![0.1, 0.2, 0.3], vec![0.05, 0.05, 0.05]);
        let svg = bars(&p, &Palette::of(std::slice::from_ref(&p))).unwrap();
        // Background + 2 legend swatches + 5 bars.
        assert_eq!(svg.matches("<rect").count(), 1 + 2 + 5);
        assert!(svg.contains("Bars &lt;1&gt;") && svg.contains(">0.25<"));
        let bad = Plot::bar("b", "t", "v", &["x"]).bars("s", vec![1.0, 2.0]);
        let e = bars(&bad, &Palette::default()).unwrap_err().to_string();
        assert!(e.contains("`b`") && e.contains("point 1"), "{e}");
    }

    #[test]
    fn heatmap_shades_by_value_and_checks_shapes() {
        let p = Plot::heatmap(
            "h",
            "H",
            "col",
            "row",
            &["a", "b"],
            &["r1", "r2"],
            vec![vec![0.0, 2.0], vec![4.0, f64::NAN]],
        );
        let svg = heatmap(&p).unwrap();
        // Zero is white, the maximum is the series blue, NaN is grey.
        assert!(svg.contains(r##"fill="#ffffff" stroke"##));
        assert!(svg.contains(r##"fill="#1f77b4" stroke"##));
        assert!(svg.contains(r##"fill="#d9d9d9" stroke"##));
        assert!(svg.contains(">4<") && svg.contains("colour: 0 (white) to 4 (blue)"));
        let bad = Plot::heatmap("h", "H", "c", "r", &["a"], &["r1"], vec![vec![1.0, 2.0]]);
        let e = heatmap(&bad).unwrap_err().to_string();
        assert!(e.contains("row 0 (`r1`) has 2 cells for 1"), "{e}");
    }

    #[test]
    fn image_grid_draws_every_pixel_and_checks_sizes() {
        let p = Plot::image_grid("g", "G", 2)
            .image("a", 2, 2, vec![0.0, 1.0, 0.5, 2.0])
            .image("b", 2, 2, vec![f64::NAN, 0.0, 0.0, 0.0])
            .image("c", 2, 2, vec![0.0; 4]);
        let svg = image_grid(&p).unwrap();
        assert_eq!(svg.matches("<rect").count(), 1 + 12);
        assert!(
            svg.contains("#808080") && svg.contains("#ff0000"),
            "grey 0.5, NaN red"
        );
        assert_eq!(
            svg.matches("#ffffff").count(),
            1 + 2,
            "background, 1.0 and clamped 2.0"
        );
        // Row labels and no captions: labels at the left, one text per row plus the title.
        let rows = Plot::image_grid("r", "R", 2)
            .row_labels(&["clean", "noisy"])
            .image("", 2, 2, vec![0.0; 4])
            .image("", 2, 2, vec![0.0; 4])
            .image("", 2, 2, vec![1.0; 4]);
        let svg = image_grid(&rows).unwrap();
        assert_eq!(svg.matches("<text").count(), 1 + 2);
        assert!(svg.contains(">clean<") && svg.contains(">noisy<"));
        let bad = Plot::image_grid("g", "G", 2).image("a", 2, 2, vec![0.0; 3]);
        let e = image_grid(&bad).unwrap_err().to_string();
        assert!(e.contains("image 0 (`a`) has 3 pixels for 2×2"), "{e}");
    }
}
