//! SVG plots, kept as data in `report.json`: line and scatter plots (error bars as whiskers,
//! or as a shaded band on long curves; log axes where values span decades; integer ticks on
//! integer data; labels on named points; the legend in a column of its own), horizontal bar
//! charts, heatmaps and image grids. Within a report, a series name keeps one colour in
//! every plot ([`Palette`]).
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

use serde::{Deserialize, Deserializer, Serialize};

/// What a [`Plot`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlotKind {
    /// Points joined in order of x; markers on series of at most 25 points. Error bars are
    /// whiskers there and a shaded band on longer series.
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
    /// `height * width` values, row-major (non-finite ones are `null` in JSON).
    #[serde(deserialize_with = "values_from_json")]
    pub pixels: Vec<f64>,
}

/// One named series of `(x, y)` points, with optional symmetric y error bars and point
/// labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points (a non-finite coordinate is `null` in JSON and read back as NaN).
    #[serde(deserialize_with = "points_from_json")]
    pub points: Vec<(f64, f64)>,
    /// Half-widths of error bars (a standard deviation or a CI half-width), one per point;
    /// NaN (a spread of one seed) draws none.
    #[serde(default, deserialize_with = "opt_values_from_json")]
    pub y_err: Option<Vec<f64>>,
    /// A label drawn beside each point (empty strings draw nothing), one per point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
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
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cells_from_json"
    )]
    pub cells: Vec<Vec<f64>>,
    /// The image grid's images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<GridImage>,
    /// Images per row of an image grid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub columns: usize,
    /// A log-scaled x axis: `None` decides (all values positive and spanning at least a
    /// factor 100), `Some` forces it (a log axis still needs positive values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_x: Option<bool>,
    /// A log-scaled y axis, decided as [`Plot::log_x`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_y: Option<bool>,
}

// serde_json writes a non-finite f64 as `null`; these read it back as NaN, so that every
// report.json a run writes can be read again.
fn nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn points_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
    let raw: Vec<(Option<f64>, Option<f64>)> = Deserialize::deserialize(d)?;
    Ok(raw.into_iter().map(|(x, y)| (nan(x), nan(y))).collect())
}

fn values_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let raw: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(raw.into_iter().map(nan).collect())
}

fn opt_values_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    let raw: Option<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw.map(|v| v.into_iter().map(nan).collect()))
}

fn cells_from_json<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|r| r.into_iter().map(nan).collect())
        .collect())
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Tableau 10, readable on white and for most colour-vision deficiencies.
pub(super) const COLORS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One colour per series name across a set of plots (a report's), so that a method has the
/// same colour in every plot of a paper. Names take the colours in order of first
/// appearance; an unnamed series takes its position's colour.
///
/// ```
/// use repro_core::report::{Palette, Plot};
/// let a = Plot::line("a", "A", "x", "y").series("ERM", vec![]).series("CIA", vec![]);
/// let b = Plot::line("b", "B", "x", "y").series("CIA", vec![]);
/// let p = Palette::of(&[a, b]);
/// assert_eq!(p.color("CIA", 0), p.color("CIA", 1));
/// assert_ne!(p.color("CIA", 0), p.color("ERM", 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    names: Vec<String>,
}

impl Palette {
    /// The palette of every named series in `plots`.
    pub fn of(plots: &[Plot]) -> Self {
        let mut names: Vec<String> = Vec::new();
        for s in plots.iter().flat_map(|p| &p.series) {
            if !s.name.is_empty() && !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
        Self { names }
    }

    /// The colour of series `name`, drawn at `position` in its plot.
    pub fn color(&self, name: &str, position: usize) -> (u8, u8, u8) {
        let k = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or(position);
        COLORS[k % COLORS.len()]
    }
}

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
            log_x: None,
            log_y: None,
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
            labels: None,
        });
        self
    }

    /// Adds a series with error bars (`y_err[i]` is the half-width at point `i`).
    pub fn series_with_err(mut self, name: &str, points: Vec<(f64, f64)>, y_err: Vec<f64>) -> Self {
        self.series.push(Series {
            name: name.into(),
            points,
            y_err: Some(y_err),
            labels: None,
        });
        self
    }

    /// Labels the points of the last series added (`labels[i]` beside point `i`; an empty
    /// string draws nothing). Lengths are checked when rendered.
    pub fn point_labels(mut self, labels: Vec<String>) -> Self {
        if let Some(s) = self.series.last_mut() {
            s.labels = Some(labels);
        }
        self
    }

    /// Forces a linear (`false`) or log (`true`) x axis instead of deciding from the data.
    pub fn log_x(mut self, log: bool) -> Self {
        self.log_x = Some(log);
        self
    }

    /// Forces a linear (`false`) or log (`true`) y axis instead of deciding from the data.
    pub fn log_y(mut self, log: bool) -> Self {
        self.log_y = Some(log);
        self
    }

    /// Renders the plot as an SVG document, colouring series by their order in this plot.
    /// Non-finite points are left out; shapes that do not match their labels are an error
    /// naming the plot.
    pub fn to_svg(&self) -> anyhow::Result<String> {
        self.to_svg_with(&Palette::of(std::slice::from_ref(self)))
    }

    /// Renders the plot with the colours of `palette` (a report's, so that every plot of a
    /// paper gives a method the same colour).
    pub fn to_svg_with(&self, palette: &Palette) -> anyhow::Result<String> {
        match self.kind {
            PlotKind::Line | PlotKind::Scatter => super::xy::xy(self, palette),
            PlotKind::Bar => super::svg::bars(self, palette),
            PlotKind::Heatmap => super::svg::heatmap(self),
            PlotKind::ImageGrid => super::svg::image_grid(self),
        }
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
        // Non-finite values are written as null and read back as NaN.
        let json = serde_json::to_string(&p).unwrap();
        let back: Plot = serde_json::from_str(&json).unwrap();
        assert!(back.series[0].points[2].1.is_nan());
        let nan_err = Plot::line("n", "t", "x", "y").series_with_err(
            "one seed",
            vec![(0.0, 1.0)],
            vec![f64::NAN],
        );
        let back: Plot = serde_json::from_str(&serde_json::to_string(&nan_err).unwrap()).unwrap();
        assert!(back.series[0].y_err.as_ref().unwrap()[0].is_nan());
        let heat = Plot::heatmap("h", "t", "x", "y", &["a"], &["r"], vec![vec![f64::NAN]]);
        let back: Plot = serde_json::from_str(&serde_json::to_string(&heat).unwrap()).unwrap();
        assert!(back.cells[0][0].is_nan());
        // An empty plot still renders (axes only).
        assert!(
            Plot::line("e", "Empty", "x", "y")
                .to_svg()
                .unwrap()
                .contains("Empty")
        );
    }
}
