//! Line charts written as PNG files, with no dependency beyond the zlib encoder the data
//! readers already use: curves over a light grid, each in its own colour. Charts carry no text;
//! the program that draws one prints its legend (colour → series) beside the file name.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Distinct colours for up to eight series, in order.
pub const COLOURS: [(&str, [u8; 3]); 8] = [
    ("blue", [31, 119, 180]),
    ("orange", [255, 127, 14]),
    ("green", [44, 160, 44]),
    ("red", [214, 39, 40]),
    ("purple", [148, 103, 189]),
    ("brown", [140, 86, 75]),
    ("pink", [227, 119, 194]),
    ("grey", [127, 127, 127]),
];

/// One curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Shown in the printed legend.
    pub name: String,
    /// `(x, y)` points in order; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
}

/// An RGB raster.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![[255; 3]; width * height],
        }
    }

    /// Sets one pixel (outside the canvas: nothing).
    pub fn set(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    /// A line from `(x0, y0)` to `(x1, y1)`, `thickness` pixels wide (Bresenham).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: [u8; 3], thickness: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thickness {
                for oy in 0..thickness {
                    self.set(x + ox - thickness / 2, y + oy - thickness / 2, colour);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Fills a rectangle.
    pub fn rect(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: [u8; 3]) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.set(x, y, colour);
            }
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.pixels.chunks(self.width) {
            raw.push(0); // filter: none
            row.iter().for_each(|p| raw.extend_from_slice(p));
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

/// Draws `series` as a line chart of `width × height` pixels into a PNG file, on a logarithmic
/// y axis if `log_y`. Returns the legend: each series' name with its colour.
pub fn line_chart(path: &Path, series: &[Series], log_y: bool, (width, height): (usize, usize)) -> Result<Vec<String>> {
    let transform = |y: f64| if log_y { y.log10() } else { y };
    let finite: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(x, y)| (x, transform(y))))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(Error::Empty {
            op: "line_chart",
            what: "finite points",
        });
    }
    let bounds = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) }
    };
    let (x_lo, x_hi) = bounds(&mut finite.iter().map(|p| p.0));
    let (y_lo, y_hi) = bounds(&mut finite.iter().map(|p| p.1));
    let margin = 40i64;
    let (w, h) = (width as i64, height as i64);
    let to_pixel = |x: f64, y: f64| {
        (
            margin + ((x - x_lo) / (x_hi - x_lo) * (w - 2 * margin) as f64).round() as i64,
            h - margin - ((y - y_lo) / (y_hi - y_lo) * (h - 2 * margin) as f64).round() as i64,
        )
    };
    let mut canvas = Canvas::new(width, height);
    for i in 0..=10 {
        let (gx, gy) = (margin + i * (w - 2 * margin) / 10, margin + i * (h - 2 * margin) / 10);
        canvas.line((gx, margin), (gx, h - margin), [225; 3], 1);
        canvas.line((margin, gy), (w - margin, gy), [225; 3], 1);
    }
    canvas.line((margin, h - margin), (w - margin, h - margin), [0; 3], 2);
    canvas.line((margin, margin), (margin, h - margin), [0; 3], 2);
    let mut legend = Vec::new();
    for (s, (colour_name, colour)) in series.iter().zip(COLOURS.iter().cycle()) {
        let mut previous: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            let y = transform(y);
            if !(x.is_finite() && y.is_finite()) {
                previous = None;
                continue;
            }
            let p = to_pixel(x, y);
            if let Some(q) = previous {
                canvas.line(q, p, *colour, 2);
            }
            previous = Some(p);
        }
        canvas.rect(
            (w - margin - 20 - 14 * legend.len() as i64, 8),
            (w - margin - 8 - 14 * legend.len() as i64, 20),
            *colour,
        );
        legend.push(format!("{colour_name}: {}", s.name));
    }
    legend.push(format!(
        "x from {x_lo:.3} to {x_hi:.3}; y from {:.4} to {:.4}{}",
        if log_y { 10f64.powf(y_lo) } else { y_lo },
        if log_y { 10f64.powf(y_hi) } else { y_hi },
        if log_y { " (log scale)" } else { "" }
    ));
    canvas.write_png(path)?;
    Ok(legend)
}

/// Writes grey-scale images as a grid: `rows` of images (each a row of `image.0 × image.1`
/// pixels with values in `0..=1`, clamped), every pixel drawn as a square large enough to make
/// each image about 56 pixels tall, with a 2-pixel white gap between images.
pub fn image_grid(path: &Path, rows: &[Vec<ndarray::ArrayView1<'_, f64>>], image: (usize, usize)) -> Result<()> {
    let (h, w) = image;
    let zoom = (56 / h.max(1)).max(1);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let gap = 2;
    let (cell_w, cell_h) = (w * zoom + gap, h * zoom + gap);
    let mut canvas = Canvas::new(columns * cell_w + gap, rows.len() * cell_h + gap);
    for (r, row) in rows.iter().enumerate() {
        for (c, pixels) in row.iter().enumerate() {
            for (p, &v) in pixels.iter().enumerate().take(h * w) {
                let grey = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
                let (x0, y0) = (
                    (gap + c * cell_w + (p % w) * zoom) as i64,
                    (gap + r * cell_h + (p / w) * zoom) as i64,
                );
                canvas.rect((x0, y0), (x0 + zoom as i64, y0 + zoom as i64), [grey; 3]);
            }
        }
    }
    canvas.write_png(path)
}

/// A scatter plot of 2-D points, each a small square in its class's colour.
pub fn scatter(path: &Path, points: &[(f64, f64)], classes: &[usize], (width, height): (usize, usize)) -> Result<()> {
    let finite: Vec<&(f64, f64)> = points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    if finite.is_empty() {
        return Err(Error::Empty {
            op: "scatter",
            what: "finite points",
        });
    }
    let (x_lo, x_hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let (y_lo, y_hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let margin = 20.0;
    let mut canvas = Canvas::new(width, height);
    for (&(x, y), &class) in points.iter().zip(classes) {
        let px = margin + (x - x_lo) / (x_hi - x_lo).max(1e-12) * (width as f64 - 2.0 * margin);
        let py = height as f64 - margin - (y - y_lo) / (y_hi - y_lo).max(1e-12) * (height as f64 - 2.0 * margin);
        let colour = PALETTE[class % PALETTE.len()];
        canvas.rect((px as i64 - 1, py as i64 - 1), (px as i64 + 2, py as i64 + 2), colour);
    }
    canvas.write_png(path)
}

/// Ten distinct colours for classes: the eight line colours, then olive and cyan.
pub const PALETTE: [[u8; 3]; 10] = [
    COLOURS[0].1,
    COLOURS[1].1,
    COLOURS[2].1,
    COLOURS[3].1,
    COLOURS[4].1,
    COLOURS[5].1,
    COLOURS[6].1,
    COLOURS[7].1,
    [188, 189, 34],
    [23, 190, 207],
];

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::Canvas;

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
