//! SVG plots: line plots with optional error bars and scatter plots (drawn with plotters),
//! and horizontal bar charts, heatmaps and image grids (written as SVG directly).
//!
//! ```
//! use repro_core::report::Plot;
//! let bars = Plot::bar("prevalence", "Issues per category", "share of issues", &["model", "data"])
//!     .bars("project A", vec![0.6, 0.4])
//!     .bars("project B", vec![0.3, 0.7]);
//! assert!(bars.to_svg()?.contains("project B"));
//! let heat = Plot::heatmap(
//!     "confusion", "Confusion matrix", "predicted", "true",
//!     &["bug", "feature"], &["bug", "feature"], vec![vec![40.0, 2.0], vec![5.0, 53.0]],
//! );
//! assert!(heat.to_svg()?.contains(">53<"));
//! let grid = Plot::image_grid("samples", "Samples", 2)
//!     .image("a", 2, 2, vec![0.0, 1.0, 1.0, 0.0])
//!     .image("b", 2, 2, vec![1.0, 0.0, 0.0, 1.0]);
//! assert!(grid.to_svg()?.contains("<rect"));
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::anyhow;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// What a [`Plot`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlotKind {
    /// Points joined in order of x, with markers.
    Line,
    /// Markers only.
    Scatter,
    /// Horizontal bars, one row per entry of [`Plot::categories`], one bar per series
    /// (series point `(i, v)` is the bar of category `i`; `y_err` gives whiskers).
    Bar,
    /// A matrix of coloured cells: [`Plot::cells`] has one row per [`Plot::rows`] entry
    /// and one column per [`Plot::categories`] entry, each cell annotated with its value.
    Heatmap,
    /// Grey-scale images ([`Plot::images`]) in rows of [`Plot::columns`].
    ImageGrid,
}

/// One grey-scale image of an image grid: `pixels` row-major, `width × height` values in
/// `[0, 1]` (0 black, 1 white; values outside are clamped, non-finite ones drawn red).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridImage {
    /// Caption under the image.
    pub label: String,
    /// Columns of pixels.
    pub width: usize,
    /// Rows of pixels.
    pub height: usize,
    /// `height * width` values, row-major.
    pub pixels: Vec<f64>,
}

/// One named series of `(x, y)` points, with optional symmetric y error bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Half-widths of error bars, one per point.
    #[serde(default)]
    pub y_err: Option<Vec<f64>>,
}

/// A plot, kept as data in `report.json` and rendered to `<name>.svg`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    /// File stem of the SVG.
    pub name: String,
    /// Caption.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// What is drawn.
    pub kind: PlotKind,
    /// The series (line, scatter and bar plots).
    pub series: Vec<Series>,
    /// Category names: the bars' rows, or the heatmap's columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// The heatmap's row names, or an image grid's row labels (drawn left of each row).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<String>,
    /// The heatmap's values, `rows.len()` rows of `categories.len()` values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<Vec<f64>>,
    /// The image grid's images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<GridImage>,
    /// Images per row of an image grid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub columns: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Tableau 10, readable on white and for most colour-vision deficiencies.
pub(super) const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Plot {
    fn new(kind: PlotKind, name: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            kind,
            series: Vec::new(),
            categories: Vec::new(),
            rows: Vec::new(),
            cells: Vec::new(),
            images: Vec::new(),
            columns: 0,
        }
    }

    /// An empty line plot.
    pub fn line(name: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Self::new(PlotKind::Line, name, title, x_label, y_label)
    }

    /// An empty scatter plot.
    pub fn scatter(name: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Self::new(PlotKind::Scatter, name, title, x_label, y_label)
    }

    /// An empty horizontal bar chart with one row per category; add series with
    /// [`Plot::bars`]. `value_label` names the bars' axis, `category_label` the rows.
    pub fn bar(name: &str, title: &str, value_label: &str, categories: &[&str]) -> Self {
        let mut p = Self::new(PlotKind::Bar, name, title, value_label, "");
        p.categories = categories.iter().map(|c| c.to_string()).collect();
        p
    }

    /// Adds a bar series: `values[i]` is the bar of category `i`.
    pub fn bars(self, name: &str, values: Vec<f64>) -> Self {
        let points = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as f64, v))
            .collect();
        self.series(name, points)
    }

    /// Adds a bar series with whiskers (`err[i]` is the half-width at category `i`).
    pub fn bars_with_err(self, name: &str, values: Vec<f64>, err: Vec<f64>) -> Self {
        let points = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as f64, v))
            .collect();
        self.series_with_err(name, points, err)
    }

    /// A heatmap of `cells` (`rows.len()` rows of `columns.len()` values); `x_label` names
    /// the columns, `y_label` the rows. Shapes are checked when rendered.
    pub fn heatmap(
        name: &str,
        title: &str,
        x_label: &str,
        y_label: &str,
        columns: &[&str],
        rows: &[&str],
        cells: Vec<Vec<f64>>,
    ) -> Self {
        let mut p = Self::new(PlotKind::Heatmap, name, title, x_label, y_label);
        p.categories = columns.iter().map(|c| c.to_string()).collect();
        p.rows = rows.iter().map(|r| r.to_string()).collect();
        p.cells = cells;
        p
    }

    /// An empty image grid with `columns` images per row; add images with [`Plot::image`].
    pub fn image_grid(name: &str, title: &str, columns: usize) -> Self {
        let mut p = Self::new(PlotKind::ImageGrid, name, title, "", "");
        p.columns = columns;
        p
    }

    /// Labels the grid's rows (one per row of `columns` images, drawn at the left).
    pub fn row_labels(mut self, labels: &[&str]) -> Self {
        self.rows = labels.iter().map(|l| l.to_string()).collect();
        self
    }

    /// Adds a grey-scale image (`pixels` row-major, `height * width` values in `[0, 1]`).
    pub fn image(mut self, label: &str, width: usize, height: usize, pixels: Vec<f64>) -> Self {
        self.images.push(GridImage {
            label: label.into(),
            width,
            height,
            pixels,
        });
        self
    }

    /// Adds a series.
    pub fn series(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series {
            name: name.into(),
            points,
            y_err: None,
        });
        self
    }

    /// Adds a series with error bars (`y_err[i]` is the half-width at point `i`).
    pub fn series_with_err(mut self, name: &str, points: Vec<(f64, f64)>, y_err: Vec<f64>) -> Self {
        self.series.push(Series {
            name: name.into(),
            points,
            y_err: Some(y_err),
        });
        self
    }

    /// Renders the plot as an SVG document. Non-finite points are left out; a heatmap or
    /// bar chart whose shapes do not match its labels is an error naming the plot.
    pub fn to_svg(&self) -> anyhow::Result<String> {
        match self.kind {
            PlotKind::Line | PlotKind::Scatter => self.xy_svg(),
            PlotKind::Bar => super::svg::bars(self),
            PlotKind::Heatmap => super::svg::heatmap(self),
            PlotKind::ImageGrid => super::svg::image_grid(self),
        }
    }

    fn xy_svg(&self) -> anyhow::Result<String> {
        let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            for (i, p) in s.points.iter().enumerate().filter(|(_, p)| finite(p)) {
                xs.push(p.0);
                let e = s
                    .y_err
                    .as_ref()
                    .and_then(|e| e.get(i))
                    .copied()
                    .filter(|e| e.is_finite())
                    .unwrap_or(0.0);
                ys.extend([p.1 - e, p.1 + e]);
            }
        }
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() {
                return (0.0, 1.0);
            }
            let pad = if hi > lo {
                0.05 * (hi - lo)
            } else {
                0.5 * lo.abs().max(1.0)
            };
            (lo - pad, hi + pad)
        };
        let (x0, x1) = range(&xs);
        let (y0, y1) = range(&ys);
        let err = |e: &dyn std::fmt::Debug| anyhow!("plot `{}`: {e:?}", self.name);

        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (760, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(|e| err(&e))?;
            for (k, s) in self.series.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let mut pts: Vec<(f64, f64)> = s.points.iter().copied().filter(finite).collect();
                if self.kind == PlotKind::Line {
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    chart
                        .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| err(&e))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
                if let Some(errs) = &s.y_err {
                    let bars = s
                        .points
                        .iter()
                        .zip(errs)
                        .filter(|(p, e)| finite(p) && e.is_finite())
                        .map(|(&(x, y), &e)| {
                            ErrorBar::new_vertical(x, y - e, y, y + e, color.stroke_width(1), 8)
                        });
                    chart.draw_series(bars).map_err(|e| err(&e))?;
                }
            }
            if self.series.iter().any(|s| !s.name.is_empty()) {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.4))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(|e| err(&e))?;
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lines_scatter_errors_and_nan() {
        let p = Plot::line("acc", "Accuracy vs noise", "noise", "accuracy")
            .series_with_err(
                "NCL",
                vec![(0.0, 0.9), (0.4, 0.8), (0.8, f64::NAN)],
                vec![0.01, 0.02, 0.03],
            )
            .series("SimCLR", vec![(0.0, 0.88), (0.4, 0.7)]);
        let svg = p.to_svg().unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("Accuracy vs noise") && svg.contains("SimCLR")
        );
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        let s = Plot::scatter("sc", "Scatter", "x", "y")
            .series("", vec![(1.0, 1.0)])
            .to_svg()
            .unwrap();
        assert!(s.contains("<circle"));
        // An empty plot still renders (axes only).
        assert!(
            Plot::line("e", "Empty", "x", "y")
                .to_svg()
                .unwrap()
                .contains("Empty")
        );
    }
}
