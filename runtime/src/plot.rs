//! Plots written as PNG files: line charts with a title, axis labels, tick values and a legend
//! naming each series (a logarithmic axis is said so in its label); grids of images with a
//! label per row; scatter plots with a key naming each class.
//!
//! Drawn with plotters into an RGB buffer, text in DejaVu Sans (embedded: `fonts/`, with its
//! licence), and encoded by [`Canvas::write_png`] (zlib from flate2, chunk checksums from
//! crc32fast), so no image library is needed.

use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};

/// Distinct colours for up to ten series or classes, in order.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// DejaVu Sans (Bitstream Vera licence, `fonts/LICENSE-DejaVu`).
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family every text is set in.
const FAMILY: &str = "sans-serif";

/// One curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// `(x, y)` points in order; non-finite points (and, on a log scale, non-positive ones)
    /// break the line.
    pub points: Vec<(f64, f64)>,
}

/// How the y axis maps values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Linear, over the data's range.
    Linear,
    /// Logarithmic, over the data's range (the axis label says so).
    Log,
    /// Linear over a stated range, whatever the data (an accuracy from 0 to 1).
    Fixed(f64, f64),
}

/// A chart's words and its y scale.
#[derive(Clone, Copy, Debug)]
pub struct Axes<'a> {
    /// Above the chart.
    pub title: &'a str,
    /// Below the x axis, with its unit.
    pub x: &'a str,
    /// Beside the y axis, with its unit.
    pub y: &'a str,
    /// The y axis' scale.
    pub y_scale: Scale,
}

/// What drawing returns: plotters' errors, turned into [`Error`]s naming the file by [`draw`].
type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// Draws into a white `width × height` RGB buffer with `paint` and writes it to `path`.
fn draw(
    path: &Path,
    (width, height): (usize, usize),
    paint: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Drawn,
) -> Result<()> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        register_font(FAMILY, FontStyle::Normal, FONT).unwrap_or_else(|_| unreachable!("the embedded font is valid"));
    });
    let mut canvas = Canvas::new(width, height);
    {
        let root = BitMapBackend::with_buffer(&mut canvas.rgb, (width as u32, height as u32)).into_drawing_area();
        paint(&root)
            .and_then(|()| Ok(root.present()?))
            .map_err(|e| Error::format(path.display().to_string(), format!("cannot draw the plot: {e}")))?;
    }
    canvas.write_png(path)
}

fn colour([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}

/// The range of `values`, widened when it is a single value.
fn range(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let pad = if hi > lo { 0.0 } else { 0.5 * lo.abs().max(1.0) };
    Some(lo - pad..hi + pad)
}

/// `range` widened by `fraction` of its length at each end, so that no point sits on the frame.
fn widened(range: Range<f64>, fraction: f64) -> Range<f64> {
    let pad = fraction * (range.end - range.start);
    range.start - pad..range.end + pad
}

/// An RGB raster, three bytes per pixel, row by row: what plotters draws into.
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            rgb: vec![255; width * height * 3],
        }
    }

    /// Sets one pixel (outside the canvas: nothing).
    pub fn set(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        if x < self.width && y < self.height {
            let at = 3 * (y * self.width + x);
            self.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG (hand-written: one zlib stream and three chunks,
    /// where plotters' own PNG output would bring the `image` crate).
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.rgb.chunks(3 * self.width) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let io = |e: std::io::Error| Error::io(path.display(), &e);
        zlib.write_all(&raw).map_err(io)?;
        let compressed = zlib.finish().map_err(io)?;
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = Vec::new();
        header.extend_from_slice(&(self.width as u32).to_be_bytes());
        header.extend_from_slice(&(self.height as u32).to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace
        for (kind, data) in [(b"IHDR", &header), (b"IDAT", &compressed), (b"IEND", &Vec::new())] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            let crc = crc32fast::hash(&png[start..]);
            png.extend_from_slice(&crc.to_be_bytes());
        }
        std::fs::write(path, png).map_err(io)
    }
}

/// A line chart's margin around the plot, and the height of the x axis's labels, in pixels.
const MARGIN: u32 = 14;
const X_LABELS: u32 = 44;

/// Draws `series` as a line chart of `width × height` pixels into a PNG file at `path`.
pub fn line_chart(path: &Path, axes: &Axes<'_>, series: &[Series], size: (usize, usize)) -> Result<()> {
    let log = axes.y_scale == Scale::Log;
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log || y > 0.0);
    let points = || series.iter().flat_map(|s| s.points.iter().copied()).filter(usable);
    let (Some(xs), Some(ys)) = (range(points().map(|p| p.0)), range(points().map(|p| p.1))) else {
        return Err(Error::Empty {
            op: "line_chart",
            what: "finite points",
        });
    };
    // A little room above and below the data, so that no curve runs along the frame.
    let ys = match axes.y_scale {
        Scale::Log if ys.start <= 0.0 => ys.end / 10.0..ys.end * 1.15,
        Scale::Log => ys.start / 1.15..ys.end * 1.15,
        Scale::Linear => widened(ys, 0.05),
        Scale::Fixed(lo, hi) => lo..hi,
    };
    let log_scale = matches!(axes.y_scale, Scale::Log);
    // y as a fraction of the plot's height, and back.
    let height = |y: f64| match log_scale {
        true => (y.ln() - ys.start.ln()) / (ys.end.ln() - ys.start.ln()),
        false => (y - ys.start) / (ys.end - ys.start),
    };
    let lines_of = |s: &Series| s.points.iter().copied().filter(usable).collect::<Vec<_>>();
    // The legend's box: 16.5 pixels an entry and some padding, over the plot area's height
    // (the image's less the title, the margins and the x axis's labels, as `lines` lays them out).
    let plot_height = size.1 as f64 - 30.0 - 2.0 * MARGIN as f64 - X_LABELS as f64;
    let legend = ((series.len() as f64 * 16.5 + 12.0) / plot_height).min(0.5);
    let (corner, room) = legend_corner(series.iter().map(lines_of), &xs, height, legend);
    // Where curves run through both right-hand corners, the y axis is extended upwards so
    // that the legend's box sits above all of them.
    let ys = match (room, axes.y_scale) {
        (false, Scale::Log) => ys.start..(ys.start.ln() + (ys.end.ln() - ys.start.ln()) / (1.0 - legend)).exp(),
        (false, Scale::Linear) => ys.start..ys.start + (ys.end - ys.start) / (1.0 - legend),
        _ => ys,
    };
    draw(path, size, |root| match axes.y_scale {
        Scale::Log => {
            let y = format!("{} (log scale)", axes.y);
            let axes = Axes { y: &y, ..*axes };
            let ticks = log_ticks(&ys);
            lines(
                root,
                &axes,
                series,
                xs,
                ys.log_scale().with_key_points(ticks),
                &usable,
                corner,
            )
        }
        _ => lines(root, axes, series, xs, ys, &usable, corner),
    })
}

/// Where the legend goes: the right-hand corner (upper or lower) through which fewer curves
/// run, each curve (its usable points) looked at in the right 40 % of the x range at evenly
/// spaced x, between its points, so that a long straight segment (a reference line drawn from
/// two points) counts as much as a curve of many points. `height` maps y to 0..1 from the
/// bottom of the chart; the legend's box covers `legend` of that height. The flag says whether
/// the chosen corner is free; when neither is, the upper one is chosen.
fn legend_corner(
    curves: impl Iterator<Item = Vec<(f64, f64)>>,
    xs: &Range<f64>,
    height: impl Fn(f64) -> f64,
    legend: f64,
) -> (SeriesLabelPosition, bool) {
    let edge = xs.start + 0.6 * (xs.end - xs.start);
    let right: Vec<f64> = curves
        .flat_map(|points| match points[..] {
            [(x, y)] => (x >= edge).then_some(height(y)).into_iter().collect::<Vec<_>>(),
            _ => (0..=16)
                .filter_map(|i| crossing(&points, edge + f64::from(i) / 16.0 * (xs.end - edge)).map(&height))
                .collect(),
        })
        .collect();
    let upper = right.iter().filter(|&&h| h > 1.0 - legend).count();
    let lower = right.iter().filter(|&&h| h < legend).count();
    match (upper, lower) {
        (0, _) => (SeriesLabelPosition::UpperRight, true),
        (_, 0) => (SeriesLabelPosition::LowerRight, true),
        _ => (SeriesLabelPosition::UpperRight, false),
    }
}

/// The height of the polyline through `points` at `x`, by linear interpolation on the first
/// segment that spans it.
fn crossing(points: &[(f64, f64)], x: f64) -> Option<f64> {
    points.windows(2).find_map(|w| {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x0.min(x1) <= x && x <= x0.max(x1) {
            Some(if x0 == x1 {
                y0
            } else {
                y0 + (x - x0) / (x1 - x0) * (y1 - y0)
            })
        } else {
            None
        }
    })
}

/// Ticks for a logarithmic axis over `range`: 1, 2 and 5 times the powers of ten inside it, or
/// every digit times them where that gives fewer than three (a range within one decade).
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let decades = range.start.log10().floor() as i32..=range.end.log10().ceil() as i32;
    let inside = |mantissas: &[f64]| -> Vec<f64> {
        decades
            .clone()
            // Divided for negative powers, so that 3·10⁻¹ is the double nearest 0.3.
            .flat_map(|d| {
                mantissas
                    .iter()
                    .map(move |m| if d < 0 { m / 10f64.powi(-d) } else { m * 10f64.powi(d) })
            })
            .filter(|v| range.contains(v))
            .collect()
    };
    let ticks = inside(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 3 {
        ticks
    } else {
        inside(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// A tick value with three significant digits and no trailing zeros: `0.6`, `1`, `250`, `0.05`.
fn tick(value: &f64) -> String {
    if *value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (3 - value.abs().log10().ceil() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A chart drawn on a bitmap, its x axis linear and its y axis `Y`.
type Framed<'a, 'b, Y> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// A chart over `xs × ys` on `area`, framed: the title, a light grid, tick values and the axis
/// labels of `axes`.
fn framed<'a, 'b, Y>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    axes: &Axes<'_>,
    xs: Range<f64>,
    ys: Y,
) -> std::result::Result<Framed<'a, 'b, Y::CoordDescType>, Box<dyn std::error::Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(axes.title, (FAMILY, 20))
        .margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(72)
        .build_cartesian_2d(xs, ys)?;
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .max_light_lines(2)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    Ok(chart)
}

/// The line chart on any y coordinate (linear or logarithmic).
fn lines<Y>(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    axes: &Axes<'_>,
    series: &[Series],
    xs: Range<f64>,
    ys: Y,
    usable: &dyn Fn(&(f64, f64)) -> bool,
    corner: SeriesLabelPosition,
) -> Drawn
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    root.fill(&WHITE)?;
    let mut chart = framed(root, axes, xs, ys)?;
    for (s, &rgb) in series.iter().zip(PALETTE.iter().cycle()) {
        let style = colour(rgb).stroke_width(2);
        // Unusable points break the line into segments; the legend entry comes with the first.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for point in &s.points {
            match (usable(point), segments.last_mut()) {
                (true, Some(segment)) => segment.push(*point),
                (false, Some(segment)) if !segment.is_empty() => segments.push(Vec::new()),
                _ => {}
            }
        }
        for (i, segment) in segments.into_iter().enumerate() {
            let drawn = chart.draw_series(LineSeries::new(segment, style))?;
            if i == 0 {
                drawn
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
        }
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .position(corner)
        .draw()?;
    Ok(())
}

/// Writes grey-scale images as a grid under `title`: one row of images per entry of `rows`,
/// labelled with its name at the left (each image a row of `image.0 × image.1` pixel values in
/// `0..=1`, clamped; dark is 1), every pixel drawn as a square large enough to make each image
/// about 56 pixels tall, with gaps between images.
pub fn image_grid(
    path: &Path,
    title: &str,
    rows: &[(String, Vec<ndarray::ArrayView1<'_, f64>>)],
    image: (usize, usize),
) -> Result<()> {
    let (h, w) = image;
    let zoom = (56 / h.max(1)).max(1);
    let columns = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    // About 7.5 pixels per character of the labels' 13-pixel type.
    let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let (gap, label_width, title_height) = (6, 16 + longest * 15 / 2, 36);
    let (cell_w, cell_h) = (w * zoom + gap, h * zoom + gap);
    let size = (
        label_width + columns * cell_w + gap,
        title_height + rows.len() * cell_h + gap,
    );
    draw(path, size, |root| {
        root.fill(&WHITE)?;
        root.draw(&Text::new(title, (gap as i32, 8), (FAMILY, 18)))?;
        for (r, (name, images)) in rows.iter().enumerate() {
            let top = title_height + r * cell_h;
            let label_style = TextStyle::from((FAMILY, 13)).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                name.as_str(),
                (gap as i32, (top + cell_h / 2) as i32),
                label_style,
            ))?;
            for (c, pixels) in images.iter().enumerate() {
                let left = label_width + c * cell_w;
                draw_image(root, pixels, (left, top), (w, h), zoom)?;
            }
        }
        Ok(())
    })
}

/// The pixels of one image (`w × h` values) as filled squares of `zoom` pixels from
/// `(left, top)`: white for 0, black for 1.
fn draw_image(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    pixels: &ndarray::ArrayView1<'_, f64>,
    (left, top): (usize, usize),
    (w, h): (usize, usize),
    zoom: usize,
) -> Drawn {
    for (p, &v) in pixels.iter().enumerate().take(h * w) {
        let grey = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
        let (x, y) = ((left + (p % w) * zoom) as i32, (top + (p / w) * zoom) as i32);
        let corner = (x + zoom as i32, y + zoom as i32);
        area.draw(&Rectangle::new([(x, y), corner], RGBColor(grey, grey, grey).filled()))?;
    }
    Ok(())
}

/// A scatter plot of 2-D points, each a dot in its class's colour, with a key naming the
/// classes (`class_names[c]` for class `c`; `class c` beyond the names given).
pub fn scatter(
    path: &Path,
    axes: &Axes<'_>,
    points: &[(f64, f64)],
    classes: &[usize],
    class_names: &[String],
    size: (usize, usize),
) -> Result<()> {
    let finite = || points.iter().filter(|(x, y)| x.is_finite() && y.is_finite());
    let (Some(xs), Some(ys)) = (range(finite().map(|p| p.0)), range(finite().map(|p| p.1))) else {
        return Err(Error::Empty {
            op: "scatter",
            what: "finite points",
        });
    };
    let count = classes.iter().max().map_or(0, |&m| m + 1);
    let (xs, ys) = (widened(xs, 0.03), widened(ys, 0.03));
    draw(path, size, |root| {
        root.fill(&WHITE)?;
        // The key in a column of its own, right of the chart, so that it hides no point.
        let (plot, key) = root.split_horizontally(size.0.saturating_sub(120) as u32);
        for class in 0..count {
            let y = 60 + 22 * class as i32;
            let style = colour(PALETTE[class % PALETTE.len()]).filled();
            key.draw(&Circle::new((12, y), 5, style))?;
            let name = class_names
                .get(class)
                .cloned()
                .unwrap_or_else(|| format!("class {class}"));
            let text = TextStyle::from((FAMILY, 13)).pos(Pos::new(HPos::Left, VPos::Center));
            key.draw(&Text::new(name, (24, y), text))?;
        }
        let mut chart = framed(&plot, axes, xs, ys)?;
        for class in 0..count {
            let style = colour(PALETTE[class % PALETTE.len()]).filled();
            let dots = points
                .iter()
                .zip(classes)
                .filter(|&(&(x, y), &c)| c == class && x.is_finite() && y.is_finite())
                .map(|(&p, _)| Circle::new(p, 2, style));
            chart.draw_series(dots)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use plotters::prelude::SeriesLabelPosition;

    use super::{Axes, Canvas, Scale, Series, legend_corner, line_chart, log_ticks, tick};

    #[test]
    fn the_legend_avoids_straight_lines_drawn_from_two_points() {
        // Two reference lines across the top, each from two points, and a curve of 100 points
        // below the middle: the lines fill the upper right corner, so the legend goes below.
        // Counting points instead of lines put it on top of them.
        let line = |y: f64| vec![(0.0, y), (100.0, y)];
        let rising = |from: f64| (0..100).map(move |i| (f64::from(i), from + 0.001 * f64::from(i)));
        let curves = [line(0.9), line(0.8), rising(0.3).collect()];
        let (corner, free) = legend_corner(curves.into_iter(), &(0.0..100.0), |y| y, 0.3);
        assert!(matches!(corner, SeriesLabelPosition::LowerRight) && free);
        // A line through each corner: the upper one, flagged, so that the axis makes room.
        let curves = [line(0.95), line(0.05), rising(0.5).collect()];
        let (corner, free) = legend_corner(curves.into_iter(), &(0.0..100.0), |y| y, 0.3);
        assert!(matches!(corner, SeriesLabelPosition::UpperRight) && !free);
    }

    #[test]
    fn ticks_read_as_numbers() {
        let texts: Vec<String> = [0.600_000_000_1, 1.0, 250.0, 0.05, -2.5, 0.0]
            .iter()
            .map(tick)
            .collect();
        assert_eq!(texts, ["0.6", "1", "250", "0.05", "-2.5", "0"]);
        assert_eq!(log_ticks(&(0.25..0.69)), [0.3, 0.4, 0.5, 0.6]);
        assert_eq!(log_ticks(&(0.07..1.5)), [0.1, 0.2, 0.5, 1.0]);
    }

    /// The pixels of a PNG written by [`Canvas::write_png`], row by row (RGB, no filter bytes).
    fn pixels(png: &[u8]) -> (usize, Vec<[u8; 3]>) {
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap()) as usize;
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + idat_len])
            .read_to_end(&mut raw)
            .unwrap();
        let rgb = raw
            .chunks(1 + 3 * width)
            .flat_map(|row| row[1..].chunks(3).map(|p| [p[0], p[1], p[2]]))
            .collect();
        (width, rgb)
    }

    /// A chart has its words: dark pixels in the title's band and left of the y axis (tick
    /// values and the axis label), and each series' colour on the canvas.
    #[test]
    fn a_chart_carries_its_title_labels_and_curves() {
        let path = std::env::temp_dir().join(format!("symgrad-chart-{}.png", std::process::id()));
        let series = [
            Series {
                name: "falling".into(),
                points: (1..=10).map(|e| (e as f64, 1.0 / e as f64)).collect(),
            },
            Series {
                name: "rising".into(),
                points: (1..=10).map(|e| (e as f64, 0.05 * e as f64)).collect(),
            },
        ];
        let axes = Axes {
            title: "Title",
            x: "epoch",
            y: "loss",
            y_scale: Scale::Log,
        };
        line_chart(&path, &axes, &series, (400, 300)).unwrap();
        let (width, rgb) = pixels(&std::fs::read(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        let dark = |p: &[u8; 3]| p.iter().all(|&c| c < 100);
        let title_band = &rgb[..30 * width];
        assert!(title_band.iter().any(dark), "no title");
        let left_margin = rgb.chunks(width).filter(|row| row[..60].iter().any(dark)).count();
        assert!(
            left_margin > 20,
            "no tick values or label left of the y axis ({left_margin} rows)"
        );
        for colour in [super::PALETTE[0], super::PALETTE[1]] {
            assert!(rgb.contains(&colour), "no curve in {colour:?}");
        }
    }

    /// A 3×2 PNG, chunk by chunk: its header and end chunks carry the CRC-32 values that
    /// Python's `zlib.crc32` gives for them (`0x1216f14d`, `0xae426082`), and its data inflates
    /// to the pixels, one filter byte per row.
    #[test]
    fn a_png_is_well_formed() {
        let mut canvas = Canvas::new(3, 2);
        canvas.set(1, 0, [10, 20, 30]);
        let path = std::env::temp_dir().join(format!("symgrad-plot-{}.png", std::process::id()));
        canvas.write_png(&path).unwrap();
        let png = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut chunks = Vec::new();
        let mut at = 8;
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = png[at + 4..at + 8].to_vec();
            let data = png[at + 8..at + 8 + len].to_vec();
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            chunks.push((kind, data, crc));
            at += 12 + len;
        }
        let kinds: Vec<&[u8]> = chunks.iter().map(|c| c.0.as_slice()).collect();
        assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);
        assert_eq!(chunks[0].2, 0x1216_f14d);
        assert_eq!(chunks[2].2, 0xae42_6082);
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&chunks[1].1[..])
            .read_to_end(&mut raw)
            .unwrap();
        let white = [255, 255, 255];
        let row0 = [&[0][..], &white, &[10, 20, 30], &white].concat();
        let row1 = [&[0][..], &white, &white, &white].concat();
        assert_eq!(raw, [row0, row1].concat());
    }
}
