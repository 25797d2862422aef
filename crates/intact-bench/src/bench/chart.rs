//! SVG bar charts with plotters: horizontal grouped bars on a log axis, one colour per series,
//! a p10–p90 whisker on each bar and its value printed beside it.
//!
//! Text is emitted as SVG `<text>` (plotters' svg backend with its built-in size estimate), so
//! no font library is needed to draw, and any SVG viewer renders the labels with its own fonts.

use std::path::Path;

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar: the value (a median) and the spread around it (p10 and p90 mapped to this unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// A group of bars sharing a label, one slot per series (`None`: not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: String,
    pub bars: Vec<Option<Bar>>,
}

/// A vertical marker line, e.g. `1×` on a ratio chart (say what it is in the notes).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: f64,
    pub label: String,
}

/// Everything a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    /// Lines under the chart: how to read it, and its caveats.
    pub notes: Vec<String>,
    pub axis_label: String,
    pub series: Vec<String>,
    pub groups: Vec<Group>,
    pub markers: Vec<Marker>,
    /// Where bars start: the axis minimum (`None`), or a value such as `1×` on a ratio chart,
    /// so that bars below it grow to the left and bars above it to the right.
    pub baseline: Option<f64>,
    /// How values print beside the bars and on the axis.
    pub unit: Unit,
}

/// Value formatting for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Rates: 950, 12.3k, 1.2M.
    PerSecond,
    /// Ratios: 0.95×, 12×.
    Times,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::PerSecond => compact(value),
            Unit::Times if value < 10.0 => format!("{value:.2}×"),
            Unit::Times if value < 100.0 => format!("{value:.1}×"),
            Unit::Times => format!("{value:.0}×"),
        }
    }

    /// Axis ticks: like [`Unit::format`] without trailing zeros (1k, 10k, 0.1×).
    pub fn axis(self, value: f64) -> String {
        let text = match self {
            Unit::PerSecond => compact(value),
            Unit::Times => format!("{value:.3}"),
        };
        let (number, suffix) =
            text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
        let number = if number.contains('.') {
            number.trim_end_matches('0').trim_end_matches('.')
        } else {
            number
        };
        match self {
            Unit::PerSecond => format!("{number}{suffix}"),
            Unit::Times => format!("{number}×"),
        }
    }
}

/// 950, 12.3k, 1.2M: three significant digits at most.
pub fn compact(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let digits = if scaled.abs() >= 100.0 || suffix.is_empty() && scaled.abs() >= 10.0 {
        0
    } else if scaled.abs() >= 10.0 || suffix.is_empty() {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

/// Series colours (Okabe–Ito, distinguishable with colour blindness); grey last, for tmpfs.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(153, 153, 153),
];

/// The colour of series `index` out of `count`, keeping grey for a last series named tmpfs.
pub fn series_colour(name: &str, index: usize) -> RGBColor {
    if name.starts_with("tmpfs") {
        PALETTE[6]
    } else {
        PALETTE[index % 6]
    }
}

const BAR_PX: u32 = 16;
/// Vertical units per group on the (integer) category axis.
const GROUP_UNITS: i32 = 1000;
const GROUP_GAP_PX: u32 = 14;
const WIDTH_PX: u32 = 1100;

fn height_px(chart: &BarChart) -> u32 {
    let groups = chart.groups.len() as u32;
    let per_group = chart.series.len() as u32 * BAR_PX + GROUP_GAP_PX;
    120 + groups * per_group + footer_px(chart)
}

/// The legend row and the notes under the plot.
fn footer_px(chart: &BarChart) -> u32 {
    LINE_PX * (chart.notes.len() as u32 + 1) + 12
}

const LINE_PX: u32 = 18;

/// The log-axis range: whole decades around every bar, whisker and marker.
fn axis_range(chart: &BarChart) -> (f64, f64) {
    let bars = chart
        .groups
        .iter()
        .flat_map(|group| group.bars.iter().flatten());
    let values: Vec<f64> = bars
        .flat_map(|bar| [bar.low, bar.value, bar.high])
        .chain(chart.markers.iter().map(|marker| marker.at))
        .filter(|value| value.is_finite() && *value > 0.0)
        .collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    if values.is_empty() {
        return (0.1, 10.0);
    }
    // Room on the right for the value printed beside the longest bar.
    (
        10f64.powf(min.log10().floor()),
        10f64.powf((max * 2.0).log10().ceil()),
    )
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws `chart` into an SVG file at `path`.
pub fn render_svg(chart: &BarChart, path: &Path) -> Result<(), String> {
    draw(chart, path).map_err(|error| format!("cannot draw {}: {error}", path.display()))
}

fn draw(chart: &BarChart, path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, (WIDTH_PX, height_px(chart))).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot_area, footer) = root.split_vertically(height_px(chart) - footer_px(chart));
    draw_plot(chart, &plot_area)?;
    draw_legend(chart, &footer)?;
    for (line, note) in chart.notes.iter().enumerate() {
        let style = ("sans-serif", 13).into_font().color(&RGBColor(60, 60, 60));
        let y = (LINE_PX as usize * (line + 1)) as i32 + 6;
        footer.draw(&Text::new(note.as_str(), (20, y), style))?;
    }
    root.present()?;
    Ok(())
}

/// One row of colour swatches and series names, under the plot where no bar can hide it.
fn draw_legend<DB: DrawingBackend>(
    chart: &BarChart,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut x = 175;
    for (index, name) in chart.series.iter().enumerate() {
        let colour = series_colour(name, index);
        area.draw(&Rectangle::new([(x, 2), (x + 14, 16)], colour.filled()))?;
        area.draw(&Text::new(
            name.as_str(),
            (x + 20, 2),
            ("sans-serif", 14).into_font(),
        ))?;
        x += 48 + 8 * name.chars().count() as i32;
    }
    for marker in &chart.markers {
        let red = RGBColor(200, 30, 30).stroke_width(2);
        area.draw(&PathElement::new(vec![(x + 7, 0), (x + 7, 18)], red))?;
        area.draw(&Text::new(
            marker.label.as_str(),
            (x + 20, 2),
            ("sans-serif", 14).into_font(),
        ))?;
        x += 48 + 8 * marker.label.chars().count() as i32;
    }
    Ok(())
}

fn draw_plot<DB: DrawingBackend>(
    chart: &BarChart,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (min, max) = axis_range(chart);
    let groups = chart.groups.len() as i32;
    let centres: Vec<i32> = (0..groups)
        .map(|index| index * GROUP_UNITS + GROUP_UNITS / 2)
        .collect();
    let mut plot = ChartBuilder::on(area)
        .caption(
            &chart.title,
            ("sans-serif", 22).into_font().style(FontStyle::Bold),
        )
        .margin(16)
        .margin_right(48)
        .x_label_area_size(50)
        .y_label_area_size(160)
        .build_cartesian_2d(
            (min..max).log_scale(),
            (0..groups * GROUP_UNITS).with_key_points(centres),
        )?;
    draw_mesh(chart, &mut plot)?;
    draw_bars(chart, &mut plot, chart.baseline.unwrap_or(min))?;
    draw_markers(chart, &mut plot)?;
    Ok(())
}

/// The log value axis with its grid, and the group labels on the category axis (top first).
fn draw_mesh<DB: DrawingBackend>(chart: &BarChart, plot: &mut Plot<'_, DB>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let labels: Vec<&str> = chart
        .groups
        .iter()
        .rev()
        .map(|group| group.label.as_str())
        .collect();
    let label_of = |y: &i32| {
        labels
            .get((y / GROUP_UNITS) as usize)
            .copied()
            .unwrap_or_default()
            .to_owned()
    };
    let unit = chart.unit;
    plot.configure_mesh()
        .disable_y_mesh()
        .x_desc(chart.axis_label.as_str())
        .x_label_formatter(&|value| unit.axis(*value))
        .y_label_formatter(&label_of)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    Ok(())
}

type Plot<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<
        plotters::coord::combinators::LogCoord<f64>,
        plotters::coord::combinators::WithKeyPoints<plotters::coord::types::RangedCoordi32>,
    >,
>;

fn draw_markers<DB: DrawingBackend>(chart: &BarChart, plot: &mut Plot<'_, DB>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let top = chart.groups.len() as i32 * GROUP_UNITS;
    for marker in &chart.markers {
        let style = RGBColor(200, 30, 30).stroke_width(2);
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(marker.at, 0), (marker.at, top)],
            style,
        )))?;
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(chart: &BarChart, plot: &mut Plot<'_, DB>, base: f64) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (series_index, series_name) in chart.series.iter().enumerate() {
        let colour = series_colour(series_name, series_index);
        let placed: Vec<(Bar, i32, i32)> = chart
            .groups
            .iter()
            .enumerate()
            .filter_map(|(group_index, group)| {
                let bar = group.bars.get(series_index).copied().flatten()?;
                let (bottom, top) = slot(chart, group_index, series_index);
                Some((bar, bottom, top))
            })
            .collect();
        plot.draw_series(placed.iter().map(|&(bar, bottom, top)| {
            Rectangle::new([(base, bottom), (bar.value, top)], colour.filled())
        }))?;
        plot.draw_series(placed.iter().map(|&(bar, bottom, top)| {
            let middle = (bottom + top) / 2;
            PathElement::new(
                vec![(bar.low, middle), (bar.high, middle)],
                BLACK.stroke_width(1),
            )
        }))?;
        let unit = chart.unit;
        plot.draw_series(placed.iter().map(|&(bar, bottom, top)| {
            let style = ("sans-serif", 12)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let at = (bar.high.max(bar.value) * 1.08, (bottom + top) / 2);
            Text::new(unit.format(bar.value), at, style)
        }))?;
    }
    Ok(())
}

/// The vertical extent of series `series_index`'s bar in group `group_index` (group 0 on top).
fn slot(chart: &BarChart, group_index: usize, series_index: usize) -> (i32, i32) {
    let slot_height = GROUP_UNITS * 8 / 10 / chart.series.len().max(1) as i32;
    let group_top = (chart.groups.len() - group_index) as i32 * GROUP_UNITS - GROUP_UNITS / 10;
    let top = group_top - slot_height * series_index as i32;
    (top - slot_height * 85 / 100, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers_keep_three_significant_digits() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(1_234_567.0), "1.23M");
        assert_eq!(compact(7.25), "7.2");
        assert_eq!(Unit::Times.format(1.234), "1.23×");
        assert_eq!(Unit::Times.format(42.0), "42.0×");
        assert_eq!(Unit::Times.format(420.4), "420×");
        assert_eq!(Unit::PerSecond.axis(1000.0), "1k");
        assert_eq!(Unit::PerSecond.axis(1e6), "1M");
        assert_eq!(Unit::PerSecond.axis(100.0), "100");
        assert_eq!(Unit::Times.axis(0.1), "0.1×");
        assert_eq!(Unit::Times.axis(10.0), "10×");
    }

    #[test]
    fn the_axis_spans_whole_decades_around_every_value() {
        let chart = BarChart {
            title: String::new(),
            notes: Vec::new(),
            axis_label: String::new(),
            series: vec!["ext4".into()],
            groups: vec![Group {
                label: "a".into(),
                bars: vec![Some(Bar {
                    value: 300.0,
                    low: 250.0,
                    high: 420.0,
                })],
            }],
            markers: vec![Marker {
                at: 1.0,
                label: "1×".into(),
            }],
            baseline: None,
            unit: Unit::PerSecond,
        };
        assert_eq!(axis_range(&chart), (1.0, 1_000.0));
    }

    #[test]
    fn a_rendered_chart_carries_its_labels_as_text() {
        let chart = BarChart {
            title: "Files per second at 1 KiB".into(),
            notes: vec!["higher is better".into()],
            axis_label: "files/s".into(),
            series: vec!["ext4".into(), "tmpfs".into()],
            groups: vec![
                Group {
                    label: "plain".into(),
                    bars: vec![
                        Some(Bar {
                            value: 5e4,
                            low: 4e4,
                            high: 6e4,
                        }),
                        None,
                    ],
                },
                Group {
                    label: "intact".into(),
                    bars: vec![
                        Some(Bar {
                            value: 900.0,
                            low: 800.0,
                            high: 1e3,
                        }),
                        Some(Bar {
                            value: 3e4,
                            low: 2e4,
                            high: 4e4,
                        }),
                    ],
                },
            ],
            markers: Vec::new(),
            baseline: None,
            unit: Unit::PerSecond,
        };
        let path =
            std::env::temp_dir().join(format!("torture-bench-chart-{}.svg", std::process::id()));
        render_svg(&chart, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for text in [
            "Files per second at 1 KiB",
            "intact",
            "plain",
            "tmpfs",
            "30.0k",
            "higher is better",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
